"""Request limits and error masking protect the server from abusive or buggy queries."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

import pytest
from websockets.asyncio.client import connect

from crontopus.server.graphql.identity import queries as identity_queries
from crontopus.server.graphql.schema import create_schema
from crontopus.server.graphql.system import subscriptions as system_subscriptions
from crontopus.server.settings import Limits, Settings
from tests.server.conftest import Api, Persona, serve_in_process


async def test_a_query_nested_deeper_than_the_limit_is_refused() -> None:
    schema = create_schema(Limits(max_query_depth=2))
    result = await schema.execute("{ me { tenants { user { username } } } }")
    assert result.errors is not None
    assert "exceeds maximum operation depth of 2" in result.errors[0].message


async def test_too_many_aliases_are_refused(api: Api, alice: Persona) -> None:
    query = "{ " + " ".join(f"a{i}: me {{ role }}" for i in range(40)) + " }"
    error = await api.error_of(query, token=alice.access_token)
    assert "aliases" in error["message"]


async def test_an_oversized_document_is_refused_before_parsing(api: Api, alice: Persona) -> None:
    query = "{ me { " + "role " * 3000 + "} }"
    error = await api.error_of(query, token=alice.access_token)
    assert "token" in error["message"].lower()


async def test_a_syntax_error_stays_visible(api: Api) -> None:
    error = await api.error_of("{ me { ")
    assert "Syntax Error" in error["message"]


async def test_an_unexpected_failure_is_masked_logged_and_carries_the_request_id(
    api: Api,
    alice: Persona,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def explode(*_args: object) -> object:
        raise RuntimeError("database password is hunter2")

    # A resolver bug is simulated by breaking the service function the resolver calls.
    monkeypatch.setattr(identity_queries, "list_members", explode)
    api.headers["X-Request-ID"] = "req-12345"
    with caplog.at_level(logging.ERROR, logger="crontopus.server.graphql"):
        error = await api.error_of("{ members { role } }", token=alice.access_token)
    assert "hunter2" not in error["message"]
    assert "req-12345" in error["message"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-12345"}
    assert any("req-12345" in r.getMessage() for r in caplog.records)


async def test_an_unexpected_failure_is_masked_over_websockets_too(
    settings: Settings, alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("database password is hunter2")

    # Bugs simulated in what the resolvers call: the members query's service function, and the
    # heartbeat's wait after its first beat (a subscription that fails once it has started).
    monkeypatch.setattr(identity_queries, "list_members", explode)
    monkeypatch.setattr(system_subscriptions, "asyncio", SimpleNamespace(sleep=explode))
    errors = []
    async with (
        serve_in_process(settings) as served,
        connect(served.ws_url, subprotocols=["graphql-transport-ws"]) as ws,  # type: ignore[list-item]
        asyncio.timeout(10),
    ):
        init = {"authorization": f"Bearer {alice.access_token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for op_id, query in (("q", "{ members { role } }"), ("s", "subscription { heartbeat }")):
            payload = {"query": query}
            await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
            while (message := json.loads(await ws.recv()))["type"] == "next":
                errors += message["payload"].get("errors", [])
            if message["type"] == "error":
                errors += message["payload"]
    assert len(errors) == 2
    for error in errors:
        assert "hunter2" not in error["message"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
