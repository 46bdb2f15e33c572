"""The fault suite: real dependencies broken under check-in load.

Every case asserts that no acknowledged check-in is lost, no request is answered 500, the log
is not flooded, and the server recovers without a restart; and prints what it saw (the figures
in docs/reliability.md). Cases that mount filesystems, start a PostgreSQL cluster of their own
or kill the server change the machine and run only with CRONTOPUS_TEST_MACHINE=1.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.server.fault_kit import (
    LOG_FLOOD,
    Load,
    PrivatePostgres,
    ServerProcess,
    check_in_load,
    errors_and_tracebacks,
    fill,
    flood,
    provision,
    stored_runs,
    tmpfs,
    watch_runs,
)

pytestmark = pytest.mark.timeout(120)
machine = pytest.mark.machine


def report(
    case: str, load: Load, stored: set[UUID], servers: list[ServerProcess], **figures: object
) -> None:
    """Print what a case saw, for the table in docs/reliability.md."""
    kept = len(load.acknowledged & stored)
    warnings = sum(len(flood(server.log_lines())) for server in servers)
    extra = ", ".join(f"{name} {value}" for name, value in figures.items())
    print(f"\n[fault] {case}: {load.summary(kept)}; log lines (warning+) {warnings}; {extra}")


def assert_contract(load: Load, stored: set[UUID], server: ServerProcess) -> None:
    lost = load.acknowledged - stored
    assert not lost, f"{len(lost)} acknowledged check-ins were lost"
    assert load.statuses[500] == 0, load.statuses
    lines = flood(server.log_lines())
    assert len(lines) <= LOG_FLOOD, lines[:20]


def run_load(
    server: ServerProcess,
    token: str,
    job: str,
    plan: Sequence[tuple[float, Callable[[], None] | None]],
    watched: list[tuple[float, str]] | None = None,
) -> Load:
    """Run check-in load while `plan` steps (delay, action) run; stop after the last one.

    With `watched`, a live `runEvents` subscriber notes what it receives there."""
    load = Load()
    done = False

    async def steps() -> None:
        nonlocal done
        for delay, action in plan:
            await asyncio.sleep(delay)
            if callable(action):
                await asyncio.to_thread(action)
        done = True

    async def main() -> None:
        tasks = [steps(), check_in_load(server.url, token, job, lambda: done, load=load)]
        if watched is not None:
            tasks.append(watch_runs(server.ws_url, token, lambda: done, watched))
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return load


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the suite's own, stopped and started at will."""
    cluster = PrivatePostgres()
    cluster.start()
    yield cluster
    cluster.destroy()


