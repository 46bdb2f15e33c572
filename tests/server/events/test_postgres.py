"""The PostgreSQL bus on a real PostgreSQL: every process delivers every event exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from crontopus.server.events.broadcaster import Event, EventBusInterrupted, EventTooLarge
from crontopus.server.events.errors import EventBusUnavailable
from crontopus.server.events.postgres import CHANNEL, PostgresBroadcaster, dsn_of
from tests.server.conftest import free_port

ALICE = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")


@pytest.fixture
def dsn(postgres_template: str) -> str:
    return dsn_of(postgres_template)


Factory = Callable[[], Awaitable[PostgresBroadcaster]]


@pytest.fixture
async def bus(dsn: str) -> AsyncIterator[Factory]:
    """Start PostgreSQL broadcasters, as separate server processes would; stop them after."""
    started: list[PostgresBroadcaster] = []

    async def make() -> PostgresBroadcaster:
        broadcaster = PostgresBroadcaster(dsn, reconnect_initial=0.3, ping_interval=1.0)
        await broadcaster.start()
        started.append(broadcaster)
        return broadcaster

    yield make
    for broadcaster in started:
        await broadcaster.stop()


class Collector:
    """A subscriber that records what it receives, and how its stream ended."""

    def __init__(self, stream: AsyncIterator[Event]) -> None:
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self._stream = stream
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self._stream:
                self.events.append(event)
        except Exception as error:
            self.error = error

    async def wait_for(self, count: int, within: float = 5.0) -> list[Event]:
        await eventually(lambda: len(self.events) >= count, within)
        return self.events


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `condition` holds, failing the test after `within` seconds."""
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition still false after {within} s")


async def collect(broadcaster: PostgresBroadcaster, tenant: uuid.UUID, topic: str) -> Collector:
    collector = Collector(broadcaster.subscribe(tenant, topic))
    await asyncio.sleep(0)
    return collector


async def test_an_event_published_in_one_process_reaches_both_processes_exactly_once(
    bus: Factory,
) -> None:
    first, second = await bus(), await bus()
    here, there = await collect(first, ALICE, "jobs"), await collect(second, ALICE, "jobs")
    job = uuid.uuid4()
    await first.publish(Event(ALICE, "jobs", {"kind": "created", "job_id": job}))
    for collector in (here, there):
        [event] = await collector.wait_for(1)
        assert event == Event(ALICE, "jobs", {"kind": "created", "job_id": job})
    await asyncio.sleep(0.3)
    assert (len(here.events), len(there.events)) == (1, 1)


async def test_a_burst_with_repeated_events_arrives_whole_and_in_order(bus: Factory) -> None:
    first, second = await bus(), await bus()
    there = await collect(second, ALICE, "runs")
    # Identical payloads in one NOTIFY batch would be folded by PostgreSQL without the
    # per-publication sequence number.
    for number in range(300):
        await first.publish(Event(ALICE, "runs", {"n": number // 2}))
    events = await there.wait_for(300)
    assert [event.data["n"] for event in events] == [n // 2 for n in range(300)]


async def test_tenants_and_topics_stay_apart_across_processes(bus: Factory) -> None:
    first, second = await bus(), await bus()
    bob = await collect(second, BOB, "jobs")
    alice_runs = await collect(second, ALICE, "runs")
    await first.publish(Event(ALICE, "jobs", {"who": "alice"}))
    await first.publish(Event(BOB, "jobs", {"who": "bob"}))
    assert [e.data["who"] for e in await bob.wait_for(1)] == ["bob"]
    await asyncio.sleep(0.2)
    assert alice_runs.events == []
    assert [e.data["who"] for e in bob.events] == ["bob"]


async def test_the_listener_reconnects_after_its_backend_is_terminated(
    bus: Factory, dsn: str
) -> None:
    publisher, listener = await bus(), await bus()
    before = await collect(listener, ALICE, "jobs")
    await publisher.publish(Event(ALICE, "jobs", {"n": 1}))
    await before.wait_for(1)
    pid = listener.backend_pid()
    assert pid is not None
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.wait_for(before.task, 5)
    # The open stream is told that events may have been missed, not left silently stale.
    assert isinstance(before.error, EventBusInterrupted)
    assert "resubscribe and reload" in str(before.error)
    await eventually(lambda: listener.connected, 10)
    assert listener.reconnects == 1
    assert listener.backend_pid() not in (None, pid)
    after = await collect(listener, ALICE, "jobs")
    await publisher.publish(Event(ALICE, "jobs", {"n": 2}))
    assert [e.data["n"] for e in await after.wait_for(1)] == [2]


async def test_subscribing_while_the_listener_is_down_fails_with_a_clear_error(
    dsn: str,
) -> None:
    broadcaster = PostgresBroadcaster(dsn, reconnect_initial=5.0)
    await broadcaster.start()
    try:
        pid = broadcaster.backend_pid()
        admin = await asyncpg.connect(dsn)
        try:
            await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await eventually(lambda: not broadcaster.connected)
        with pytest.raises(EventBusInterrupted, match="reconnecting to PostgreSQL"):
            await anext(broadcaster.subscribe(ALICE, "jobs"))
    finally:
        await broadcaster.stop()


async def test_events_published_while_disconnected_are_sent_after_the_reconnect(
    bus: Factory, dsn: str
) -> None:
    publisher, listener = await bus(), await bus()
    watcher = await collect(listener, ALICE, "jobs")
    admin = await asyncpg.connect(dsn)
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", publisher.backend_pid())
    finally:
        await admin.close()
    await eventually(lambda: not publisher.connected)
    await publisher.publish(Event(ALICE, "jobs", {"n": "queued"}))
    assert [e.data["n"] for e in await watcher.wait_for(1, within=10)] == ["queued"]


async def test_a_foreign_notification_on_the_channel_is_ignored(bus: Factory, dsn: str) -> None:
    listener = await bus()
    watcher = await collect(listener, ALICE, "jobs")
    other = await asyncpg.connect(dsn)
    try:
        await other.execute(f"NOTIFY {CHANNEL}, 'not json'")
    finally:
        await other.close()
    await listener.publish(Event(ALICE, "jobs", {"n": 1}))
    assert [e.data["n"] for e in await watcher.wait_for(1)] == [1]
    assert watcher.error is None


async def test_an_event_over_the_notify_limit_is_refused_before_sending(bus: Factory) -> None:
    broadcaster = await bus()
    with pytest.raises(EventTooLarge, match="7999-byte NOTIFY limit"):
        await broadcaster.publish(Event(ALICE, "runs", {"output": "x" * 8000}))


async def test_a_server_whose_database_is_unreachable_fails_to_start_naming_the_setting() -> None:
    broadcaster = PostgresBroadcaster(f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    with pytest.raises(EventBusUnavailable, match="CRONTOPUS_DATABASE_URL"):
        await broadcaster.start()


async def test_every_topic_counts_as_listened_since_other_processes_may_subscribe(
    bus: Factory,
) -> None:
    broadcaster = await bus()
    assert broadcaster.listened(ALICE, "runs")
