"""A WebSocket's credential is checked again before every operation and while it runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import Membership, Role
from crontopus.server.security.jwt import decode_access_token, issue_access_token
from crontopus.server.settings import Settings
from tests.server.conftest import ADD_MEMBER, LOGIN, PASSWORD, REGISTER, Served, serve_in_process

CREATE_TOKEN = """
mutation { createApiToken(name: "socket", scopes: [READ, WRITE]) {
  ... on CreatedApiToken { plaintext token { id } } } }
"""
REVOKE_TOKEN = "mutation R($id: UUID!) { revokeApiToken(id: $id) { __typename } }"
REMOVE_MEMBER = "mutation R($id: UUID!) { removeMember(userId: $id) { __typename } }"
JOBS = "{ jobs { nodes { id } } }"
HEARTBEAT = "subscription { heartbeat(intervalSeconds: 1) }"
#: A lapse shows within the cache lifetime (1 s here) plus one re-check interval (1 s).
NOTICE = 6.0


async def _graphql(
    server: Served, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


async def _register(server: Served, username: str) -> dict[str, Any]:
    data = await _graphql(
        server,
        REGISTER,
        {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    result: dict[str, Any] = data["register"]
    return result


async def _api_token(server: Served, session: str) -> tuple[str, str]:
    created = (await _graphql(server, CREATE_TOKEN, token=session))["createApiToken"]
    return created["plaintext"], created["token"]["id"]


class Socket:
    """A real WebSocket client speaking one of the two protocols."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.legacy = protocol == "graphql-ws"

    async def start(self, op_id: str, query: str) -> None:
        kind = "start" if self.legacy else "subscribe"
        await self.ws.send(json.dumps({"id": op_id, "type": kind, "payload": {"query": query}}))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), NOTICE))
        return message

    async def until_closed(self) -> tuple[list[dict[str, Any]], int]:
        """Collect messages until the server closes the socket; return them and the code."""
        messages = []
        code = None
        try:
            async with asyncio.timeout(NOTICE):
                while True:
                    messages.append(json.loads(await self.ws.recv()))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
        assert code is not None, f"the socket stayed open; got {messages}"
        return messages, code


