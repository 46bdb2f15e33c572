"""Git smart HTTP driven by the real `git` command line and by pygit2."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pygit2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from crontopus.server.gitstore import ManagedGitStore, Put, make_git_http_app
from crontopus.server.gitstore.pktline import pkt_line
from tests.server.gitstore.conftest import GitCli, GitServer, authenticate
from tests.server.gitstore.support import ALICE, manifest


async def clone(git: GitCli, git_server: GitServer, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    await git.ok("clone", git_server.url(), str(work))
    return work


async def test_a_user_clones_edits_and_pushes_and_the_store_sees_it(
    git: GitCli, git_server: GitServer, store: ManagedGitStore, tmp_path: Path
) -> None:
    job_id = uuid.uuid4()
    await store.commit_changes(
        "acme", [Put("default/db.yaml", manifest("db", "default", job_id))], ALICE, "jobs: create"
    )
    work = await clone(git, git_server, tmp_path)
    assert (work / "default" / "db.yaml").read_text() == manifest("db", "default", job_id)
    (work / "default" / "db.yaml").write_text(
        manifest("db", "default", job_id, schedule="30 4 * * *")
    )
    await git.ok("commit", "-am", "jobs: run db later", cwd=work)
    old = await store.head("acme")
    await git.ok("push", "origin", "main", cwd=work)
    new = await store.head("acme")
    snap = await store.snapshot("acme")
    assert snap.jobs[job_id].manifest.schedule == "30 4 * * *"
    assert git_server.pushes == [("acme", old, new)]
    history = await store.history("acme", job_id)
    assert [h.message for h in history] == ["jobs: run db later", "jobs: create"]
    assert history[0].author_email == "alice@example.com"


async def test_a_push_with_a_broken_manifest_is_refused_with_the_validator_message(
    git: GitCli, git_server: GitServer, store: ManagedGitStore, tmp_path: Path
) -> None:
    work = await clone(git, git_server, tmp_path)
    head = await store.head("acme")
    (work / "default" / "db.yaml").write_text(manifest("db", schedule="5/15 * * * *"))
    await git.ok("add", ".", cwd=work)
    await git.ok("commit", "-m", "jobs: broken", cwd=work)
    result = await git("push", "origin", "main", cwd=work)
    assert result.returncode != 0
    assert "remote: Crontopus refused this push" in result.stderr
    assert "remote:   default/db.yaml: spec.schedule:" in result.stderr
    assert "pre-receive hook declined" in result.stderr
    assert await store.head("acme") == head
    assert git_server.pushes == []


async def test_a_push_with_a_password_in_the_manifest_is_accepted_with_a_warning(
    git: GitCli, git_server: GitServer, store: ManagedGitStore, tmp_path: Path
) -> None:
    work = await clone(git, git_server, tmp_path)
    text = manifest("db") + "  env: {PASSWORD: hunter2, DB_TOKEN: {secretRef: db-token}}\n"
    (work / "default" / "db.yaml").write_text(text)
    await git.ok("add", ".", cwd=work)
    await git.ok("commit", "-m", "jobs: db", cwd=work)
    result = await git("push", "origin", "main", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "remote: Crontopus accepted this push with 1 warning(s):" in result.stderr
    assert (
        "remote:   warning: default/db.yaml: spec.env.PASSWORD: looks like a secret but its "
        "value is written in the manifest" in result.stderr
    )
    assert "DB_TOKEN" not in result.stderr
    assert (await store.snapshot("acme")).jobs


async def test_a_push_to_another_branch_is_refused(
    git: GitCli, git_server: GitServer, tmp_path: Path
) -> None:
    work = await clone(git, git_server, tmp_path)
    (work / "default" / "db.yaml").write_text(manifest("db"))
    await git.ok("add", ".", cwd=work)
    await git.ok("commit", "-m", "draft", cwd=work)
    result = await git("push", "origin", "HEAD:refs/heads/draft", cwd=work)
    assert result.returncode != 0
    assert "only the main branch holds jobs" in result.stderr


async def test_a_force_push_that_rewrites_history_is_refused(
    git: GitCli, git_server: GitServer, store: ManagedGitStore, tmp_path: Path
) -> None:
    await store.commit_changes("acme", [Put("default/a.yaml", manifest("a"))], ALICE, "a")
    work = await clone(git, git_server, tmp_path)
    await git.ok("reset", "--hard", "HEAD~1", cwd=work)
    (work / "default" / "b.yaml").write_text(manifest("b"))
    await git.ok("add", ".", cwd=work)
    await git.ok("commit", "-m", "rewrite", cwd=work)
    result = await git("push", "--force", "origin", "main", cwd=work)
    assert result.returncode != 0
    assert "history cannot be rewritten" in result.stderr


async def test_a_wrong_token_fails_authentication(
    git: GitCli, git_server: GitServer, tmp_path: Path
) -> None:
    result = await git("clone", git_server.url(token="ctp_wrong"), str(tmp_path / "w"))
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr


async def test_no_credentials_get_a_basic_challenge(
    git: GitCli, git_server: GitServer, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{git_server.port}/acme/jobs.git"
    result = await git("clone", url, str(tmp_path / "w"))
    assert result.returncode != 0
    assert "could not read Username" in result.stderr


async def test_another_tenants_repository_is_not_found(
    git: GitCli, git_server: GitServer, tmp_path: Path
) -> None:
    for tenant in ("globex", "initech"):
        result = await git(
            "clone", git_server.url(tenant, "ctp_acme_write"), str(tmp_path / tenant)
        )
        assert result.returncode != 0
        assert "not found" in result.stderr


async def test_a_read_only_token_clones_but_cannot_push(
    git: GitCli, git_server: GitServer, store: ManagedGitStore, tmp_path: Path
) -> None:
    work = tmp_path / "ro"
    await git.ok("clone", git_server.url(token="ctp_acme_read"), str(work))
    (work / "default" / "db.yaml").write_text(manifest("db"))
    await git.ok("add", ".", cwd=work)
    await git.ok("commit", "-m", "try", cwd=work)
    head = await store.head("acme")
    result = await git("push", "origin", "main", cwd=work)
    assert result.returncode != 0
    assert "403" in result.stderr
    assert await store.head("acme") == head


async def test_a_fetch_after_an_api_commit_brings_the_new_job(
    git: GitCli, git_server: GitServer, store: ManagedGitStore, tmp_path: Path
) -> None:
    work = await clone(git, git_server, tmp_path)
    await store.commit_changes("acme", [Put("default/new.yaml", manifest("new"))], ALICE, "new")
    # Old protocol as well as protocol v2 (the default of this git).
    await git.ok("-c", "protocol.version=0", "pull", "--ff-only", cwd=work)
    assert (work / "default" / "new.yaml").exists()


async def test_pygit2_clones_over_http(git_server: GitServer, tmp_path: Path) -> None:
    # In a thread: the server under test answers on this event loop.
    repo = await asyncio.to_thread(
        pygit2.clone_repository,
        f"http://127.0.0.1:{git_server.port}/acme/jobs.git",
        str(tmp_path / "agent"),
        callbacks=pygit2.RemoteCallbacks(credentials=pygit2.UserPass("agent", "ctp_acme_read")),
    )
    assert (Path(repo.workdir) / "default" / ".keep").exists()


@pytest.fixture
async def http(store: ManagedGitStore) -> AsyncIterator[httpx.AsyncClient]:
    """The smart-HTTP app driven in-process, for what the git CLI never sends."""

    async def on_push(tenant: str, old: str | None, new: str) -> None:
        return None

    app = make_git_http_app(store, authenticate, on_push)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://git.test") as client:
        yield client


async def test_a_gzip_request_body_is_inflated(
    http: httpx.AsyncClient, store: ManagedGitStore
) -> None:
    head = await store.head("acme")
    request = pkt_line(f"want {head} side-band-64k\n") + b"0000" + b"0009done\n"
    response = await http.post(
        "/acme/jobs.git/git-upload-pack",
        content=gzip.compress(request),
        headers={
            "Content-Encoding": "gzip",
            "Content-Type": "application/x-git-upload-pack-request",
        },
        auth=("x", "ctp_acme_read"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-upload-pack-result"
    assert response.content.startswith(b"0008NAK\n")
    assert b"PACK" in response.content


async def test_missing_credentials_get_a_basic_challenge_and_probing_finds_nothing(
    http: httpx.AsyncClient,
) -> None:
    refs = "/acme/jobs.git/info/refs?service=git-upload-pack"
    missing = await http.get(refs)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Basic realm="Crontopus"'
    assert (await http.get(refs, auth=("x", "ctp_nope"))).status_code == 401
    other = await http.get(refs, auth=("x", "ctp_globex_write"))
    unknown = await http.get(
        "/initech/jobs.git/info/refs?service=git-upload-pack", auth=("x", "ctp_globex_write")
    )
    assert (other.status_code, other.text) == (unknown.status_code, unknown.text)
    assert other.status_code == 404
    dumb = await http.get("/acme/jobs.git/info/refs", auth=("x", "ctp_acme_read"))
    assert dumb.status_code == 403
    advertised = await http.get(refs, auth=("x", "ctp_acme_read"))
    assert advertised.content.startswith(b"001e# service=git-upload-pack\n0000")


async def test_the_app_works_mounted_at_git(store: ManagedGitStore) -> None:
    async def on_push(tenant: str, old: str | None, new: str) -> None:
        return None

    app = Starlette(routes=[Mount("/git", make_git_http_app(store, authenticate, on_push))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://crontopus.test") as client:
        response = await client.get(
            "/git/acme/jobs.git/info/refs?service=git-receive-pack", auth=("x", "ctp_acme_write")
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-receive-pack-advertisement"
    assert b"refs/heads/main" in response.content


async def test_protocol_v2_is_spoken_for_fetches_only(http: httpx.AsyncClient) -> None:
    v2 = {"Git-Protocol": "version=2"}
    fetch = await http.get(
        "/acme/jobs.git/info/refs?service=git-upload-pack", auth=("x", "ctp_acme_read"), headers=v2
    )
    assert fetch.content.startswith(b"000eversion 2\n")
    push = await http.get(
        "/acme/jobs.git/info/refs?service=git-receive-pack",
        auth=("x", "ctp_acme_write"),
        headers=v2,
    )
    assert push.content.startswith(b"001f# service=git-receive-pack\n0000")
