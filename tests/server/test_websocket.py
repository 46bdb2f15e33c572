"""GraphQL over WebSocket on a real server, with both subprotocols and both ways to authenticate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.server.conftest import PASSWORD, REGISTER, LiveServer

ME = "{ me { user { username } role } }"


async def _register(server: LiveServer) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {"username": "alice", "email": "a@example.com", "password": PASSWORD},
            },
        )
    token: str = response.json()["data"]["register"]["accessToken"]
    return token


async def _transport_ws(
    server: LiveServer, init: dict[str, Any], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    messages = []
    async with connect(
        server.ws_url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await ws.recv())
        messages.append(ack)
        if ack["type"] != "connection_ack":
            return messages
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ME}}))
        while True:
            message = json.loads(await ws.recv())
            messages.append(message)
            if message["type"] in {"complete", "error"}:
                return messages


async def test_a_query_runs_over_graphql_transport_ws_with_the_token_in_connection_init(
    live_server: LiveServer,
) -> None:
    token = await _register(live_server)
    messages = await _transport_ws(live_server, {"authorization": f"Bearer {token}"})
    assert messages[0]["type"] == "connection_ack"
    assert messages[1]["payload"]["data"] == {
        "me": {"user": {"username": "alice"}, "role": "OWNER"}
    }


async def test_the_authorization_header_also_authenticates_a_websocket(
    live_server: LiveServer,
) -> None:
    token = await _register(live_server)
    messages = await _transport_ws(live_server, {}, {"Authorization": f"Bearer {token}"})
    assert messages[1]["payload"]["data"]["me"]["user"]["username"] == "alice"


async def test_a_subscription_without_authentication_is_refused(live_server: LiveServer) -> None:
    async with connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription { heartbeat }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(await ws.recv())
        assert message["type"] in {"error", "next"}
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert "authentication required" in errors[0]["message"]


async def test_a_bad_token_in_connection_init_is_rejected(live_server: LiveServer) -> None:
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed) as closed:
        await _transport_ws(live_server, {"authorization": "Bearer ctp_nonsense"})
    assert closed.value.rcvd is not None
    # 4401: the credential is refused (log in again), not "forbidden".
    assert closed.value.rcvd.code == 4401
    assert "checksum" in closed.value.rcvd.reason or "token" in closed.value.rcvd.reason


async def test_the_legacy_graphql_ws_protocol_is_accepted(live_server: LiveServer) -> None:
    token = await _register(live_server)
    async with connect(live_server.ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "graphql-ws"
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscription = "subscription { heartbeat(intervalSeconds: 1) }"
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": subscription}}))
        beats = [json.loads(await ws.recv()) for _ in range(2)]
        assert [b["type"] for b in beats] == ["data", "data"]
        assert beats[0]["payload"]["data"]["heartbeat"] < beats[1]["payload"]["data"]["heartbeat"]


async def test_websockets_are_not_compressed_unless_compression_is_turned_on(
    live_server: LiveServer,
) -> None:
    # The client offers permessage-deflate, as browsers do; the server declines by default.
    async with connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        assert ws.protocol.extensions == []