@pytest.fixture(params=["graphql-transport-ws", "graphql-ws"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _open(server: Served, protocol: str, token: str) -> AsyncIterator[Socket]:
    async with connect(server.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        socket = Socket(ws, protocol)
        assert (await socket.receive())["type"] == "connection_ack"
        yield socket


def _errors(message: dict[str, Any]) -> list[dict[str, Any]]:
    payload = message["payload"]
    if isinstance(payload, list):
        return payload
    return payload.get("errors") or [payload]


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Served]:
    """A server whose identity cache keeps entries for one second."""
    async with serve_in_process(replace(settings, auth_cache_seconds=1.0)) as served:
        yield served


async def test_a_revoked_api_token_ends_the_running_subscription_and_closes_the_socket(
    server: Served, protocol: str
) -> None:
    alice = await _register(server, "alice")
    token, token_id = await _api_token(server, alice["accessToken"])
    async for socket in _open(server, protocol, token):
        await socket.start("beat", HEARTBEAT)
        assert (await socket.receive())["type"] in {"next", "data"}
        revoked = await _graphql(server, REVOKE_TOKEN, {"id": token_id}, alice["accessToken"])
        assert revoked["revokeApiToken"]["__typename"] == "ApiToken"
        messages, code = await socket.until_closed()
        assert code == 4401
        ended = [m for m in messages if m["type"] == "error"]
        assert ended, messages
        assert ended[0]["id"] == "beat"
        error = _errors(ended[0])[0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "revoked" in error["message"]


async def test_a_query_after_the_token_was_revoked_gets_no_data(
    server: Served, protocol: str
) -> None:
    alice = await _register(server, "alice")
    token, token_id = await _api_token(server, alice["accessToken"])
    # The legacy protocol runs subscriptions only.
    operation = HEARTBEAT if protocol == "graphql-ws" else JOBS
    async for socket in _open(server, protocol, token):
        await socket.start("before", operation)
        assert (await socket.receive())["payload"]["data"]
        await _graphql(server, REVOKE_TOKEN, {"id": token_id}, alice["accessToken"])
        await socket.start("after", operation)
        messages, code = await socket.until_closed()
        assert code == 4401
        answered = [m for m in messages if m.get("id") == "after" and m["type"] in {"next", "data"}]
        assert not answered, messages


async def test_a_removed_member_is_cut_off_within_the_cache_lifetime(server: Served) -> None:
    alice = await _register(server, "alice")
    bob = await _register(server, "bob")
    await _graphql(server, ADD_MEMBER, {"username": "bob", "role": "MEMBER"}, alice["accessToken"])
    login = {"username": "bob", "password": PASSWORD, "tenant": "alice"}
    session = (await _graphql(server, LOGIN, login))["login"]["accessToken"]
    async for socket in _open(server, "graphql-transport-ws", session):
        await socket.start("beat", HEARTBEAT)
        assert (await socket.receive())["type"] in {"next", "data"}
        await _graphql(server, REMOVE_MEMBER, {"id": bob["user"]["id"]}, alice["accessToken"])
        messages, code = await socket.until_closed()
        assert code == 4401
        assert "no longer a member" in _errors(messages[-1])[0]["message"], messages


async def test_a_role_changed_elsewhere_closes_the_socket_with_4403(
    server: Served, settings: Settings
) -> None:
    alice = await _register(server, "alice")
    await _register(server, "bob")
    await _graphql(server, ADD_MEMBER, {"username": "bob", "role": "ADMIN"}, alice["accessToken"])
    login = {"username": "bob", "password": PASSWORD, "tenant": "alice"}
    session = (await _graphql(server, LOGIN, login))["login"]["accessToken"]
    async for socket in _open(server, "graphql-transport-ws", session):
        await socket.start("beat", HEARTBEAT)
        assert (await socket.receive())["type"] in {"next", "data"}
        # As another server process would: straight in the database, seen once the cache expires.
        engine = create_engine(settings.database_url)
        try:
            async with async_sessionmaker(engine)() as db:
                await db.execute(
                    update(Membership)
                    .where(Membership.tenant_id == uuid.UUID(alice["tenant"]["id"]))
                    .where(Membership.role == Role.ADMIN)
                    .values(role=Role.VIEWER)
                )
                await db.commit()
        finally:
            await engine.dispose()
        messages, code = await socket.until_closed()
        assert code == 4403
        error = _errors(messages[-1])[0]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "from ADMIN to VIEWER" in error["message"]


async def test_an_access_token_that_expires_closes_the_socket(
    server: Served, settings: Settings
) -> None:
    alice = await _register(server, "alice")
    claims = decode_access_token(settings, alice["accessToken"])
    assert claims is not None
    # The same session, signed to expire two seconds from now.
    soon = datetime.now(UTC) - timedelta(seconds=settings.access_token_ttl - 2)
    token, _ = issue_access_token(
        settings, claims.user_id, claims.tenant_id, claims.session_id, now=soon
    )
    async for socket in _open(server, "graphql-transport-ws", token):
        await socket.start("beat", HEARTBEAT)
        messages, code = await socket.until_closed()
        assert code == 4401
        assert "expired" in _errors(messages[-1])[0]["message"], messages


async def test_a_refused_credential_closes_the_socket_at_connection_init(
    server: Served, protocol: str
) -> None:
    async with connect(server.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        init = {"authorization": "Bearer ctp_NotARealTokenNotARealTokenNotARe000000"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        messages, code = await Socket(ws, protocol).until_closed()
    assert code == 4401
    assert all(m["type"] != "connection_ack" for m in messages)
