"""Structured logs and request ids: one JSON object per line, the id echoed and logged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from crontopus.server.observability.logging import configure_logging, tenant_var
from crontopus.server.services.telemetry import request_id_var
from crontopus.server.settings import LogFormat
from tests.server.conftest import Api


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("info", LogFormat.JSON, stream)
    yield stream
    root.handlers, _ = saved[0], None
    root.setLevel(saved[1])


def test_a_log_record_is_one_json_line_with_the_request_context(captured: io.StringIO) -> None:
    token = request_id_var.set("req-42")
    tenant = tenant_var.set("alice")
    try:
        logging.getLogger("crontopus.server.test").warning(
            "channel %s failed", "ops", extra={"attempt": 2}
        )
    finally:
        request_id_var.reset(token)
        tenant_var.reset(tenant)
    (line,) = captured.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "channel ops failed"
    assert entry["level"] == "warning"
    assert entry["logger"] == "crontopus.server.test"
    assert (entry["request_id"], entry["tenant"], entry["attempt"]) == ("req-42", "alice", 2)
    assert entry["ts"].endswith("+00:00")


def test_text_logs_are_readable_lines() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    configure_logging("info", LogFormat.TEXT, stream)
    try:
        logging.getLogger("crontopus.server.test").info("hello", extra={"job": "backup"})
    finally:
        root.handlers = saved
    line = stream.getvalue().strip()
    assert "INFO" in line
    assert "crontopus.server.test: hello" in line
    assert line.endswith("[job=backup]")


async def test_a_callers_request_id_is_echoed_and_a_missing_one_is_made(api: Api) -> None:
    given = await api.client.get("/health", headers={"X-Request-ID": "trace-abc.1"})
    assert given.headers["x-request-id"] == "trace-abc.1"
    made = await api.client.get("/health")
    assert len(made.headers["x-request-id"]) == 32
    bogus = await api.client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert bogus.headers["x-request-id"] != "bad id\twith spaces"
    assert made.headers["x-request-id"] != bogus.headers["x-request-id"]


async def test_the_request_id_reaches_graphql_and_its_response(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "gql-7"}
    )
    assert response.headers["x-request-id"] == "gql-7"
