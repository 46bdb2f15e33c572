"""Request bodies over their route's limit are answered 413 on a real server, unread."""

from __future__ import annotations

import asyncio
import base64
import gzip
import http.client
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.conftest import LiveServer, sqlite_server

MIB = 1024 * 1024
CREATE_TOKEN = """
mutation { createApiToken(name: "git", scopes: [READ, WRITE]) {
  ... on CreatedApiToken { plaintext } } }
"""


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "CRONTOPUS_MAX_GIT_BODY": str(MIB),
        "CRONTOPUS_MAX_GIT_PROCESSES": "1",
        "CRONTOPUS_GIT_QUEUE_TIMEOUT": "1",
    }
    with sqlite_server(sqlite_template, tmp_path_factory.mktemp("bodies"), env) as live:
        yield live


@pytest.fixture(scope="module")
def git_token(server: LiveServer) -> str:
    """A read and write API token of alice, whose tenant is `alice`."""
    access = asyncio.run(server.register("alice"))
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": CREATE_TOKEN},
        headers={"Authorization": f"Bearer {access}"},
    )
    token: str = response.json()["data"]["createApiToken"]["plaintext"]
    return token


def _declared_only(server: LiveServer, path: str, length: int) -> tuple[int, str]:
    """Send the headers of a POST declaring `length` bytes, and no byte of the body."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b" " * size


def test_a_64_mib_graphql_post_is_refused_before_its_body_is_read(server: LiveServer) -> None:
    status, body = _declared_only(server, "/graphql", 64 * MIB)
    assert status == 413
    error = json.loads(body)["errors"][0]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": MIB}
    assert "/graphql accepts at most 1 MiB" in error["message"]
    assert "CRONTOPUS_MAX_GRAPHQL_BODY" in error["message"]


def test_a_graphql_body_over_the_limit_gets_413_even_while_the_client_keeps_sending(
    server: LiveServer,
) -> None:
    response = httpx.post(f"{server.url}/graphql", content=b" " * (8 * MIB))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_graphql_body_is_counted_and_refused_once_it_outgrows_the_limit(
    server: LiveServer,
) -> None:
    response = httpx.post(
        f"{server.url}/graphql",
        content=_chunks(2 * MIB),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_graphql_body_under_the_limit_still_runs(server: LiveServer) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }"'
        yield b" " * 1000 + b"}"

    response = httpx.post(
        f"{server.url}/graphql", content=body(), headers={"Content-Type": "application/json"}
    )
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_check_in_body_is_limited_to_128_kib(server: LiveServer) -> None:
    url = f"{server.url}/checkin/6f1c1b52-7c52-4d2e-9d1f-0f6f4f0c8a11/success?rid=x"
    over = httpx.post(url, content=b"x" * (128 * 1024 + 1))
    assert over.status_code == 413
    assert over.json()["ok"] is False
    assert "CRONTOPUS_MAX_CHECKIN_BODY" in over.json()["error"]
    # At the limit, the request goes on to the route (which wants a token).
    assert httpx.post(url, content=b"x" * (128 * 1024)).status_code == 401


def test_any_other_route_takes_at_most_64_kib(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/health", content=b"x" * (65 * 1024))
    assert response.status_code == 413
    assert "CRONTOPUS_MAX_REQUEST_BODY" in response.text


def test_a_git_request_declaring_more_than_the_limit_is_refused(server: LiveServer) -> None:
    status, body = _declared_only(server, "/git/alice/jobs.git/git-receive-pack", 2 * MIB)
    assert status == 413
    assert "CRONTOPUS_MAX_GIT_BODY" in body


def test_a_gzip_git_body_that_inflates_past_the_limit_is_refused(
    server: LiveServer, git_token: str
) -> None:
    bomb = gzip.compress(b"0" * (2 * MIB))
    assert len(bomb) < 64 * 1024
    response = httpx.post(
        f"{server.url}/git/alice/jobs.git/git-upload-pack",
        content=bomb,
        headers={
            "Content-Encoding": "gzip",
            "Content-Type": "application/x-git-upload-pack-request",
        },
        auth=("x", git_token),
    )
    assert response.status_code == 413
    assert f"inflates past {MIB} bytes" in response.text


def test_a_git_push_over_the_limit_fails_with_413_and_leaves_the_repository_alone(
    server: LiveServer, git_token: str, tmp_path: Path
) -> None:
    url = server.url.replace("http://", f"http://x:{git_token}@") + "/git/alice/jobs.git"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Alice",
        "GIT_AUTHOR_EMAIL": "alice@example.com",
        "GIT_COMMITTER_NAME": "Alice",
        "GIT_COMMITTER_EMAIL": "alice@example.com",
    }

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=tmp_path / "jobs", env=env, capture_output=True, text=True
        )

    subprocess.run(["git", "clone", url, str(tmp_path / "jobs")], env=env, check=True)
    (tmp_path / "jobs" / "blob.bin").write_bytes(os.urandom(2 * MIB))  # does not compress
    assert git("add", "blob.bin").returncode == 0
    assert git("commit", "-m", "too big").returncode == 0
    pushed = git("push", "origin", "HEAD:main")
    assert pushed.returncode != 0
    assert "413" in pushed.stderr
    remote = git("ls-remote", url, "refs/heads/main").stdout.split()[0]
    assert remote != git("rev-parse", "HEAD").stdout.strip()


def test_git_requests_over_the_process_cap_get_503_with_retry_after(
    server: LiveServer, git_token: str
) -> None:
    # A fetch whose body never ends holds the only git process this server may run.
    address = urlsplit(server.url)
    holder = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    holder.putrequest("POST", "/git/alice/jobs.git/git-upload-pack")
    credentials = base64.b64encode(f"x:{git_token}".encode()).decode()
    holder.putheader("Authorization", f"Basic {credentials}")
    holder.putheader("Content-Type", "application/x-git-upload-pack-request")
    holder.putheader("Transfer-Encoding", "chunked")
    holder.endheaders()
    holder.send(b"4\r\n0000\r\n")
    refs = f"{server.url}/git/alice/jobs.git/info/refs?service=git-upload-pack"
    deadline = time.monotonic() + 10
    while (busy := httpx.get(refs, auth=("x", git_token))).status_code != 503:
        assert time.monotonic() < deadline, "the held request never took the process slot"
        time.sleep(0.05)
    assert busy.headers["Retry-After"] == "5"
    assert "as many git processes as it may (1)" in busy.text
    holder.close()  # the client goes away: its git process ends and frees the slot
    deadline = time.monotonic() + 10
    while (free := httpx.get(refs, auth=("x", git_token))).status_code != 200:
        assert time.monotonic() < deadline, "the slot was never released"
        time.sleep(0.05)
    assert free.content.startswith(b"001e# service=git-upload-pack")
