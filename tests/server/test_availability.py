"""The failure contract: an absent database is a 503 with Retry-After (or a GraphQL error with
code UNAVAILABLE) at every entry point, logged once, never a 500 or a traceback per request."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from crontopus.server.availability import (
    Dependency,
    DependencyTracker,
    Unavailable,
    unavailability,
)
from crontopus.server.observability.metrics import Metrics
from crontopus.server.security.tokens import TokenKind, issue_token
from tests.server.conftest import free_port
from tests.server.fault_kit import ServerProcess

DEPENDENCY_LOGGER = "crontopus.server.dependencies"


def test_the_tracker_logs_once_when_a_dependency_goes_and_once_when_it_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    tracker = DependencyTracker(metrics=metrics)
    problem = Unavailable(Dependency.DATABASE, "ConnectionRefusedError: connect call failed")
    with caplog.at_level(logging.INFO, logger=DEPENDENCY_LOGGER):
        for _ in range(500):
            tracker.failed(problem)
        assert not tracker.is_up(Dependency.DATABASE)
        assert metrics.dependency_up.labels("database")._value.get() == 0
        assert tracker.report()["database"]["status"] == "unavailable"
        for _ in range(500):
            tracker.succeeded(Dependency.DATABASE)
    lines = [r.getMessage() for r in caplog.records if r.name == DEPENDENCY_LOGGER]
    assert len(lines) == 2, lines
    assert "the database is unavailable (ConnectionRefusedError" in lines[0]
    assert "the database is back after" in lines[1]
    assert "500 failed" in lines[1]
    assert metrics.dependency_up.labels("database")._value.get() == 1
    assert metrics.unavailable_answers.labels("database")._value.get() == 500


async def test_a_dependency_that_went_away_is_probed_until_it_answers_without_traffic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = [ConnectionRefusedError(111, "refused"), OSError(28, "No space left on device")]

    async def probe() -> None:
        if answers:
            raise answers.pop(0)

    tracker = DependencyTracker({Dependency.DATABASE: probe}, probe_interval=0.05)
    with caplog.at_level(logging.INFO, logger=DEPENDENCY_LOGGER):
        tracker.failed(Unavailable(Dependency.DATABASE, "ConnectionRefusedError: refused"))
        assert await tracker.wait_up(Dependency.DATABASE, 5)
    assert answers == []
    lines = [r.getMessage() for r in caplog.records if r.name == DEPENDENCY_LOGGER]
    assert len(lines) == 2
    assert "back after" in lines[1]
    await tracker.stop()


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (sqlite3.OperationalError("database is locked"), Dependency.DATABASE),
        (sqlite3.OperationalError("database or disk is full"), Dependency.DATABASE),
        (sa_exc.OperationalError("INSERT", {}, sqlite3.OperationalError("x")), Dependency.DATABASE),
        (ConnectionRefusedError(111, "Connect call failed"), Dependency.DATABASE),
        (OSError(28, "No space left on device"), Dependency.DATABASE),
    ],
)
def test_it_tells_a_dependency_failure_from_a_bug(
    error: BaseException, dependency: Dependency
) -> None:
    problem = unavailability(error)
    assert problem is not None
    assert problem.dependency is dependency
    assert problem.retry_after > 0


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        KeyError("x"),
        sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        OSError(2, "No such file or directory"),
    ],
)
def test_it_leaves_bugs_and_refusals_to_the_error_log(error: BaseException) -> None:
    assert unavailability(error) is None


def test_a_wrapped_failure_is_found_through_its_cause() -> None:
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("while loading the identity") from inner
    except RuntimeError as outer:
        problem = unavailability(outer)
    assert problem is not None
    assert "ConnectionResetError" in problem.reason


@pytest.fixture
def server_without_database(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real server whose PostgreSQL does not answer (nothing listens on its port)."""
    server = ServerProcess.start(
        tmp_path / "data",
        {
            "CRONTOPUS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/crontopus",
            "CRONTOPUS_EVENT_BUS": "inprocess",
            "CRONTOPUS_DATABASE_TIMEOUT": "2",
            "CRONTOPUS_ALERT_INTERVAL": "1",
        },
    )
    yield server
    server.stop()


async def test_every_entry_point_answers_unavailable_while_the_database_is_away(
    server_without_database: ServerProcess,
) -> None:
    server = server_without_database
    endpoint = issue_token(TokenKind.ENDPOINT).plaintext
    api = issue_token(TokenKind.API).plaintext
    job, run = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        checkins = await asyncio.gather(
            *(
                client.post(
                    f"/checkin/{job}/start",
                    params={"rid": str(run)},
                    headers={"Authorization": f"Bearer {endpoint}"},
                )
                for _ in range(40)
            )
        )
        query = await client.post(
            "/graphql",
            json={"query": "{ me { user { username } } }"},
            headers={"Authorization": f"Bearer {api}"},
        )
        login = await client.post(
            "/graphql",
            json={
                "query": 'mutation { login(username: "a", password: "b") { __typename } }',
            },
        )
        basic = base64.b64encode(f"x:{api}".encode()).decode()
        git = await client.get(
            "/git/alice/jobs.git/info/refs",
            params={"service": "git-upload-pack"},
            headers={"Authorization": f"Basic {basic}"},
        )
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")
    for answer in checkins:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        assert answer.json()["dependency"] == "database"
    for answer in (query, login):
        assert answer.status_code in (200, 503), answer.text
        assert answer.headers["Retry-After"] == "5"
        (error,) = answer.json()["errors"]
        assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert "the database is unavailable" in error["message"]
    assert git.status_code == 503
    assert git.headers["Retry-After"] == "5"
    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == "5"
    assert ready.json()["dependencies"]["database"]["status"] == "unavailable"
    assert metrics.status_code == 200, metrics.text  # the scrape that shows the outage
    assert 'crontopus_dependency_up{dependency="database"} 0.0' in metrics.text
    assert 'crontopus_dependency_up{dependency="gitStore"} 1.0' in metrics.text
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api}"}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013, closed.value.rcvd
    assert "reconnect" in closed.value.rcvd.reason
    log = server.log_lines()
    assert not [line for line in log if '"level": "error"' in line or "Traceback" in line], log
    warnings = [line for line in log if "the database is unavailable" in line]
    assert len(warnings) == 1, log
