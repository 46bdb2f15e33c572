"""Missed-run detection over 10,000 jobs x 100 endpoints, and notification dispatch rate.

Builds a migrated SQLite database with one tenant, 100 online endpoints and, for every job and
endpoint, the run that answered the job's last fire time (1 in 100 jobs misses it on one
endpoint). Jobs come straight from memory (60 different hourly schedules in Europe/Berlin, all
targeting every endpoint), so the timing is the evaluation's and not Git's. Then, per job count:

- warm-up: the first cycle, which reads the latest start of every (job, endpoint) pair once;
- cycle:   a full periodic cycle after the cursor was put back an hour, so every job has a
           fire time to judge (the worst case: a worker that was down for an hour), including
           opening the incidents of the misses;
- judge:   the pure judgement alone (`find_misses`) on the same data.

Dispatch: N incidents whose notifications go to a webhook on a local receiver; the rate is
notifications delivered per second by one dispatcher.

    .venv/bin/python benchmarks/missed_runs.py [--jobs 1000 2500 5000 10000] [--dispatch 500]

Target: one cycle over 10,000 jobs x 100 endpoints within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from results import record
from sqlalchemy import insert, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crontopus.core.enums import RunStatus
from crontopus.core.job import JobManifest, Targets
from crontopus.server.db.engine import create_engine, create_session_factory
from crontopus.server.db.migrate import upgrade
from crontopus.server.db.models import (
    AlertChannel,
    AlertCursor,
    AlertRule,
    ChannelKind,
    Endpoint,
    Run,
    Tenant,
)
from crontopus.server.events.broadcaster import InProcessBroadcaster
from crontopus.server.security.outbound import OutboundPolicy, parse_allow_list
from crontopus.server.services.alerts.channels.network import Network
from crontopus.server.services.alerts.engine.dispatcher import Dispatcher, RetryPolicy
from crontopus.server.services.alerts.engine.incidents import Announcer, Opening, open_incidents
from crontopus.server.services.alerts.engine.missed import EndpointInfo, find_misses, latest_fire
from crontopus.server.services.alerts.engine.periodic import CURSOR, PeriodicEvaluator

ENDPOINTS = 100
TIMEZONE = "Europe/Berlin"


def jobs_of(count: int) -> list[JobManifest]:
    return [
        JobManifest(
            id=uuid.uuid4(),
            name=f"job-{index}",
            namespace="bench",
            labels={},
            schedule=f"{index % 60} * * * *",
            timezone=TIMEZONE,
            command="/bin/true",
            args=(),
            env={},
            grace_time=300,
            targets=Targets({"role": "worker"}),
        )
        for index in range(count)
    ]


async def build(folder: Path, jobs: list[JobManifest], now: datetime) -> tuple[str, uuid.UUID]:
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(url)
    engine = create_engine(url)
    session = create_session_factory(engine)
    tenant_id = uuid.uuid4()
    endpoint_ids = [uuid.uuid4() for _ in range(ENDPOINTS)]
    async with session() as s, s.begin():
        s.add(Tenant(id=tenant_id, slug="bench", name="bench"))
        await s.flush()
        s.add_all(
            Endpoint(
                id=endpoint_id,
                tenant_id=tenant_id,
                name=f"node-{i}",
                hostname=f"node-{i}",
                platform="linux",
                machine_id=uuid.uuid4().hex,
                agent_version="0.1.0",
                labels={"role": "worker"},
                token_hash=uuid.uuid4().hex * 2,
                enrolled_at=now - timedelta(days=30),
                last_seen_at=now,
            )
            for i, endpoint_id in enumerate(endpoint_ids)
        )
    rows = []
    for index, job in enumerate(jobs):
        fire = latest_fire(job.schedule, job.timezone, now - timedelta(hours=2), now)
        assert fire is not None
        for position, endpoint_id in enumerate(endpoint_ids):
            if index % 100 == 0 and position == 0:
                continue  # this job missed its last fire on this endpoint
            started = fire.astimezone(UTC) + timedelta(seconds=5)
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "id": uuid.uuid4(),
                    "job_id": job.id,
                    "job_name": job.name,
                    "namespace": job.namespace,
                    "endpoint_id": endpoint_id,
                    "status": RunStatus.SUCCESS,
                    "started_at": started,
                    "start_reported": True,
                    "finished_at": started + timedelta(seconds=2),
                    "duration_ms": 2000,
                    "exit_code": 0,
                    "output": "",
                    "output_truncated": False,
                    "unknown_job": False,
                    "received_at": started,
                }
            )
    for chunk in range(0, len(rows), 50_000):
        async with session() as s, s.begin():
            await s.execute(insert(Run), rows[chunk : chunk + 50_000])
    await engine.dispose()
    return url, tenant_id


async def bench_cycle(count: int) -> None:
    jobs = jobs_of(count)
    by_id: Mapping[uuid.UUID, JobManifest] = {job.id: job for job in jobs}
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        url, _tenant = await build(Path(tmp), jobs, now)
        setup = time.perf_counter() - started
        engine = create_engine(url)
        session = create_session_factory(engine)

        async def source(_slug: str) -> Mapping[uuid.UUID, JobManifest]:
            return by_id

        evaluator = PeriodicEvaluator(
            session,
            source,
            Announcer(InProcessBroadcaster()),
            clock=lambda: now,
            offline_after=timedelta(minutes=5),
        )
        started = time.perf_counter()
        await evaluator.cycle()
        warm = time.perf_counter() - started
        async with session() as s, s.begin():
            await s.execute(
                update(AlertCursor)
                .where(AlertCursor.name == CURSOR)
                .values(evaluated_until=now - timedelta(hours=1))
            )
        report = await evaluator.cycle()
        endpoints = [
            EndpointInfo(uuid.uuid4(), f"n{i}", {"role": "worker"}, now - timedelta(days=1), True)
            for i in range(ENDPOINTS)
        ]
        starts: dict[int, dict[int | None, datetime]] = {
            job.id.int: {e.id.int: now - timedelta(minutes=1) for e in endpoints} for job in jobs
        }
        latest_fire.cache_clear()
        started = time.perf_counter()
        find_misses(jobs, endpoints, starts, now - timedelta(hours=1), now)
        judge = time.perf_counter() - started
        await engine.dispose()
    CYCLES[count] = report.seconds
    print(
        f"{count:>6} jobs x {ENDPOINTS} endpoints: cycle {report.seconds * 1000:7.1f} ms "
        f"({report.opened} incidents opened)  judge {judge * 1000:7.1f} ms  "
        f"warm-up {warm * 1000:7.1f} ms  (setup {setup:.1f} s)"
    )


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, list[int]]]:
    seen: list[int] = []

    async def record(request: Request) -> Response:
        await request.body()
        seen.append(1)
        return Response(status_code=204)

    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", record, methods=["POST"])]),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", seen
    finally:
        server.should_exit = True
        await task


async def bench_dispatch(count: int) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'dispatch.db'}"
        await upgrade(url)
        engine = create_engine(url)
        session = create_session_factory(engine)
        tenant_id = uuid.uuid4()
        async with receiver() as (hook, seen):
            async with session() as s, s.begin():
                s.add(Tenant(id=tenant_id, slug="bench", name="bench"))
                await s.flush()
                s.add(
                    AlertChannel(
                        tenant_id=tenant_id,
                        name="hook",
                        kind=ChannelKind.WEBHOOK,
                        config={"url": hook, "secret": "x" * 32},
                    )
                )
                await s.flush()
                openings = [
                    Opening(AlertRule.FAILURE, f"FAILURE:{uuid.uuid4()}", f"job {i} failed")
                    for i in range(count)
                ]
                await open_incidents(s, tenant_id, openings, now, Announcer(InProcessBroadcaster()))
            dispatcher = Dispatcher(
                session,
                policy=replace(RetryPolicy(), attempts=1),
                clock=lambda: datetime.now(UTC),
                # The receiver listens on loopback, which channels reach only when allowed.
                network=Network(OutboundPolicy(parse_allow_list("127.0.0.1/32"))),
            )
            started = time.perf_counter()
            sent = await dispatcher.dispatch_due()
            elapsed = time.perf_counter() - started
            await dispatcher.close()
            assert len(seen) == sent == count, (len(seen), sent)
        await engine.dispose()
    print(f"dispatch: {count} webhooks in {elapsed:.2f} s = {count / elapsed:,.0f} notifications/s")
    DISPATCH.append(count / elapsed)


CYCLES: dict[int, float] = {}
DISPATCH: list[float] = []


async def main(counts: list[int], dispatch: int) -> None:
    for count in counts:
        await bench_cycle(count)
    await bench_dispatch(dispatch)
    largest = max(CYCLES)
    record(
        "missed_runs.py",
        f"missed-run detection, {largest:,} jobs x {ENDPOINTS} endpoints",
        "<= 1 s a cycle",
        f"{CYCLES[largest]:.2f} s a cycle; {DISPATCH[0]:,.0f} webhooks/s dispatched",
        CYCLES[largest] <= 1,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 2500, 5000, 10000])
    parser.add_argument("--dispatch", type=int, default=500)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.jobs, arguments.dispatch))
