"""What the fault suite breaks things with: a server process whose log is kept, a private
PostgreSQL cluster, small tmpfs mounts, and a check-in load that counts what it was told."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import Run
from crontopus.server.settings import normalise_database_url
from tests.server.conftest import PASSWORD, free_port
from tests.support import fill, tmpfs

__all__ = ["fill", "tmpfs"]  # the machine helpers live in tests/support.py

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
#: One outage is a handful of lines (gone, back, the event bus likewise); the flood was 7,000.
LOG_FLOOD = 10


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
            # Retention keeps 1,000 runs a job: under load on a quick machine a case acknowledges
            # more, and pruned runs would read as lost. Every acknowledged run must stay countable.
            "CRONTOPUS_RUN_RETENTION": "1000000",
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
    successes: list[float] = field(default_factory=list)  # when each 200 arrived

    @property
    def answered_503(self) -> int:
        return self.statuses[503]

    def recovery_after(self, cleared: float) -> float:
        """Seconds from `cleared` (when the fault ended) to the first acknowledgement after it."""
        after = [moment for moment in self.successes if moment >= cleared]
        return min(after) - cleared if after else float("inf")

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
                load.successes.append(time.monotonic())
            else:
                now = time.monotonic()
                load.first_refusal = load.first_refusal or now
                load.last_refusal = now
                await asyncio.sleep(0.02)

    async with httpx.AsyncClient(base_url=url, timeout=patience, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
    return load


RUN_EVENTS = "subscription { runEvents { kind run { id } } }"


async def watch_runs(
    ws_url: str, token: str, until: Callable[[], bool], seen: list[tuple[float, str]]
) -> None:
    """Follow `runEvents` like a console would: note each event, and each end with its reason,
    then subscribe again half a second later."""
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": RUN_EVENTS}}
    while not until():
        try:
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps(init))
                ack = json.loads(await ws.recv())
                if ack["type"] != "connection_ack":
                    seen.append((time.monotonic(), f"refused: {ack}"))
                    continue
                await ws.send(json.dumps(subscribe))
                while not until():
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    except TimeoutError:
                        continue
                    payload = message.get("payload")
                    errors = payload.get("errors") if isinstance(payload, dict) else payload
                    if message["type"] == "next" and not errors:
                        seen.append((time.monotonic(), "event"))
                        continue
                    codes = [e.get("extensions", {}).get("code") for e in errors or []]
                    seen.append((time.monotonic(), f"{message['type']}: {codes}"))
                    break
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            seen.append((time.monotonic(), f"closed: {code}"))
        except OSError as error:
            seen.append((time.monotonic(), f"unreachable: {type(error).__name__}"))
        await asyncio.sleep(0.5)


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

    def running(self) -> bool:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.data),
             "status"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        return result.returncode == 0

    def start(self) -> None:
        if self.running():
            return
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
