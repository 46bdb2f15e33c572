"""The external Git store end to end: `crontopus-server serve` mirroring a real Git remote.

The forge is `git http-backend` behind an HTTP server with basic auth (tests/server/forge.py);
people push to it with the git command line, and its push webhook is played by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from crontopus.server.settings import Settings
from tests.server.conftest import (
    PASSWORD,
    REGISTER,
    LiveServer,
    _truncate,
    start_server,
    stop_server,
)
from tests.server.forge import TOKEN, USERNAME, Forge, running_forge
from tests.server.gitstore.support import manifest

SECRET = "webhook-secret-0123456789"
CREATE_JOB = """
mutation { createJob(input: {name: "backup", schedule: "0 2 * * *", command: "/bin/backup"}) {
  ... on Job { id } } }
"""
CREATE_TOKEN = """
mutation($scopes: [TokenScope!]!) {
  createApiToken(name: "git", scopes: $scopes) { ... on CreatedApiToken { plaintext } }
}
"""
JOBS = "{ jobs { nodes { id name namespace } } repository { cloneUrl headCommit } }"
PROBLEMS = "{ repositoryProblems { file path message } }"
REPOSITORY = "{ repository { headCommit pendingCommit } }"


def environment(forge: Forge, *, interval: int = 3600, **extra: str) -> dict[str, str]:
    return {
        "CRONTOPUS_GIT_STORE": "external",
        "CRONTOPUS_GIT_EXTERNAL_URL": forge.url_template,
        "CRONTOPUS_GIT_EXTERNAL_USERNAME": USERNAME,
        "CRONTOPUS_GIT_EXTERNAL_TOKEN": TOKEN,
        "CRONTOPUS_GIT_WEBHOOK_SECRET": SECRET,
        "CRONTOPUS_GIT_FETCH_INTERVAL": str(interval),
        **extra,
    }


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    with running_forge(tmp_path / "forge") as running:
        running.create("alice")
        yield running


class Person:
    """Someone using one server: GraphQL with their access token, git with their own HOME."""

    def __init__(self, server: LiveServer, tmp_path: Path, username: str = "alice") -> None:
        self.server = server
        self.tmp = tmp_path
        self.home = tmp_path / f"home-{username}"
        self.home.mkdir(exist_ok=True)
        (self.home / ".gitconfig").write_text(
            "[user]\n\tname = Alice\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n"
        )
        self.token = ""

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.post(
            f"{self.server.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def register(self, username: str = "alice") -> None:
        variables = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        data = self.graphql(REGISTER, variables)
        assert data["register"]["__typename"] == "AuthPayload", data
        self.token = data["register"]["accessToken"]

    def login_as(self, token: str) -> None:
        self.token = token

    def api_token(self, scopes: list[str]) -> str:
        created = self.graphql(CREATE_TOKEN, {"scopes": scopes})["createApiToken"]
        token: str = created["plaintext"]
        return token

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(HOME=str(self.home), GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
        result = subprocess.run(
            ["git", *args], cwd=cwd or self.tmp, env=env, capture_output=True, text=True
        )
        if check:
            assert result.returncode == 0, f"git {' '.join(args)}:\n{result.stderr}"
        return result.stdout + result.stderr

    def push_to_forge(self, forge: Forge, files: dict[str, str], message: str) -> str:
        """Clone the tenant's repository from the forge, write `files`, commit and push."""
        work = self.tmp / f"work-{uuid.uuid4().hex[:8]}"
        self.git("clone", "-q", forge.url("alice"), str(work))
        for name, text in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        self.git("add", "-A", cwd=work)
        self.git("commit", "-qm", message, cwd=work)
        self.git("push", "-q", "origin", "main", cwd=work)
        return self.git("rev-parse", "HEAD", cwd=work).strip()

    def jobs(self) -> dict[str, str]:
        return {j["id"]: j["name"] for j in self.graphql(JOBS)["jobs"]["nodes"]}

    def head(self) -> str | None:
        head: str | None = self.graphql(JOBS)["repository"]["headCommit"]
        return head

    def webhook(
        self, tenant: str = "alice", body: bytes = b'{"ref": "refs/heads/main"}', **headers: str
    ) -> httpx.Response:
        if not headers:
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {"X-Hub-Signature-256": f"sha256={signature}"}
        return httpx.post(
            f"{self.server.url}/git-hooks/{tenant}",
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=30,
        )


def eventually(check: Callable[[], bool], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the change did not arrive in time"
        time.sleep(0.2)


@pytest.fixture
def server(settings: Settings, forge: Forge, tmp_path: Path) -> Iterator[LiveServer]:
    """A server with the external store over the forge; webhooks only (no periodic fetch)."""
    live = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(settings.data_dir),
            "CRONTOPUS_DATABASE_URL": settings.database_url,
            **environment(forge, CRONTOPUS_MAX_GIT_HOOK_BODY="2048"),
        }
    )
    yield live
    stop_server(live)


