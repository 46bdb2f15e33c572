"""The in-process broadcaster: tenant isolation, bounded queues, a publisher that never waits."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from crontopus.server.events.broadcaster import (
    Event,
    EventTooLarge,
    InProcessBroadcaster,
    InvalidEvent,
    SubscriberTooSlow,
)
from crontopus.server.events.codec import MAX_PAYLOAD_BYTES, decode_event, encode_event

ALICE = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")


async def started(stream: AsyncIterator[Event]) -> asyncio.Task[list[Event]]:
    """Consume `stream` in a task that has registered its subscription before returning."""

    async def collect() -> list[Event]:
        return [event async for event in stream]

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)  # the generator registers on its first step
    return task


async def test_a_subscriber_receives_its_tenants_events_of_its_topic_in_order() -> None:
    broadcaster = InProcessBroadcaster()
    stream = broadcaster.subscribe(ALICE, "jobs")
    task = await started(stream)
    for number in range(3):
        await broadcaster.publish(Event(ALICE, "jobs", {"n": number}))
    await broadcaster.stop()
    assert [event.data["n"] for event in await task] == [0, 1, 2]


async def test_tenants_never_see_each_others_events() -> None:
    broadcaster = InProcessBroadcaster()
    alice = await started(broadcaster.subscribe(ALICE, "jobs"))
    bob = await started(broadcaster.subscribe(BOB, "jobs"))
    await broadcaster.publish(Event(ALICE, "jobs", {"who": "alice"}))
    await broadcaster.publish(Event(BOB, "jobs", {"who": "bob"}))
    await broadcaster.publish(Event(ALICE, "runs", {"who": "alice-run"}))
    await broadcaster.stop()
    assert [e.data["who"] for e in await alice] == ["alice"]
    assert [e.data["who"] for e in await bob] == ["bob"]


async def test_a_slow_subscriber_is_cut_off_with_a_clear_error_and_others_keep_everything() -> None:
    broadcaster = InProcessBroadcaster(capacity=10)
    slow = broadcaster.subscribe(ALICE, "runs")
    first = asyncio.ensure_future(anext(slow))
    await asyncio.sleep(0)
    fast = await started(broadcaster.subscribe(ALICE, "runs"))
    await broadcaster.publish(Event(ALICE, "runs", {"n": -1}))
    assert (await first).data["n"] == -1
    # The slow one does not read while 50 events arrive; its queue holds 10.
    for number in range(50):
        await broadcaster.publish(Event(ALICE, "runs", {"n": number}))
        await asyncio.sleep(0)
    with pytest.raises(SubscriberTooSlow, match=r"more than 10 runs events.*resubscribe"):
        await anext(slow)
    await broadcaster.stop()
    assert [e.data["n"] for e in await fast] == list(range(-1, 50))
    assert broadcaster.subscriber_count() == 0


async def test_a_subscriber_that_falls_behind_in_time_is_cut_off_too() -> None:
    broadcaster = InProcessBroadcaster(capacity=1000, max_lag=0.2)
    stream = broadcaster.subscribe(ALICE, "runs")
    reader = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await broadcaster.publish(Event(ALICE, "runs", {"n": 0}))
    assert (await reader).data["n"] == 0
    # A trickle it never reads: two events, far below the capacity, but 0.3 s old.
    await broadcaster.publish(Event(ALICE, "runs", {"n": 1}))
    await asyncio.sleep(0.3)
    await broadcaster.publish(Event(ALICE, "runs", {"n": 2}))
    with pytest.raises(SubscriberTooSlow, match=r"runs events waited more than 0.2 s"):
        await anext(stream)


async def test_a_subscriber_that_keeps_up_is_never_cut_off_for_lag() -> None:
    broadcaster = InProcessBroadcaster(max_lag=0.05)
    task = await started(broadcaster.subscribe(ALICE, "runs"))
    for number in range(20):
        await broadcaster.publish(Event(ALICE, "runs", {"n": number}))
        await asyncio.sleep(0.01)
    await broadcaster.stop()
    assert len(await task) == 20


async def test_the_publisher_never_waits_for_a_subscriber_that_does_not_read() -> None:
    broadcaster = InProcessBroadcaster(capacity=100)
    stuck = [broadcaster.subscribe(ALICE, "runs") for _ in range(50)]
    readers = [asyncio.ensure_future(anext(s)) for s in stuck]
    await asyncio.sleep(0)
    started_at = time.perf_counter()
    for number in range(10_000):
        await broadcaster.publish(Event(ALICE, "runs", {"n": number}))
    elapsed = time.perf_counter() - started_at
    # 10,000 publishes to 50 stuck subscribers: all cut off, none waited on.
    assert elapsed < 5
    for reader in readers:
        with pytest.raises(SubscriberTooSlow):
            await reader
    assert broadcaster.subscriber_count() == 0


async def test_a_subscriber_that_stops_reading_is_unregistered() -> None:
    broadcaster = InProcessBroadcaster()
    stream = broadcaster.subscribe(ALICE, "jobs")
    reader = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    assert broadcaster.subscriber_count() == 1
    await broadcaster.publish(Event(ALICE, "jobs"))
    await reader
    await stream.aclose()  # type: ignore[attr-defined]
    assert broadcaster.subscriber_count() == 0


async def test_stopping_the_broadcaster_ends_every_stream_cleanly() -> None:
    broadcaster = InProcessBroadcaster()
    tasks = [await started(broadcaster.subscribe(ALICE, "jobs")) for _ in range(3)]
    await broadcaster.stop()
    assert [await task for task in tasks] == [[], [], []]


async def test_an_event_too_large_for_notify_is_refused_on_the_in_process_bus_too() -> None:
    broadcaster = InProcessBroadcaster()
    with pytest.raises(EventTooLarge, match=r"'runs'.*exceeds the 7999-byte NOTIFY limit"):
        await broadcaster.publish(Event(ALICE, "runs", {"output": "x" * MAX_PAYLOAD_BYTES}))


async def test_an_event_whose_data_is_not_json_is_refused_naming_the_topic() -> None:
    broadcaster = InProcessBroadcaster()
    with pytest.raises(InvalidEvent, match="'jobs': data is not JSON-serialisable"):
        await broadcaster.publish(Event(ALICE, "jobs", {"when": object()}))


def test_uuids_and_times_survive_the_wire_form() -> None:
    from datetime import UTC, datetime

    job = uuid.uuid4()
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    data = {"kind": "created", "job_id": job, "at": moment, "path": "default/a.yaml"}
    tenant, topic, decoded = decode_event(encode_event(Event(ALICE, "jobs", data), "p.1"))
    assert (tenant, topic, decoded) == (ALICE, "jobs", data)


def test_a_foreign_payload_is_recognised_as_not_an_event() -> None:
    with pytest.raises(InvalidEvent, match="not a Crontopus event payload"):
        decode_event("hello")
    with pytest.raises(InvalidEvent):
        decode_event('{"t": "not-a-uuid", "o": "jobs", "d": {}}')


async def test_a_topic_is_listened_to_only_while_someone_of_that_tenant_subscribes() -> None:
    broadcaster = InProcessBroadcaster()
    assert not broadcaster.listened(ALICE, "runs")
    task = await started(broadcaster.subscribe(ALICE, "runs"))
    assert broadcaster.listened(ALICE, "runs")
    assert not broadcaster.listened(BOB, "runs")
    assert not broadcaster.listened(ALICE, "jobs")
    await broadcaster.stop()
    await task
    assert not broadcaster.listened(ALICE, "runs")