def fresh_database(cluster: PrivatePostgres, name: str) -> str:
    async def create() -> None:
        connection = await asyncpg.connect(cluster.url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return cluster.url.rsplit("/", 1)[0] + f"/{name}"


@machine
def test_postgresql_stopped_and_restarted_under_load_loses_nothing_acknowledged(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    url = fresh_database(postgres, "restart")
    # A one-second credential cache: the identity lookup runs during the outage, as it did
    # when it answered 500.
    env = {
        "CRONTOPUS_DATABASE_URL": url,
        "CRONTOPUS_AUTH_CACHE_SECONDS": "1",
        "CRONTOPUS_DATABASE_TIMEOUT": "2",
    }
    server = ServerProcess.start(tmp_path / "data", env, migrate=True)
    try:
        token, job = provision(server)
        marks: dict[str, float] = {}

        def stop() -> None:
            marks["stopped"] = time.monotonic()
            postgres.stop("fast")

        def start() -> None:
            postgres.start()
            marks["started"] = time.monotonic()

        watched: list[tuple[float, str]] = []

        def streaming_again() -> None:
            # The event bus reconnects with backoff: wait (at most 10 s) for a live event.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if any(w == "event" and at > marks["started"] for at, w in list(watched)):
                    return
                time.sleep(0.1)

        plan = [(1.0, stop), (2.0, start), (1.0, streaming_again), (0.5, None)]
        load = run_load(server, token, job, plan, watched)
        stored = asyncio.run(stored_runs(url))
        answers = httpx.get(f"{server.url}/ready", timeout=10)
        report(
            "PostgreSQL stopped 2 s under load",
            load,
            stored,
            [server],
            recovery=f"{load.recovery_after(marks['started']):.2f} s after restart",
            stream_ends=[what for _, what in watched if what != "event"],
            stream_events=sum(what == "event" for _, what in watched),
        )
        assert_contract(load, stored, server)
        assert load.answered_503 > 0, "the outage was not noticed"
        assert answers.status_code == 200, answers.text
        log = server.log_lines()
        assert sum("the database is unavailable" in line for line in log) >= 1
        assert sum("the database is back after" in line for line in log) >= 1
        assert not errors_and_tracebacks(log), errors_and_tracebacks(log)[:5]
        # The live stream either stayed open or ended with a reason, and delivers again.
        ends = [what for _, what in watched if what != "event"]
        assert all("UNAVAILABLE" in end or "1013" in end for end in ends), ends
        assert [at for at, what in watched if what == "event" and at > marks["started"]], watched
    finally:
        server.stop()
        postgres.start()


@machine
def test_a_slow_postgresql_bounds_request_time_and_the_ingest_queue(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    url = fresh_database(postgres, "slow")
    env = {
        "CRONTOPUS_DATABASE_URL": url,
        "CRONTOPUS_DATABASE_TIMEOUT": "1",
        "CRONTOPUS_INGEST_QUEUE_LIMIT": "100",
    }
    server = ServerProcess.start(tmp_path / "data", env, migrate=True)
    depths: list[float] = []
    try:
        token, job = provision(server)

        async def hold_runs_lock() -> None:
            connection = await asyncpg.connect(postgres.url.rsplit("/", 1)[0] + "/slow")
            try:
                async with connection.transaction():
                    await connection.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
                    for _ in range(6):
                        await asyncio.sleep(0.5)
                        depths.append(await queue_depth(server.url))
            finally:
                await connection.close()

        marks: dict[str, float] = {}

        def hold() -> None:
            asyncio.run(hold_runs_lock())
            marks["released"] = time.monotonic()

        load = run_load(server, token, job, [(1.0, hold), (1.0, None)])
        stored = asyncio.run(stored_runs(url))
        report(
            "PostgreSQL runs table locked 3 s",
            load,
            stored,
            [server],
            deepest_queue=int(max(depths)),
            recovery=f"{load.recovery_after(marks['released']):.2f} s after release",
        )
        assert_contract(load, stored, server)
        assert load.answered_503 > 0
        # Bounded by the database timeout (1 s) for the batch ahead and its own, plus slack.
        assert load.slowest < 4.0, load.slowest
        assert max(depths) <= 100
        assert not errors_and_tracebacks(server.log_lines())
    finally:
        server.stop()


async def queue_depth(url: str) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{url}/metrics")).text
    match = re.search(r"^crontopus_ingest_queue_depth (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@machine
def test_sqlite_on_a_full_filesystem_answers_503_and_recovers_without_corruption(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "24m") as disk:
        data = disk / "data"
        server = ServerProcess.start(data, {"CRONTOPUS_DATABASE_TIMEOUT": "2"}, migrate=True)
        try:
            token, job = provision(server)
            marks: dict[str, float] = {}
            filler: list[Path] = []

            def full() -> None:
                filler.append(fill(disk))

            def free() -> None:
                filler[0].unlink()
                marks["freed"] = time.monotonic()

            load = run_load(server, token, job, [(1.0, full), (2.0, free), (1.5, None)])
            database = data / "crontopus.db"
            check = sqlite3.connect(database)
            try:
                integrity = check.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                check.close()
            stored = asyncio.run(stored_runs(f"sqlite:///{database}"))
            report(
                "SQLite filesystem full 2 s",
                load,
                stored,
                [server],
                integrity=integrity,
                recovery=f"{load.recovery_after(marks['freed']):.2f} s after space returned",
            )
            assert integrity == "ok"
            assert_contract(load, stored, server)
            assert load.answered_503 > 0, "the full disk was not noticed"
            assert not errors_and_tracebacks(server.log_lines())
        finally:
            server.stop()


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def test_sqlite_locked_by_another_process_waits_a_bounded_time_then_answers_503(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    server = ServerProcess.start(data, {"CRONTOPUS_DATABASE_TIMEOUT": "1"}, migrate=True)
    try:
        token, job = provision(server)
        marks: dict[str, float] = {}

        def lock() -> None:
            with subprocess.Popen(
                [sys.executable, "-c", HOLD_LOCK, str(data / "crontopus.db"), "2.5"],
                stdout=subprocess.PIPE,
            ) as holder:
                assert holder.stdout is not None
                assert holder.stdout.readline().strip() == b"locked"
                holder.wait(timeout=30)
            marks["released"] = time.monotonic()

        load = run_load(server, token, job, [(1.0, lock), (1.0, None)])
        stored = asyncio.run(stored_runs(f"sqlite:///{data / 'crontopus.db'}"))
        report(
            "SQLite write lock held 2.5 s by another process",
            load,
            stored,
            [server],
            recovery=f"{load.recovery_after(marks['released']):.2f} s after release",
        )
        assert_contract(load, stored, server)
        assert load.answered_503 > 0
        assert load.slowest < 4.0, load.slowest
        assert not errors_and_tracebacks(server.log_lines())
    finally:
        server.stop()


CREATE_JOB = (
    'mutation($n: String!) { createJob(input: {name: $n, schedule: "* * * * *", '
    'command: "true"}) { __typename ... on Job { id } ... on UserError { message } } }'
)


@machine
def test_a_git_store_that_cannot_write_fails_the_mutation_and_stays_consistent(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with tmpfs(data / "git", "8m") as git_root:
        server = ServerProcess.start(data, {}, migrate=True)
        try:
            token, job = provision(server)
            headers = {"Authorization": f"Bearer {token}"}

            def create(name: str) -> httpx.Response:
                return httpx.post(
                    f"{server.url}/graphql",
                    json={"query": CREATE_JOB, "variables": {"n": name}},
                    headers=headers,
                    timeout=30,
                )

            filler = fill(git_root)
            refused = create("while-full")
            load = run_load(server, token, job, [(1.0, None)])  # check-ins still work
            filler.unlink()
            recovered = create("after")
            repository = git_root / "ops.git"
            fsck = subprocess.run(
                ["git", "-C", str(repository), "fsck", "--strict"],
                capture_output=True,
                text=True,
                check=False,
            )
            stored = asyncio.run(stored_runs(f"sqlite:///{data / 'crontopus.db'}"))
            report(
                "Git store full",
                load,
                stored,
                [server],
                mutation=refused.json()["errors"][0]["extensions"]["code"]
                if refused.json().get("errors")
                else refused.json()["data"]["createJob"]["__typename"],
                fsck="clean" if fsck.returncode == 0 else fsck.stderr,
            )
            body = refused.json()
            assert refused.status_code == 200, refused.text
            assert body.get("errors"), body
            assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE", body
            assert "Git store" in body["errors"][0]["message"]
            assert recovered.json()["data"]["createJob"]["__typename"] == "Job", recovered.text
            assert fsck.returncode == 0, fsck.stdout + fsck.stderr
            assert_contract(load, stored, server)
            assert not errors_and_tracebacks(server.log_lines())
        finally:
            server.stop()


@machine
def test_sigterm_and_sigkill_under_load_lose_no_acknowledged_check_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    servers = [ServerProcess.start(data, {}, migrate=True)]
    try:
        token, job = provision(servers[0])
        down: dict[str, float] = {}

        def stop_with(signal_number: int) -> None:
            servers[-1].signal(signal_number)
            down[str(signal_number)] = time.monotonic()
            servers.append(servers[-1].restart())

        load = run_load(
            servers[0],
            token,
            job,
            [(1.0, lambda: stop_with(15)), (1.0, lambda: stop_with(9)), (1.0, None)],
        )
        stored = asyncio.run(stored_runs(f"sqlite:///{data / 'crontopus.db'}"))
        report(
            "SIGTERM then SIGKILL under load (SQLite)",
            load,
            stored,
            servers,
            recovery=f"{load.recovery_after(down['9']):.2f} s after SIGKILL (restart included)",
        )
        lost = load.acknowledged - stored
        assert not lost, f"{len(lost)} acknowledged check-ins were lost"
        assert load.statuses[500] == 0, load.statuses
        assert len(load.acknowledged) > 20
        for server in servers:
            assert len(flood(server.log_lines())) <= LOG_FLOOD
    finally:
        for server in servers:
            server.stop()