@pytest.fixture
def alice(server: LiveServer, tmp_path: Path) -> Person:
    person = Person(server, tmp_path)
    person.register()
    return person


def test_a_new_tenant_and_a_job_created_through_graphql_land_on_the_forge(
    alice: Person, forge: Forge
) -> None:
    assert forge.files("alice") == {"default/.keep", "discovered/.keep"}
    job_id = alice.graphql(CREATE_JOB)["createJob"]["id"]
    assert "default/backup.yaml" in forge.files("alice")
    assert alice.head() == forge.head("alice")
    assert alice.jobs() == {job_id: "backup"}


def test_a_push_to_the_forge_and_its_webhook_reach_graphql_and_agents_cloning_the_mirror(
    alice: Person, forge: Forge, server: LiveServer
) -> None:
    job_id = str(uuid.uuid4())
    pushed = alice.push_to_forge(
        forge, {"default/report.yaml": manifest("report", "default", job_id)}, "add report"
    )
    assert alice.jobs() == {}  # no fetch yet: the interval is an hour
    assert alice.webhook().status_code == 202
    eventually(lambda: job_id in alice.jobs())
    assert alice.head() == pushed

    # Agents and people fetch from the server's mirror, with a Crontopus token.
    token = alice.api_token(["READ", "WRITE"])
    clone_url = alice.graphql(JOBS)["repository"]["cloneUrl"]
    assert clone_url == f"{server.url}/git/alice/jobs.git"
    mirror = alice.tmp / "mirror"
    alice.git("clone", "-q", clone_url.replace("http://", f"http://x:{token}@"), str(mirror))
    assert f"id: {job_id}" in (mirror / "default" / "report.yaml").read_text()
    assert alice.git("rev-parse", "HEAD", cwd=mirror).strip() == pushed

    # A push to the mirror is refused, naming the forge.
    (mirror / "default" / "report.yaml").write_text(manifest("report", "default", job_id))
    alice.git("commit", "-qam", "edit", "--allow-empty", cwd=mirror)
    said = alice.git("push", "origin", "main", cwd=mirror, check=False)
    assert "read-only mirror" in said
    assert forge.url("alice", credentials=False) in said


def test_an_invalid_manifest_pushed_to_the_forge_is_reported_and_not_served(
    alice: Person, forge: Forge
) -> None:
    served = alice.head()
    broken = manifest("db", schedule="5/15 * * * *")
    pushed = alice.push_to_forge(forge, {"default/db.yaml": broken}, "broken")
    assert alice.webhook().status_code == 202

    def reported() -> bool:
        problems = alice.graphql(PROBLEMS)["repositoryProblems"]
        return any(p["file"] == "default/db.yaml" for p in problems)

    eventually(reported)
    problems = alice.graphql(PROBLEMS)["repositoryProblems"]
    assert pushed[:12] in problems[0]["message"]
    assert any("spec.schedule" in p["path"] for p in problems)
    assert alice.head() == served
    repository = alice.graphql(REPOSITORY)["repository"]
    assert repository == {"headCommit": served, "pendingCommit": pushed}
    assert alice.jobs() == {}
    # Writes wait for the fix: the forge's tip holds problems.
    refused = alice.graphql(
        'mutation { createJob(input: {name: "x", schedule: "0 2 * * *", command: "/bin/x"}) '
        "{ __typename ... on UserError { message } } }"
    )["createJob"]
    assert refused["__typename"] == "ConflictError"
    assert "did not adopt" in refused["message"]

    # The fix is adopted, and the problems are gone.
    job_id = str(uuid.uuid4())
    fixed = alice.push_to_forge(
        forge, {"default/db.yaml": manifest("db", "default", job_id)}, "fix"
    )
    assert alice.webhook().status_code == 202
    eventually(lambda: alice.head() == fixed)
    assert alice.jobs() == {job_id: "db"}
    assert alice.graphql(PROBLEMS)["repositoryProblems"] == []
    assert alice.graphql(REPOSITORY)["repository"] == {"headCommit": fixed, "pendingCommit": None}


