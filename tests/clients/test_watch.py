"""`runs watch`: the live tail over runEvents, its filters, reconnection and token refresh."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from crontopus.server.security.jwt import decode_access_token, issue_access_token
from crontopus.server.settings import Settings
from tests.clients.conftest import COMMAND, Cli, Server, User, register
from tests.clients.test_runs import RUN_KEYS, check_in, checkin_token, job_id
from tests.clients.test_session import edit_login, expired_token
from tests.server.conftest import LiveServer, start_server, stop_server

__all__ = ["checkin_token", "job_id"]  # fixtures shared with test_runs


class Watcher:
    """`crontopus runs watch` running as a child process."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [COMMAND, "runs", "watch", *args],
            env=cli.environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        os.set_blocking(self.process.stderr.fileno(), False)
        self.selector.register(self.process.stdout, selectors.EVENT_READ, "out")
        self.selector.register(self.process.stderr, selectors.EVENT_READ, "err")
        self.out = ""
        self.err = ""

    def wait_for(self, stream: str, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in getattr(self, stream):
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} on std{stream}: out={self.out!r} err={self.err!r}"
            for key, _ in self.selector.select(timeout=min(left, 0.5)):
                chunk = key.fileobj.read()  # type: ignore[union-attr]
                if chunk:
                    setattr(self, key.data, getattr(self, key.data) + chunk)
            assert self.process.poll() is None or text in getattr(self, stream), self.err

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.selector.close()
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            stream.close()


@pytest.fixture
def watcher_of(logged_in: Cli) -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    yield started
    for watcher in started:
        watcher.stop()


def test_watch_prints_a_check_in_posted_meanwhile(
    logged_in: Cli, server: Server, job_id: str, checkin_token: str, watcher_of: list[Watcher]
) -> None:
    watcher = Watcher(logged_in, "--json")
    watcher_of.append(watcher)
    watcher.wait_for("err", "Watching runs on")
    run_id = str(uuid.uuid4())
    check_in(server.url, checkin_token, job_id, "start", run_id)
    check_in(server.url, checkin_token, job_id, "0", run_id, "done")
    watcher.wait_for("out", '"FINISHED"')
    events = [json.loads(line) for line in watcher.out.splitlines()]
    assert [(e["kind"], e["run"]["status"]) for e in events] == [
        ("STARTED", "RUNNING"),
        ("FINISHED", "SUCCESS"),
    ]
    assert {e["run"]["id"] for e in events} == {run_id}
    assert set(events[1]["run"]) == RUN_KEYS


def test_watch_filters_like_runs_list(
    logged_in: Cli, server: Server, job_id: str, checkin_token: str, watcher_of: list[Watcher]
) -> None:
    watcher = Watcher(logged_in, "--status", "FAILURE")
    watcher_of.append(watcher)
    watcher.wait_for("err", "Watching runs on")
    passed, failed = str(uuid.uuid4()), str(uuid.uuid4())
    check_in(server.url, checkin_token, job_id, "0", passed)
    check_in(server.url, checkin_token, job_id, "fail", failed)
    watcher.wait_for("out", failed)
    assert passed not in watcher.out
    assert "FINISHED  FAILURE   default/nightly  exit=-" in watcher.out


