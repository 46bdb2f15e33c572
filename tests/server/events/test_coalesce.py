"""Coalescing: a burst becomes one delivery, a quiet stream waits at most one window."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from crontopus.server.events.broadcaster import Event, InProcessBroadcaster, SubscriberTooSlow
from crontopus.server.events.coalesce import coalesce

TENANT = uuid.UUID("00000000-0000-4000-8000-00000000a11c")


async def numbers(values: list[int], pause: float = 0.0) -> AsyncIterator[int]:
    for value in values:
        if pause:
            await asyncio.sleep(pause)
        yield value


async def test_a_burst_arrives_as_one_batch() -> None:
    batches = [batch async for batch in coalesce(numbers(list(range(20))), 0.05, 100)]
    assert batches == [list(range(20))]


async def test_a_batch_never_exceeds_max_batch() -> None:
    batches = [batch async for batch in coalesce(numbers(list(range(25))), 0.05, 10)]
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert [n for batch in batches for n in batch] == list(range(25))


async def test_events_further_apart_than_the_window_arrive_separately() -> None:
    batches = [batch async for batch in coalesce(numbers([1, 2, 3], pause=0.06), 0.02, 100)]
    assert batches == [[1], [2], [3]]


async def test_a_lone_event_waits_at_most_about_one_window() -> None:
    broadcaster = InProcessBroadcaster()
    batches = coalesce(broadcaster.subscribe(TENANT, "runs"), 0.05, 100)
    reader = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.01)
    sent = time.perf_counter()
    await broadcaster.publish(Event(TENANT, "runs", {"n": 1}))
    batch = await reader
    waited = time.perf_counter() - sent
    assert [e.data["n"] for e in batch] == [1]
    assert 0.04 <= waited < 0.5
    await batches.aclose()  # type: ignore[attr-defined]
    assert broadcaster.subscriber_count() == 0


async def test_a_zero_window_still_gathers_what_is_already_waiting() -> None:
    batches = [batch async for batch in coalesce(numbers([1, 2, 3]), 0, 100)]
    assert [n for batch in batches for n in batch] == [1, 2, 3]


async def test_events_before_a_cut_off_are_delivered_then_the_error_is_raised() -> None:
    broadcaster = InProcessBroadcaster(capacity=5)
    batches = coalesce(broadcaster.subscribe(TENANT, "runs"), 0.2, 100)
    reader = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.01)
    await broadcaster.publish(Event(TENANT, "runs", {"n": 0}))
    await asyncio.sleep(0.01)  # the coalescer took event 0 and waits for the window to end
    for number in range(1, 30):
        await broadcaster.publish(Event(TENANT, "runs", {"n": number}))
    first = await reader
    assert first[0].data["n"] == 0
    with pytest.raises(SubscriberTooSlow):
        async for _ in batches:
            pass


async def test_closing_the_batches_closes_the_subscription() -> None:
    broadcaster = InProcessBroadcaster()
    batches = coalesce(broadcaster.subscribe(TENANT, "runs"), 0.05, 100)
    reader = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.01)
    assert broadcaster.subscriber_count() == 1
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await batches.aclose()  # type: ignore[attr-defined]
    assert broadcaster.subscriber_count() == 0


async def test_a_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        await anext(coalesce(numbers([1]), -1, 10))


async def test_a_consumer_that_stops_reading_is_cut_off_by_the_sources_bounded_queue() -> None:
    broadcaster = InProcessBroadcaster(capacity=10)
    batches = coalesce(broadcaster.subscribe(TENANT, "runs"), 0.01, 5)
    reader = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.01)
    await broadcaster.publish(Event(TENANT, "runs", {"n": 0}))
    assert len(await reader) == 1
    for number in range(1, 1000):  # nobody reads the batches meanwhile
        await broadcaster.publish(Event(TENANT, "runs", {"n": number}))
        await asyncio.sleep(0)
    held: list[Event] = []

    async def drain() -> None:
        async for batch in batches:
            held.extend(batch)

    with pytest.raises(SubscriberTooSlow):
        await drain()
    assert len(held) <= 5  # one full batch waited; the rest was never buffered
