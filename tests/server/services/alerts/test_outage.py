"""The dispatcher across a database outage: a notification sent just before the database went
away is recorded once it returns, and never sent a second time."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import asyncpg
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.availability import Dependency
from crontopus.server.db.models import DeliveryStatus, Notification
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona, free_port
from tests.server.services.alerts.conftest import commit_job, create_channel, eventually, report

HOLD = 2.5  # seconds the notifications table stays locked after the first delivery


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A one-second database timeout, so a held lock fails the dispatcher's write quickly."""
    return replace(settings, database_timeout=1)


Hold = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]


def lock_holder(settings: Settings) -> Hold:
    """Return a function that locks the notifications table and returns its release."""
    if settings.is_sqlite:
        path = make_url(settings.database_url).database
        assert path is not None, settings.database_url  # the tests' SQLite is always a file

        async def hold_sqlite() -> Callable[[], Awaitable[None]]:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("BEGIN IMMEDIATE")  # the write lock, as another process would

            async def release() -> None:
                connection.execute("ROLLBACK")
                connection.close()

            return release

        return hold_sqlite
    url = make_url(settings.database_url).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)

    async def hold_postgres() -> Callable[[], Awaitable[None]]:
        connection = await asyncpg.connect(dsn)
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("LOCK TABLE notifications IN EXCLUSIVE MODE")

        async def release() -> None:
            await transaction.rollback()
            await connection.close()

        return release

    return hold_postgres


@contextlib.asynccontextmanager
async def locking_receiver(hold: Hold) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A webhook peer that locks the database as the first notification arrives."""
    port = free_port()
    received: list[bytes] = []

    async def record(request: Request) -> Response:
        received.append(await request.body())
        if len(received) == 1:
            release = await hold()

            async def later() -> None:
                await asyncio.sleep(HOLD)
                await release()

            tasks.add(asyncio.create_task(later()))
        return JSONResponse({"ok": True})

    tasks: set[asyncio.Task[None]] = set()
    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # up to 10 s for the port to open
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        for pending in tasks:
            await pending
        server.should_exit = True
        await task


async def test_a_notification_sent_as_the_database_went_away_is_not_sent_twice(
    api: Api, state: AppState, alice: Persona, settings: Settings
) -> None:
    # A short lease: without the kept outcome, the row would be claimed and sent again.
    state.alerts.dispatcher.policy = replace(state.alerts.dispatcher.policy, lease=0.3)
    async with locking_receiver(lock_holder(settings)) as (url, received):
        await create_channel(api, alice, "ops", "WEBHOOK", {"url": f"{url}/hook"})
        job_id = await commit_job(state, alice, "nightly")
        await report(state, alice, job_id, RunStatus.FAILURE)

        async def went_away() -> bool:
            return not state.dependencies.is_up(Dependency.DATABASE)

        await eventually(went_away, within=10)

        async def delivered() -> bool:
            async with state.session() as session:
                rows = (await session.scalars(select(Notification))).all()
            return bool(rows) and all(r.status is DeliveryStatus.DELIVERED for r in rows)

        await eventually(delivered, within=HOLD + 10)
        await asyncio.sleep(1.5)  # a few more dispatcher polls
    assert len(received) == 1
    assert state.dependencies.is_up(Dependency.DATABASE)
