"""Request limits and error masking protect the server from abusive or buggy queries."""

from __future__ import annotations

import logging

import pytest

from crontopus.server.graphql.identity.queries import IdentityQueries
from crontopus.server.graphql.schema import create_schema
from crontopus.server.settings import Limits
from tests.server.conftest import Api, Persona


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
    async def explode(_self: object, _info: object) -> object:
        raise RuntimeError("database password is hunter2")

    # A resolver bug is simulated by swapping the resolver the schema calls.
    field = IdentityQueries.__strawberry_definition__.get_field("members")  # type: ignore[attr-defined]
    assert field is not None
    monkeypatch.setattr(field, "base_resolver", type(field.base_resolver)(explode))
    api.headers["X-Request-ID"] = "req-12345"
    with caplog.at_level(logging.ERROR, logger="crontopus.server.graphql"):
        error = await api.error_of("{ members { role } }", token=alice.access_token)
    assert "hunter2" not in error["message"]
    assert "req-12345" in error["message"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-12345"}
    assert any("req-12345" in r.getMessage() for r in caplog.records)
