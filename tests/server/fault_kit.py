"""What the fault suite breaks things with: a server process whose log is kept, a private
PostgreSQL cluster, small tmpfs mounts, and a check-in load that counts what it was told."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import Run
from crontopus.server.settings import normalise_database_url
from tests.server.conftest import PASSWORD, free_port

REGISTER = (
    'mutation($p: String!) { register(username: "ops", email: "ops@example.com", '
    "password: $p) { ... on AuthPayload { accessToken } } }"
)
API_TOKEN = (
    'mutation { createApiToken(name: "load", scopes: [CHECKIN, READ, WRITE]) '
    "{ ... on CreatedApiToken { plaintext } } }"
)
CREATE_JOB = (
    'mutation($name: String!) { createJob(input: {name: $name, schedule: "* * * * *", '
    'command: "true"}) { __typename ... on Job { id } ... on UserError { message } } }'
)
#: A log may say a dependency went away and came back, a few times over; a flood is hundreds.
LOG_FLOOD = 60


@dataclass
class ServerProcess:
    """A `crontopus-server serve` process whose stderr is kept in a file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    port: int
    data_dir: Path

    @classmethod
    def start(
        cls, data_dir: Path, env: dict[str, str], *, migrate: bool = False, port: int | None = None
    ) -> ServerProcess:
        port = port or free_port()
        full_env = {
            **os.environ,
            "CRONTOPUS_DATA_DIR": str(data_dir),
            "CRONTOPUS_LOG_FORMAT": "json",
            **env,
        }
        command = [str(Path(sys.executable).parent / "crontopus-server"), "--log-level", "warning"]
        command += ["serve", "--host", "127.0.0.1", "--port", str(port)]
        if migrate:
            command.append("--migrate")
        log_path = Path(tempfile.mkstemp(prefix="crontopus-server-", suffix=".log")[1])
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, env=full_env, stderr=log, stdout=log)
        server = cls(f"http://127.0.0.1:{port}", process, log_path, env, port, data_dir)
        server.wait_healthy()
        return server

    def wait_healthy(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"crontopus-server exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("crontopus-server did not become healthy in time")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)
        self.process.wait(timeout=30)

    def restart(self) -> ServerProcess:
        """Start a new process on the same port, data directory and database."""
        return ServerProcess.start(self.data_dir, self.env, port=self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)


def provision(server: ServerProcess) -> tuple[str, str]:
    """Register a user; return a check-in API token and a job id."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        access = client.post(
            "/graphql", json={"query": REGISTER, "variables": {"p": PASSWORD}}
        ).json()["data"]["register"]["accessToken"]
        auth = {"Authorization": f"Bearer {access}"}
        token = client.post("/graphql", headers=auth, json={"query": API_TOKEN}).json()["data"][
            "createApiToken"
        ]["plaintext"]
        job = client.post(
            "/graphql", headers=auth, json={"query": CREATE_JOB, "variables": {"name": "load"}}
        ).json()["data"]["createJob"]
    assert job["__typename"] == "Job", job
    return token, job["id"]


@dataclass
class Load:
    """What a check-in load was told: acknowledged run ids, answers by status, timings."""

    acknowledged: set[uuid.UUID] = field(default_factory=set)
    statuses: Counter[int | str] = field(default_factory=Counter)
    slowest: float = 0.0
    first_refusal: float | None = None
    last_refusal: float | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def answered_503(self) -> int:
        return self.statuses[503]

    def recovery_after(self, cleared: float) -> float | None:
        """Seconds from `cleared` (a monotonic time) to the last refusal (0 if none after)."""
        if self.last_refusal is None:
            return 0.0
        return max(0.0, self.last_refusal - cleared)

    def summary(self, stored: int) -> str:
        answers = sorted(self.statuses.items(), key=str)
        codes = ", ".join(f"{code}: {count}" for code, count in answers)
        return (
            f"acknowledged {len(self.acknowledged)}, stored {stored} of them, "
            f"answers {{{codes}}}, slowest answer {self.slowest:.2f} s"
        )


async def check_in_load(
    url: str,
    token: str,
    job_id: str,
    until: Callable[[], bool],
    *,
    concurrency: int = 16,
    load: Load | None = None,
    patience: float = 30.0,
) -> Load:
    """Send finish check-ins from `concurrency` clients until `until()`; count the answers."""
    load = load or Load()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not until():
            run_id = uuid.uuid4()
            started = time.monotonic()
            try:
                answer = await client.post(
                    f"/checkin/{job_id}/0",
                    params={"rid": str(run_id)},
                    content=b"fault suite",
                    headers=headers,
                )
            except httpx.TransportError as error:
                load.statuses[type(error).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            took = time.monotonic() - started
            load.slowest = max(load.slowest, took)
            load.statuses[answer.status_code] += 1
            if answer.status_code == 200:
                load.acknowledged.add(run_id)
            else:
                now = time.monotonic()
                load.first_refusal = load.first_refusal or now
                load.last_refusal = now
                await asyncio.sleep(0.02)

    async with httpx.AsyncClient(base_url=url, timeout=patience, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
    return load


async def stored_runs(database_url: str) -> set[uuid.UUID]:
    """The ids of every run in the database."""
    engine = create_engine(normalise_database_url(database_url))
    try:
        async with engine.connect() as connection:
            return set((await connection.execute(select(Run.id))).scalars())
    finally:
        await engine.dispose()


def flood(lines: list[str]) -> list[str]:
    """The log lines that count against a flood: warnings and worse, and tracebacks."""
    return [
        line
        for line in lines
        if '"level": "warning"' in line
        or '"level": "error"' in line
        or '"level": "critical"' in line
        or line.startswith("Traceback")
    ]


def errors_and_tracebacks(lines: list[str]) -> list[str]:
    return [
        line
        for line in lines
        if '"level": "error"' in line or '"level": "critical"' in line or "Traceback" in line
    ]


# ---- the machine: mounts and a private PostgreSQL ----------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `path` for the block; unmount it after, whatever happened."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                   check=True)  # fmt: skip
    try:
        yield path
    finally:
        result = subprocess.run(["umount", str(path)], check=False, capture_output=True)
        if result.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a file in `directory` until its filesystem is full; return it (unlink to free)."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
        # Then the last few bytes a chunk could not take.
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 512)
                handle.flush()
    return filler


POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own: initdb'd under /tmp, on a free port."""

    def __init__(self) -> None:
        if not POSTGRES_BIN:
            raise RuntimeError("PostgreSQL server binaries are not installed")
        self.bin = POSTGRES_BIN[-1]
        self.root = Path(tempfile.mkdtemp(prefix="crontopus-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.root / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop",
            check=False,
        )  # fmt: skip

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _as_postgres(self, *command: str, check: bool = True) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")
