"""`jobHealth` latency at 100k and 1M stored runs: answered from rollups, so it stays flat.

Runs are stored through the real ingest writer (the same group-committed path check-ins
take, rollups included) for 50 jobs over the last 90 days, on SQLite. At each size the
script times the GraphQL `jobHealth` query through the ASGI app, and, as the baseline
measured in the same run, the brute-force SQL count over the raw runs it replaces.

    .venv/bin/python benchmarks/health_rollups.py [--sizes 100000 1000000]

Target: jobHealth at most 50 ms at every size (flat).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from results import record
from sqlalchemy import case, func, select

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState, create_app, create_state
from crontopus.server.db.migrate import upgrade
from crontopus.server.db.models import Run
from crontopus.server.services.checkins import CheckIn, CheckInKind
from crontopus.server.settings import Settings

JOBS = 50
QUERY = "query($w: HealthWindow) { jobHealth(window: $w) { jobId figures { runs health } } }"


async def timed(call: Callable[[], Awaitable[Any]], repeat: int = 15) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def fill(state: AppState, tenant: uuid.UUID, jobs: list[uuid.UUID], count: int) -> None:
    randomizer = random.Random(count)
    now = datetime.now(UTC)
    batch: list[CheckIn] = []
    for _ in range(count):
        at = now - timedelta(seconds=randomizer.randint(0, 90 * 24 * 3600))
        ok = randomizer.random() < 0.9
        batch.append(
            CheckIn(
                tenant_id=tenant,
                run_id=uuid.uuid4(),
                job_id=randomizer.choice(jobs),
                kind=CheckInKind.FINISH,
                at=at,
                status=RunStatus.SUCCESS if ok else RunStatus.FAILURE,
                exit_code=0 if ok else 1,
                duration_ms=1000,
            )
        )
        if len(batch) == 5000:
            await state.ingest._store(batch)  # the writer's own batch step
            batch = []
    if batch:
        await state.ingest._store(batch)


async def main(sizes: list[int]) -> None:
    data_dir = tempfile.mkdtemp(prefix="crontopus-bench-")
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": data_dir, "CRONTOPUS_RUN_RETENTION": str(10**9)}
    )
    await upgrade(settings.database_url)
    state = create_state(settings)
    app = create_app(settings, state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        registered = await client.post("/graphql", json={
            "query": 'mutation { register(username: "bench", email: "b@example.com", '
                     'password: "load-test-secret-42") { ... on AuthPayload { accessToken '
                     "tenant { id } } } }"})  # fmt: skip
        payload = registered.json()["data"]["register"]
        token, tenant = payload["accessToken"], uuid.UUID(payload["tenant"]["id"])
        headers = {"Authorization": f"Bearer {token}"}
        jobs = []
        for index in range(JOBS):
            created = await client.post("/graphql", headers=headers, json={
                "query": f'mutation {{ createJob(input: {{name: "job-{index}", '
                         'schedule: "*/5 * * * *", command: "true"}) '
                         "{ ... on Job { id } } }"})  # fmt: skip
            jobs.append(uuid.UUID(created.json()["data"]["createJob"]["id"]))

        async def health(window: str) -> None:
            response = await client.post(
                "/graphql", headers=headers, json={"query": QUERY, "variables": {"w": window}}
            )
            assert len(json.loads(response.content)["data"]["jobHealth"]) == JOBS

        async def brute_force() -> None:
            start = datetime.now(UTC) - timedelta(days=90)
            async with state.session() as session:
                await session.execute(
                    select(Run.job_id, func.count(),
                           func.sum(case((Run.status == RunStatus.SUCCESS, 1), else_=0)))
                    .where(Run.tenant_id == tenant, Run.started_at >= start)
                    .group_by(Run.job_id)
                )  # fmt: skip

        stored = 0
        worst: dict[int, float] = {}
        print(f"{'runs':>9} {'24h ms':>8} {'7d ms':>8} {'30d ms':>8} {'90d ms':>8} "
              f"{'brute 90d ms':>13} {'ratio':>7}")  # fmt: skip
        for size in sizes:
            started = time.perf_counter()
            await fill(state, tenant, jobs, size - stored)
            stored = size
            fill_seconds = time.perf_counter() - started
            figures = [
                await timed(functools.partial(health, window))
                for window in ("H24", "D7", "D30", "D90")
            ]
            brute = await timed(brute_force, repeat=3)
            worst[size] = max(figures)
            verdict = "met" if max(figures) <= 50 else "MISSED"
            print(f"{size:>9} " + " ".join(f"{f:8.1f}" for f in figures)
                  + f" {brute:13.1f} {brute / figures[3]:7.1f}x   target <= 50 ms: {verdict}"
                  f"   (stored in {fill_seconds:.0f} s)")  # fmt: skip
    await state.engine.dispose()
    record(
        "health_rollups.py",
        "`jobHealth` over every window",
        "<= 50 ms, flat",
        ", ".join(f"{w:.1f} ms at {s:,} runs" for s, w in worst.items()),
        max(worst.values()) <= 50,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    asyncio.run(main(parser.parse_args().sizes))
