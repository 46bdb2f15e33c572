"""WebSocket limits on a real server, over both GraphQL subprotocols."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.server.conftest import LiveServer, sqlite_server

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
HEARTBEAT = "subscription { heartbeat(intervalSeconds: 60) }"


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "CRONTOPUS_MAX_WEBSOCKET_MESSAGE": str(16 * 1024),
        "CRONTOPUS_WEBSOCKET_INIT_TIMEOUT": "1",
        "CRONTOPUS_MAX_SUBSCRIPTIONS_PER_SOCKET": "2",
        "CRONTOPUS_MAX_SOCKETS_PER_PRINCIPAL": "2",
    }
    with sqlite_server(sqlite_template, tmp_path_factory.mktemp("sockets"), env) as live:
        yield live


async def _closed(ws: ClientConnection) -> ConnectionClosed:
    """Wait (at most 10 s) for the server to close `ws`; return how it did."""
    async with asyncio.timeout(10):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    """The next message other than a keep-alive, within 10 s."""
    async with asyncio.timeout(10):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] != "ka":
                return message


async def _init(ws: ClientConnection, token: str) -> dict[str, Any]:
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    return await _recv(ws)


def _subscribe(protocol: str, operation_id: str, query: str) -> str:
    kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
    return json.dumps({"id": operation_id, "type": kind, "payload": {"query": query}})


def _stop(protocol: str, operation_id: str) -> str:
    kind = "complete" if protocol == "graphql-transport-ws" else "stop"
    return json.dumps({"id": operation_id, "type": kind})


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_over_the_size_limit_closes_the_socket(
    server: LiveServer, protocol: str
) -> None:
    async with connect(server.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"x": "y" * 20_000}}))
        closed = await _closed(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1009  # message too big


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_without_connection_init_is_closed_after_the_timeout(
    server: LiveServer, protocol: str
) -> None:
    started = time.monotonic()
    async with connect(server.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        closed = await _closed(ws)
    assert 0.9 < time.monotonic() - started < 5
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4408, "Connection initialisation timeout")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_runs_a_bounded_number_of_operations_at_once(
    server: LiveServer, protocol: str
) -> None:
    token = await server.register(f"subs-{protocol}")
    async with connect(server.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        assert (await _init(ws, token))["type"] == "connection_ack"
        for operation_id in ("1", "2", "3"):
            await ws.send(_subscribe(protocol, operation_id, HEARTBEAT))
        refusal = await _recv(ws)
        while refusal["type"] in {"next", "data"}:
            refusal = await _recv(ws)
        assert (refusal["type"], refusal["id"]) == ("error", "3")
        payload = refusal["payload"]
        error = payload[0] if isinstance(payload, list) else payload
        assert error["extensions"] == {"code": "TOO_MANY_OPERATIONS", "limit": 2}
        assert "CRONTOPUS_MAX_SUBSCRIPTIONS_PER_SOCKET" in error["message"]
        # Completing one makes room for another, on the same socket.
        await ws.send(_stop(protocol, "1"))
        await asyncio.sleep(0.2)
        await ws.send(_subscribe(protocol, "4", "subscription { heartbeat(intervalSeconds: 1) }"))
        while True:
            message = await _recv(ws)
            assert message["type"] != "error", message
            if message.get("id") == "4" and message["type"] in {"next", "data"}:
                break


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_principal_keeps_a_bounded_number_of_sockets_open(
    server: LiveServer, protocol: str
) -> None:
    alice = await server.register(f"alice-{protocol}")
    bob = await server.register(f"bob-{protocol}")
    first = await connect(server.ws_url, subprotocols=[protocol])  # type: ignore[list-item]
    second = await connect(server.ws_url, subprotocols=[protocol])  # type: ignore[list-item]
    try:
        assert (await _init(first, alice))["type"] == "connection_ack"
        assert (await _init(second, alice))["type"] == "connection_ack"
        async with connect(server.ws_url, subprotocols=[protocol]) as third:  # type: ignore[list-item]
            await third.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {alice}"}}
                )
            )
            closed = await _closed(third)
        assert closed.rcvd is not None
        assert closed.rcvd.code == 1008
        assert closed.rcvd.reason == "too many sockets: at most 2 per user, token or endpoint"
        # Another user is not affected.
        async with connect(server.ws_url, subprotocols=[protocol]) as other:  # type: ignore[list-item]
            assert (await _init(other, bob))["type"] == "connection_ack"
        # A closed socket no longer counts.
        await first.close()
        deadline = time.monotonic() + 10
        while True:
            async with connect(server.ws_url, subprotocols=[protocol]) as again:  # type: ignore[list-item]
                try:
                    if (await _init(again, alice))["type"] == "connection_ack":
                        break
                except ConnectionClosed:
                    pass
            assert time.monotonic() < deadline, "the closed socket was never released"
            await asyncio.sleep(0.1)
    finally:
        await first.close()
        await second.close()
