"""Fixtures for agent tests: a state directory, a job repository, a seeded crontab file,
and a real crontopus-server started in a temporary data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pygit2
import pytest

from crontopus.agent.config import AgentConfig, save_config
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer
from crontopus.drivers.cron.driver import CronDriver

WRAPPER = "/usr/local/bin/crontopus-agent"
PASSWORD = "correct horse battery staple"
# Foreign content a person wrote: comments, environment lines, jobs, blank lines, a Latin-1
# byte and a last line without a newline. Crontopus must never change a byte of it.
FOREIGN_CRONTAB = (
    b"# m h  dom mon dow   command\n"
    b"MAILTO=ops@example.com\n"
    b"\n"
    b"5 4 * * * /usr/bin/backup --all >/dev/null 2>&1\n"
    b"# caf\xe9 maintenance window\n"
    b"@reboot /usr/local/bin/warm-cache\n"
    b"*/10 * * * * echo 'ten' \\% done"
)


def manifest(
    name: str,
    *,
    job_id: uuid.UUID | None = None,
    namespace: str = "default",
    schedule: str = "*/5 * * * *",
    command: str = "echo hello",
    extra_spec: str = "",
    labels: dict[str, str] | None = None,
) -> tuple[uuid.UUID, str, str]:
    """Return (id, path, YAML) of a job manifest."""
    job_id = job_id or uuid.uuid4()
    label_lines = "".join(f"    {k}: {v}\n" for k, v in (labels or {}).items())
    text = (
        "apiVersion: crontopus.io/v1\n"
        "kind: Job\n"
        "metadata:\n"
        f"  id: {job_id}\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        + (f"  labels:\n{label_lines}" if label_lines else "")
        + "spec:\n"
        f'  schedule: "{schedule}"\n'
        f"  command: {command!r}\n" + extra_spec
    )
    return job_id, f"{namespace}/{name}.yaml", text


@dataclass
class JobRepo:
    """A bare job repository written through pygit2, as the server's store would."""

    path: Path
    files: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def commit(self, changes: dict[str, str | None], message: str = "jobs") -> str:
        """Apply file changes (None deletes) and commit them on main."""
        for path, text in changes.items():
            if text is None:
                self.files.pop(path, None)
            else:
                self.files[path] = text
        repo = pygit2.Repository(str(self.path))
        namespaces: dict[str, dict[str, str]] = {}
        for path, text in self.files.items():
            directory, name = path.split("/", 1)
            namespaces.setdefault(directory, {})[name] = text
        root = repo.TreeBuilder()
        for directory, entries in sorted(namespaces.items()):
            builder = repo.TreeBuilder()
            for name, text in sorted(entries.items()):
                builder.insert(name, repo.create_blob(text.encode()), pygit2.GIT_FILEMODE_BLOB)
            root.insert(directory, builder.write(), pygit2.GIT_FILEMODE_TREE)
        signature = pygit2.Signature("Crontopus", "crontopus@example.com")
        reference = repo.references.get("refs/heads/main")
        parents = [reference.target] if reference is not None else []
        commit = repo.create_commit(
            "refs/heads/main", signature, signature, message, root.write(), parents
        )
        return str(commit)


@pytest.fixture
def job_repo(tmp_path: Path) -> JobRepo:
    path = tmp_path / "jobs.git"
    pygit2.init_repository(str(path), bare=True)
    return JobRepo(path)


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    state = StateDir(tmp_path / "state")
    state.create()
    state.write_token("cte_test_token")
    return state


@pytest.fixture
def crontab(tmp_path: Path) -> Path:
    path = tmp_path / "crontab"
    path.write_bytes(FOREIGN_CRONTAB)
    return path


def agent_config(crontab: Path, job_repo: JobRepo, **changes: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "driver": "cron",
        "driver_options": {"crontab_file": str(crontab), "machine_zone": "UTC", "cron_tz": "no"},
        "repository_url": job_repo.url,
        "wrapper": WRAPPER,
        "labels": {"role": "web"},
    }
    values.update(changes)
    return AgentConfig(**values)


@pytest.fixture
def config(crontab: Path, job_repo: JobRepo, state: StateDir) -> AgentConfig:
    config = agent_config(crontab, job_repo)
    save_config(state, config)
    return config


@pytest.fixture
def syncer(state: StateDir, config: AgentConfig) -> Syncer:
    driver = CronDriver.from_options(dict(config.driver_options))
    return Syncer(state, config, driver)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A real crontopus-server process that can be stopped and started on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "crontopus-server"), "--log-level", "warning"]
        command += ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--migrate"]
        env = {**os.environ, "CRONTOPUS_DATA_DIR": str(self.data_dir)}
        env.pop("CRONTOPUS_DATABASE_URL", None)
        self.process = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"crontopus-server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("crontopus-server did not become healthy within 60 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def graphql(self, query: str, variables: dict[str, Any] | None = None, token: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    def register(self, username: str = "alice") -> str:
        """Register a user (and their tenant); return an access token."""
        data = self.graphql(
            """mutation($u: String!, $e: String!, $p: String!) {
                 register(username: $u, email: $e, password: $p) {
                   ... on AuthPayload { accessToken } } }""",
            {"u": username, "e": f"{username}@example.com", "p": PASSWORD},
        )
        token: str = data["register"]["accessToken"]
        return token

    def api_token(self, access: str, scopes: list[str]) -> str:
        data = self.graphql(
            """mutation($s: [TokenScope!]!) { createApiToken(name: "agent-test", scopes: $s) {
                 ... on CreatedApiToken { plaintext } } }""",
            {"s": scopes},
            access,
        )
        token: str = data["createApiToken"]["plaintext"]
        return token

    def runs(self, access: str, job_id: uuid.UUID) -> list[dict[str, Any]]:
        data = self.graphql(
            """query($j: UUID!) { runs(filter: {jobId: $j}, first: 100) { nodes {
                 id status exitCode output durationMs startedAt finishedAt } } }""",
            {"j": str(job_id)},
            access,
        )
        nodes: list[dict[str, Any]] = data["runs"]["nodes"]
        return nodes


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A migrated crontopus-server on SQLite in a temp data dir, stopped after the test."""
    server = Server(tmp_path / "server-data")
    server.start()
    yield server
    server.stop()


FLEET_MUTATIONS = ("enrollEndpoint", "heartbeat", "reportJobInstances", "reportDiscoveredJobs")


@pytest.fixture
def fleet_server(server: Server) -> Server:
    """The server, when it offers the fleet API the agent enrolls and reports through."""
    data = server.graphql('{ __type(name: "Mutation") { fields { name } } }')
    names = {field["name"] for field in data["__type"]["fields"]}
    missing = [name for name in FLEET_MUTATIONS if name not in names]
    if missing:
        pytest.skip(f"the server does not offer {', '.join(missing)} yet (fleet API not landed)")
    return server