def _restart(live: LiveServer, env: dict[str, str]) -> LiveServer:
    """Start the same server command again, on the same port."""
    process = subprocess.Popen(live.process.args, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{live.url}/health", timeout=1).status_code == 200:
                return LiveServer(live.url, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the restarted server did not come up")


def test_watch_reconnects_after_a_server_restart_and_misses_nothing(
    cli: Cli, tmp_path: Path, watcher_of: list[Watcher]
) -> None:
    env = {"CRONTOPUS_DATA_DIR": str(tmp_path / "data")}
    live = start_server(env, migrate=True)
    try:
        own = Server(live, env)
        user = register(own)
        cli.env["CRONTOPUS_SERVER"] = own.url
        assert cli("login", "--username", user.username, "--password-stdin",
                   stdin=user.password + "\n").code == 0  # fmt: skip
        job = cli("jobs", "create", "--name", "j", "--schedule", "* * * * *",
                  "--command", "/bin/true").out.strip()  # fmt: skip
        token = cli("tokens", "create", "t", "--scope", "checkin").out.strip()
        watcher = Watcher(cli)
        watcher_of.append(watcher)
        watcher.wait_for("err", "Watching runs on")
        stop_server(live)
        watcher.wait_for("err", "Connection lost")
        live = _restart(live, env)
        during = str(uuid.uuid4())
        check_in(own.url, token, job, "0", during)  # probably before the watch is back
        watcher.wait_for("err", "Reconnected to", timeout=60)
        after = str(uuid.uuid4())
        check_in(own.url, token, job, "2", after)
        watcher.wait_for("out", after)
        assert watcher.out.count(during) == 1
        assert watcher.out.count(after) == 1
    finally:
        stop_server(live)


def test_watch_refreshes_a_token_the_server_refuses_and_carries_on(
    logged_in: Cli, server: Server, user: User, watcher_of: list[Watcher]
) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    before = edit_login(
        logged_in, accessToken=expired_token(server, user), accessTokenExpiresAt=future
    )
    watcher = Watcher(logged_in)
    watcher_of.append(watcher)
    watcher.wait_for("err", "Watching runs on")
    assert logged_in.stored_login()["refreshToken"] != before["refreshToken"]


def test_watch_with_a_refused_api_token_exits_4(cli: Cli, server: Server) -> None:
    result = cli.run("runs", "watch", env={"CRONTOPUS_SERVER": server.url,
                                           "CRONTOPUS_TOKEN": "ctp_" + "x" * 36})  # fmt: skip
    assert result.code == 4
    assert "refused the token" in result.err


def test_watch_reconnects_with_a_refreshed_login_when_the_server_ends_an_expired_token(
    logged_in: Cli,
    server: Server,
    user: User,
    job_id: str,
    checkin_token: str,
    watcher_of: list[Watcher],
) -> None:
    settings = Settings.from_env(server.env)
    claims = decode_access_token(settings, logged_in.stored_login()["accessToken"])
    assert claims is not None
    # The login's session, valid for three more seconds, though the stored login believes it
    # good for an hour.
    almost = datetime.now(UTC) - timedelta(seconds=settings.access_token_ttl - 3)
    short, _ = issue_access_token(
        settings, claims.user_id, claims.tenant_id, claims.session_id, now=almost
    )
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    before = edit_login(logged_in, accessToken=short, accessTokenExpiresAt=future)
    watcher = Watcher(logged_in)
    watcher_of.append(watcher)
    watcher.wait_for("err", "Watching runs on")
    watcher.wait_for("err", "Reconnected to")
    assert "4401" in watcher.err or "expired" in watcher.err
    assert logged_in.stored_login()["refreshToken"] != before["refreshToken"]
    run_id = str(uuid.uuid4())
    check_in(server.url, checkin_token, job_id, "start", run_id)
    watcher.wait_for("out", run_id)


def test_watch_ends_with_exit_4_when_its_api_token_is_revoked(cli: Cli, server: Server) -> None:
    owner = register(server)
    created = server.graphql(
        'mutation { createApiToken(name: "watch", scopes: [READ]) {'
        " ... on CreatedApiToken { plaintext token { id } } } }",
        token=owner.access_token,
    )["createApiToken"]
    watcher = Watcher(
        cli, env={"CRONTOPUS_SERVER": server.url, "CRONTOPUS_TOKEN": created["plaintext"]}
    )
    try:
        watcher.wait_for("err", "Watching runs on")
        server.graphql(
            "mutation($id: UUID!) { revokeApiToken(id: $id) { __typename } }",
            {"id": created["token"]["id"]},
            owner.access_token,
        )
        watcher.wait_for("err", "revoked")
        assert watcher.process.wait(timeout=10) == 4
    finally:
        watcher.stop()