def test_webhooks_must_be_signed_name_a_tenant_and_stay_small(alice: Person) -> None:
    body = b'{"ref": "refs/heads/main"}'
    assert alice.webhook(body=body, **{"X-Hub-Signature-256": "sha256=00"}).status_code == 401
    assert alice.webhook(body=body, **{"X-Gitlab-Token": "wrong"}).status_code == 401
    assert alice.webhook(body=body, **{"X-Other": "1"}).status_code == 401
    # An unknown tenant is told apart only to a caller holding the secret.
    unsigned = alice.webhook("nobody", body, **{"X-Other": "1"})
    assert unsigned.status_code == 401
    assert alice.webhook("nobody", body).status_code == 404
    assert alice.webhook(body=body, **{"X-Gitlab-Token": SECRET}).status_code == 202
    gitea = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert alice.webhook(body=body, **{"X-Gitea-Signature": gitea}).status_code == 202
    assert alice.webhook(body=b"x" * 4096).status_code == 413


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_periodic_fetch_picks_up_a_push_and_sets_up_a_late_repository(
    settings: Settings, forge: Forge, tmp_path: Path
) -> None:
    live = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(settings.data_dir),
            "CRONTOPUS_DATABASE_URL": settings.database_url,
            **environment(forge, interval=1),
        }
    )
    try:
        alice = Person(live, tmp_path)
        alice.register()
        job_id = str(uuid.uuid4())

        async def watch() -> dict[str, Any]:
            # Only a subscription, no reads: a read would fetch by itself.
            async with connect(live.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                init = {
                    "type": "connection_init",
                    "payload": {"authorization": f"Bearer {alice.token}"},
                }
                await ws.send(json.dumps(init))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                query = "subscription { jobEvents { kind jobId path } }"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                    "query": query}}))  # fmt: skip
                await live.wait_for_subscribers()
                await asyncio.to_thread(
                    alice.push_to_forge,
                    forge,
                    {"default/nightly.yaml": manifest("nightly", "default", job_id)},
                    "add nightly",
                )
                message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                event: dict[str, Any] = message["payload"]["data"]["jobEvents"]
                return event

        event = asyncio.run(watch())
        assert event == {"kind": "CREATED", "jobId": job_id, "path": "default/nightly.yaml"}

        # A tenant whose repository is not on the forge yet still signs up; the periodic
        # fetch sets the repository up once the operator created it.
        Person(live, tmp_path, "bob").register("bob")
        forge.create("bob")
        eventually(lambda: forge.head("bob") is not None)
        assert forge.files("bob") == {"default/.keep", "discovered/.keep"}
    finally:
        stop_server(live)


@pytest.mark.postgres
def test_two_server_processes_on_postgresql_share_the_forge(
    postgres_template: str, forge: Forge, tmp_path: Path
) -> None:
    asyncio.run(_truncate(postgres_template))
    servers = []
    try:
        for name in ("first", "second"):
            servers.append(
                start_server(
                    {
                        # Each process has its own data directory: it may run on its own host.
                        "CRONTOPUS_DATA_DIR": str(tmp_path / name),
                        "CRONTOPUS_DATABASE_URL": postgres_template,
                        # Hosts share the signing key, so a token works on either.
                        "CRONTOPUS_SECRET_KEY": "shared-signing-key-" + "x" * 32,
                        **environment(forge, interval=1),
                    }
                )
            )
        first, second = (Person(s, tmp_path) for s in servers)
        first.register()
        second.login_as(first.token)

        def changes() -> list[tuple[str, str]]:
            # Written through the first process's API; the second adopts it by its fetch.
            job_id: str = first.graphql(CREATE_JOB)["createJob"]["id"]
            eventually(lambda: job_id in second.jobs())
            expected = [("CREATED", job_id)]
            # Pushed to the forge; the webhook reaches one host (each in turn), the other
            # catches up by its own fetch.
            for name, webhook_to in (("report", first), ("audit", second)):
                pushed_id = str(uuid.uuid4())
                pushed = first.push_to_forge(
                    forge, {f"default/{name}.yaml": manifest(name, "default", pushed_id)}, name
                )
                assert webhook_to.webhook().status_code == 202
                for person in (first, second):
                    eventually(lambda p=person, c=pushed: p.head() == c)  # type: ignore[misc]
                expected.append(("CREATED", pushed_id))
            time.sleep(3)  # three more fetches of each process: none may announce again
            return expected

        expected, heard = asyncio.run(job_events_during(servers, first.token, changes))
        for person in (first, second):
            assert set(person.jobs()) == {job_id for _, job_id in expected}
        # Both processes adopted every commit, yet the subscribers of each heard each change
        # once: the API write and the pushes were announced by one process each.
        for events in heard:
            assert sorted((e["kind"], e["jobId"]) for e in events) == sorted(expected)
    finally:
        for live in servers:
            stop_server(live)


async def job_events_during(
    servers: list[LiveServer], token: str, act: Callable[[], list[tuple[str, str]]]
) -> tuple[list[tuple[str, str]], list[list[dict[str, Any]]]]:
    """Subscribe to `jobEvents` on every server over real websockets and run `act` meanwhile;
    return what it returns and the events each subscriber received."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for live in servers:
            ws = await stack.enter_async_context(
                connect(live.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
            )
            await ws.send(json.dumps({"type": "connection_init", "payload": {
                "authorization": f"Bearer {token}"}}))  # fmt: skip
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { jobEvents { kind jobId } }"}}))  # fmt: skip
            await live.wait_for_subscribers()
            sockets.append(ws)
        result = await asyncio.to_thread(act)
        heard: list[list[dict[str, Any]]] = []
        for ws in sockets:
            events: list[dict[str, Any]] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    events.append(message["payload"]["data"]["jobEvents"])
            heard.append(events)
        return result, heard
