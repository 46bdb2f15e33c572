"""Two `crontopus-server serve` processes behind one PostgreSQL: each delivers every event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from crontopus.server.events.postgres import APPLICATION_NAME, dsn_of
from tests.server.conftest import (
    PASSWORD,
    REGISTER,
    LiveServer,
    _truncate,
    start_server,
    stop_server,
)

CREATE_JOB = """
mutation { createJob(input: {name: "backup", schedule: "0 2 * * *", command: "/bin/backup"}) {
  __typename ... on Job { id } } }
"""
JOB_EVENTS = "subscription { jobEvents { kind jobId path } }"


@pytest.fixture
def servers(postgres_template: str, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Servers A and B sharing the database and the data directory (the Git store)."""
    asyncio.run(_truncate(postgres_template))
    env = {
        "CRONTOPUS_DATA_DIR": str(tmp_path / "data"),
        "CRONTOPUS_DATABASE_URL": postgres_template,
        "CRONTOPUS_EVENT_BUS": "postgres",
    }
    first = start_server(env)
    try:
        second = start_server(env)
    except BaseException:
        stop_server(first)
        raise
    yield first, second
    stop_server(second)
    stop_server(first)


def graphql(server: LiveServer, query: str, variables: dict[str, Any], token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{server.url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def register(server: LiveServer, username: str) -> str:
    data = graphql(
        server,
        REGISTER,
        {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    token: str = data["register"]["accessToken"]
    return token


class Watcher:
    """A WebSocket client subscribed to `jobEvents` on one server."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def next_event(self, within: float = 10) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), within))
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["jobEvents"]
        return event

    async def assert_quiet(self, seconds: float = 0.7) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.ws.recv(), seconds)


async def watch(server: LiveServer, token: str) -> AsyncIterator[Watcher]:
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": JOB_EVENTS}}
        await ws.send(json.dumps(subscribe))
        yield Watcher(ws)


async def test_a_job_created_on_one_server_reaches_subscribers_of_both_exactly_once(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    first, second = servers
    alice = await asyncio.to_thread(register, first, "alice")
    bob = await asyncio.to_thread(register, second, "bob")
    on_second = watch(second, alice)
    on_first = watch(first, alice)
    bobs = watch(second, bob)
    there, here, elsewhere = await anext(on_second), await anext(on_first), await anext(bobs)
    try:
        await second.wait_for_subscribers(2)
        await first.wait_for_subscribers(1)
        created = await asyncio.to_thread(graphql, first, CREATE_JOB, {}, alice)
        job_id = created["createJob"]["id"]
        for watcher in (there, here):
            event = await watcher.next_event()
            assert event == {"kind": "CREATED", "jobId": job_id, "path": "default/backup.yaml"}
        for watcher in (there, here, elsewhere):
            await watcher.assert_quiet()
    finally:
        for stream in (on_second, on_first, bobs):
            await stream.aclose()  # type: ignore[attr-defined]


async def test_a_dropped_listener_tells_subscribers_to_reload_and_live_events_resume(
    servers: tuple[LiveServer, LiveServer], postgres_template: str
) -> None:
    first, second = servers
    alice = await asyncio.to_thread(register, first, "alice")
    stream = watch(second, alice)
    watcher = await anext(stream)
    try:
        await second.wait_for_subscribers()
        admin = await asyncpg.connect(dsn_of(postgres_template))
        try:
            terminated = await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = $1 AND datname = current_database()",
                APPLICATION_NAME,
            )
        finally:
            await admin.close()
        assert len(terminated) == 2  # one listener per server process
        message = json.loads(await asyncio.wait_for(watcher.ws.recv(), 10))
        assert message["payload"]["data"] is None
        assert "resubscribe and reload" in message["payload"]["errors"][0]["message"]
        assert json.loads(await watcher.ws.recv()) == {"id": "1", "type": "complete"}

        # The socket stays open: the client resubscribes on it once the server reconnected.
        await asyncio.sleep(2)
        again = {"id": "2", "type": "subscribe", "payload": {"query": JOB_EVENTS}}
        await watcher.ws.send(json.dumps(again))
        await second.wait_for_subscribers()
        created = await asyncio.to_thread(graphql, first, CREATE_JOB, {}, alice)
        event = await watcher.next_event()
        assert event["jobId"] == created["createJob"]["id"]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
