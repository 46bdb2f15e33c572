"""Fixtures for the Git store: a managed store with tenants acme and globex, manifests,
a `git` command line with its own HOME, and the smart-HTTP app under a real uvicorn."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from crontopus.server.gitstore import GitAccess, ManagedGitStore, make_git_http_app
from tests.server.gitstore.support import TOKENS, ManifestFactory, manifest


@pytest.fixture
def make_manifest() -> ManifestFactory:
    """Build manifest YAML: make_manifest(name, namespace, job_id, schedule=…, labels=…)."""
    return manifest


@pytest.fixture
async def store(tmp_path: Path) -> ManagedGitStore:
    """A managed store with repositories for tenants acme and globex."""
    managed = ManagedGitStore(tmp_path / "git")
    await managed.ensure_repository("acme")
    await managed.ensure_repository("globex")
    return managed


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class GitCli:
    """The real `git` command line with its own HOME, never prompting."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    async def __call__(self, *args: str, cwd: Path | None = None) -> GitResult:
        # Asynchronous on purpose: the server under test runs on this event loop.
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd or self.home,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return GitResult(process.returncode, out.decode(), err.decode())

    async def ok(self, *args: str, cwd: Path | None = None) -> str:
        result = await self(*args, cwd=cwd)
        assert result.returncode == 0, f"git {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout


@pytest.fixture
def git(tmp_path: Path) -> GitCli:
    """`await git("clone", url)`: the git CLI as a user with a fresh HOME."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice Example\n\temail = alice@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
    )
    return GitCli(home, env)


@dataclass
class GitServer:
    """The smart-HTTP app served on 127.0.0.1, and the pushes it reported."""

    port: int
    store: ManagedGitStore
    pushes: list[tuple[str, str | None, str]]

    def url(self, tenant: str = "acme", token: str = "ctp_acme_write") -> str:
        return f"http://x:{token}@127.0.0.1:{self.port}/{tenant}/jobs.git"


async def authenticate(tenant: str, password: str) -> GitAccess | None:
    known = TOKENS.get(password)
    if known is None:
        return None
    token_tenant, access = known
    return access if token_tenant == tenant else GitAccess(can_read=False, can_write=False)


@pytest.fixture
async def git_server(store: ManagedGitStore) -> AsyncIterator[GitServer]:
    """The Git smart-HTTP app under a real uvicorn on a free loopback port."""
    pushes: list[tuple[str, str | None, str]] = []

    async def on_push(tenant: str, old: str | None, new: str) -> None:
        pushes.append((tenant, old, new))

    app = make_git_http_app(store, authenticate, on_push)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        ws="none",
        http="h11",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield GitServer(port, store, pushes)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
