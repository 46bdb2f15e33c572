"""A new user's GitOps loop against a running server: clone with a token, edit, push, see it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.server.conftest import PASSWORD, REGISTER, LiveServer

CREATE_TOKEN = """
mutation($scopes: [TokenScope!]!) {
  createApiToken(name: "git", scopes: $scopes) { ... on CreatedApiToken { plaintext } }
}
"""
CREATE_JOB = """
mutation { createJob(input: {name: "backup", schedule: "0 2 * * *", command: "/bin/backup"}) {
  ... on Job { id } } }
"""


class Session:
    def __init__(self, server: LiveServer, tmp_path: Path) -> None:
        self.server = server
        self.home = tmp_path / "home"
        self.home.mkdir()
        (self.home / ".gitconfig").write_text(
            "[user]\n\tname = Alice\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n"
        )
        self.tmp = tmp_path

    def graphql(self, query: str, variables: dict[str, Any] | None = None, token: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.server.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def register(self, username: str) -> str:
        data = self.graphql(
            REGISTER,
            {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        token: str = data["register"]["accessToken"]
        return token

    def api_token(self, access: str, scopes: list[str]) -> str:
        token: str = self.graphql(CREATE_TOKEN, {"scopes": scopes}, access)["createApiToken"][
            "plaintext"
        ]
        return token

    def git(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.home), "GIT_TERMINAL_PROMPT": "0"}
        env.pop("GIT_DIR", None)
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.tmp,
            env=env,
            capture_output=True,
            text=True,
            check=check,
        )

    def clone_url(self, tenant: str, token: str) -> str:
        return self.server.url.replace("http://", f"http://x:{token}@") + f"/git/{tenant}/jobs.git"


@pytest.fixture
def session(live_server: LiveServer, tmp_path: Path) -> Session:
    return Session(live_server, tmp_path)


def test_clone_edit_push_and_see_the_change_in_jobs_and_history(session: Session) -> None:
    access = session.register("alice")
    job_id = session.graphql(CREATE_JOB, token=access)["createJob"]["id"]
    token = session.api_token(access, ["READ", "WRITE"])

    session.git("clone", session.clone_url("alice", token), "jobs")
    work = session.tmp / "jobs"
    manifest = work / "default" / "backup.yaml"
    assert f"id: {job_id}" in manifest.read_text()

    manifest.write_text(manifest.read_text().replace('"0 2 * * *"', '"30 4 * * *"'))
    session.git("commit", "-am", "Back up later", cwd=work)
    pushed = session.git("push", "origin", "main", cwd=work)
    assert pushed.returncode == 0

    data = session.graphql(
        "query($id: UUID!) { job(id: $id) { schedule } "
        "jobHistory(id: $id) { message authorName } }",
        {"id": job_id},
        access,
    )
    assert data["job"]["schedule"] == "30 4 * * *"
    assert data["jobHistory"][0] == {"message": "Back up later", "authorName": "Alice"}


def test_a_push_with_a_broken_manifest_is_refused_with_the_validators_message(
    session: Session,
) -> None:
    access = session.register("alice")
    session.graphql(CREATE_JOB, token=access)
    token = session.api_token(access, ["READ", "WRITE"])
    session.git("clone", session.clone_url("alice", token), "jobs")
    work = session.tmp / "jobs"
    manifest = work / "default" / "backup.yaml"
    manifest.write_text(manifest.read_text().replace('"0 2 * * *"', '"5/15 * * * *"'))
    session.git("commit", "-am", "Oops", cwd=work)
    refused = session.git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "default/backup.yaml: spec.schedule:" in refused.stderr
    assert "a step needs a range or *" in refused.stderr
    data = session.graphql("{ jobs { nodes { schedule } } }", token=access)
    assert data["jobs"]["nodes"] == [{"schedule": "0 2 * * *"}]


def test_tokens_decide_who_may_fetch_and_push(session: Session) -> None:
    alice = session.register("alice")
    bob = session.register("bob")
    read_only = session.api_token(alice, ["READ"])
    bobs = session.api_token(bob, ["READ", "WRITE"])

    cloned = session.git("clone", session.clone_url("alice", read_only), "ro")
    assert cloned.returncode == 0
    work = session.tmp / "ro"
    (work / "default" / "new.yaml").write_text("not: a manifest\n")
    session.git("add", ".", cwd=work)
    session.git("commit", "-m", "try", cwd=work)
    push = session.git("push", "origin", "main", cwd=work, check=False)
    assert push.returncode != 0
    assert "403" in push.stderr or "write scope" in push.stderr

    foreign = session.git("clone", session.clone_url("alice", bobs), "foreign", check=False)
    assert foreign.returncode != 0
    assert "not found" in foreign.stderr.lower()
    wrong = session.git("clone", session.clone_url("alice", "ctp_wrong"), "wrong", check=False)
    assert wrong.returncode != 0


def test_a_check_in_token_may_not_fetch_and_a_write_token_may_fetch_and_push(
    session: Session,
) -> None:
    alice = session.register("alice")
    check_in = session.api_token(alice, ["CHECKIN"])
    refused = session.git("clone", session.clone_url("alice", check_in), "ci", check=False)
    assert refused.returncode != 0
    assert "read scope" in refused.stderr

    write_only = session.api_token(alice, ["WRITE"])
    session.git("clone", session.clone_url("alice", write_only), "w")
    work = session.tmp / "w"
    (work / "reports").mkdir()
    (work / "reports" / ".keep").write_text("")
    session.git("add", ".", cwd=work)
    session.git("commit", "-m", "A namespace for reports", cwd=work)
    pushed = session.git("push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode == 0, pushed.stderr


async def test_a_push_emits_job_events_to_subscribers(session: Session) -> None:
    access = session.register("alice")
    token = session.api_token(access, ["READ", "WRITE"])
    await asyncio.to_thread(session.git, "clone", session.clone_url("alice", token), "jobs")
    work = session.tmp / "jobs"
    async with connect(session.server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {access}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription { jobEvents { kind path commitId } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await session.server.wait_for_subscribers()
        (work / "default" / "hello.yaml").write_text(
            "apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n"
            "  id: 0c7b1f9e-4f0a-4bb1-8d57-1d1f0e7b2a33\n  name: hello\n  namespace: default\n"
            'spec:\n  schedule: "*/5 * * * *"\n  command: echo hello\n'
        )
        await asyncio.to_thread(session.git, "add", ".", cwd=work)
        await asyncio.to_thread(session.git, "commit", "-m", "Add hello", cwd=work)
        await asyncio.to_thread(session.git, "push", "origin", "main", cwd=work)
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    event = message["payload"]["data"]["jobEvents"]
    assert event["kind"] == "CREATED"
    assert event["path"] == "default/hello.yaml"
    assert len(event["commitId"]) == 40
