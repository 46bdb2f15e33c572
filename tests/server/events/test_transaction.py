"""Publishing inside a writing transaction: subscribers hear of a commit, never of a rollback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crontopus.server.db.engine import create_engine
from crontopus.server.events.broadcaster import Broadcaster, Event, InProcessBroadcaster
from crontopus.server.events.factory import create_broadcaster
from crontopus.server.events.postgres import PostgresBroadcaster
from crontopus.server.events.transaction import publish_all_in, publish_in
from crontopus.server.settings import Settings

TENANT = uuid.UUID("00000000-0000-4000-8000-00000000a11c")


@pytest.fixture
async def broadcaster(settings: Settings) -> AsyncIterator[Broadcaster]:
    """The bus the server would pick for this database: in-process or PostgreSQL."""
    broadcaster = create_broadcaster(settings)
    await broadcaster.start()
    yield broadcaster
    await broadcaster.stop()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


async def received(broadcaster: Broadcaster, within: float = 0.5) -> list[Event]:
    """What a subscriber of the test topic gets within `within` seconds."""
    events: list[Event] = []

    async def read() -> None:
        async for event in broadcaster.subscribe(TENANT, "runs"):
            events.append(event)

    task = asyncio.create_task(read())
    await asyncio.sleep(within)
    task.cancel()
    return events


async def test_the_bus_matches_the_database(settings: Settings, broadcaster: Broadcaster) -> None:
    expected = InProcessBroadcaster if settings.is_sqlite else PostgresBroadcaster
    assert isinstance(broadcaster, expected)


async def test_an_event_published_in_a_session_arrives_only_after_the_commit(
    broadcaster: Broadcaster, engine: AsyncEngine
) -> None:
    events: list[Event] = []

    async def read() -> None:
        async for event in broadcaster.subscribe(TENANT, "runs"):
            events.append(event)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(text("SELECT 1"))
        await publish_in(broadcaster, session, Event(TENANT, "runs", {"id": "r1"}))
        await publish_in(broadcaster, session, Event(TENANT, "runs", {"id": "r2"}))
        await asyncio.sleep(0.3)
        assert events == []  # not before the commit
    for _ in range(100):
        if len(events) == 2:
            break
        await asyncio.sleep(0.01)
    reader.cancel()
    assert [e.data["id"] for e in events] == ["r1", "r2"]


async def test_a_rolled_back_transaction_publishes_nothing(
    broadcaster: Broadcaster, engine: AsyncEngine
) -> None:
    listening = asyncio.create_task(received(broadcaster))
    await asyncio.sleep(0.05)
    async with AsyncSession(engine) as session:
        async with session.begin():
            await publish_in(broadcaster, session, Event(TENANT, "runs", {"id": "lost"}))
            await session.rollback()
        # The session's next transaction starts with nothing held over from the last.
        async with session.begin():
            await publish_in(broadcaster, session, Event(TENANT, "runs", {"id": "kept"}))
    assert [e.data["id"] for e in await listening] == ["kept"]


async def test_publishing_on_a_connection_follows_its_transaction(
    broadcaster: Broadcaster, engine: AsyncEngine
) -> None:
    listening = asyncio.create_task(received(broadcaster))
    await asyncio.sleep(0.05)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await publish_in(broadcaster, connection, Event(TENANT, "runs", {"id": "lost"}))
        await transaction.rollback()
        async with connection.begin():
            await publish_in(broadcaster, connection, Event(TENANT, "runs", {"id": "kept"}))
    assert [e.data["id"] for e in await listening] == ["kept"]


async def test_a_batch_of_events_from_one_transaction_arrives_whole_and_in_order(
    broadcaster: Broadcaster, engine: AsyncEngine
) -> None:
    listening = asyncio.create_task(received(broadcaster, within=1.0))
    await asyncio.sleep(0.05)
    # A group commit may hold the same run twice (start and finish): both must arrive.
    batch = [Event(TENANT, "runs", {"id": f"r{n // 2}"}) for n in range(500)]
    async with AsyncSession(engine) as session, session.begin():
        await publish_all_in(broadcaster, session, batch)
    assert [e.data["id"] for e in await listening] == [e.data["id"] for e in batch]
