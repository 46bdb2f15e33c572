"""The periodic cycle: missed runs per targeted endpoint, offline endpoints, long runs."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState, create_state
from crontopus.server.db.models import AlertCursor, Endpoint, JobInstance
from crontopus.server.db.types import utcnow
from crontopus.server.services.alerts.periodic import CURSOR
from crontopus.server.services.checkins import CheckIn, CheckInKind
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    commit_job,
    eventually,
    incidents,
    report,
    shift_clock,
)


async def enroll(
    state: AppState, persona: Persona, name: str, labels: dict[str, str], seen: datetime | None
) -> uuid.UUID:
    """Add an endpoint row as enrollment would (heartbeats set `last_seen_at`)."""
    endpoint = Endpoint(
        tenant_id=uuid.UUID(persona.tenant_id),
        name=name,
        hostname=name,
        platform="linux",
        machine_id=uuid.uuid4().hex,
        agent_version="0.1.0",
        labels=labels,
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        enrolled_at=utcnow() - timedelta(days=1),
        last_seen_at=seen,
    )
    async with state.session() as session, session.begin():
        session.add(endpoint)
    return endpoint.id


async def test_a_missed_run_is_raised_per_targeted_endpoint_and_not_for_others(
    api: Api, state: AppState, alice: Persona
) -> None:
    now = utcnow()
    fire = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    later = fire + timedelta(seconds=31)
    ran = await enroll(state, alice, "db-1", {"role": "db"}, later)
    idle = await enroll(state, alice, "db-2", {"role": "db"}, later)
    await enroll(state, alice, "web-1", {"role": "web"}, later)
    await enroll(state, alice, "db-3", {"role": "db"}, now - timedelta(hours=1))
    job_id = await commit_job(
        state,
        alice,
        "dump",
        schedule="*/1 * * * *",
        grace=30,
        extra="  targets: {labels: {role: db}}\n",
    )
    await report(
        state, alice, job_id, RunStatus.SUCCESS, at=fire + timedelta(seconds=5), endpoint_id=ran
    )
    shift_clock(state, later)

    async def missed() -> list[dict[str, object]]:
        return await incidents(api, alice, rule="MISSED_RUN")

    (incident,) = await eventually(missed)
    assert incident["endpointId"] == str(idle)
    assert incident["title"].startswith("default/dump did not start on db-2")
    (offline,) = await incidents(api, alice, rule="ENDPOINT_OFFLINE")
    assert offline["title"] == "endpoint db-3 is offline"

    # A late run on db-2 resolves its incident; db-3 heartbeating again resolves the other.
    await report(
        state,
        alice,
        job_id,
        RunStatus.SUCCESS,
        at=fire + timedelta(seconds=45),
        endpoint_id=idle,
    )
    async with state.session() as session, session.begin():
        await session.execute(update(Endpoint).values(last_seen_at=later))

    async def open_ones() -> bool:
        return await incidents(api, alice, status=["OPEN"]) == []

    assert await eventually(open_ones)


async def test_a_run_going_on_too_long_opens_an_incident(
    api: Api, state: AppState, alice: Persona
) -> None:
    job_id = await commit_job(state, alice, "slow", alerts="{maxDuration: 60}")
    started = utcnow()
    await state.ingest.submit(
        CheckIn(
            tenant_id=uuid.UUID(alice.tenant_id),
            run_id=uuid.uuid4(),
            job_id=job_id,
            kind=CheckInKind.START,
            at=started,
        )
    )
    shift_clock(state, started + timedelta(seconds=90))

    async def too_long() -> list[dict[str, object]]:
        return await incidents(api, alice, rule="TOO_LONG")

    (incident,) = await eventually(too_long)
    assert incident["title"] == "default/slow has been running longer than 60 s"
    await report(state, alice, job_id, RunStatus.SUCCESS, duration=10)
    assert await incidents(api, alice, rule="TOO_LONG", status=["OPEN"]) == []


async def test_two_racing_cycles_judge_each_span_once(
    api: Api, state: AppState, alice: Persona
) -> None:
    other = create_state(replace(state.settings, in_process_worker=False))
    await other.start()
    try:
        job_id = await commit_job(state, alice, "raced", schedule="*/1 * * * *", grace=30)
        fire = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1)
        await report(state, alice, job_id, RunStatus.SUCCESS, at=fire - timedelta(seconds=59))
        for engine in (state.alerts, other.alerts):
            shift_clock_of(engine, fire + timedelta(seconds=31))
        reports = await asyncio.gather(*(e.cycle() for e in (other.alerts,) * 3))
        assert sum(r.opened for r in reports) <= 1
        assert len(await incidents(api, alice, rule="MISSED_RUN")) == 1
        async with state.session() as session:
            cursor = await session.scalar(select(AlertCursor).where(AlertCursor.name == CURSOR))
        assert cursor is not None
    finally:
        await other.stop()


def shift_clock_of(engine: object, to: datetime) -> None:
    offset = to - utcnow()
    engine.clock = lambda: utcnow() + offset  # type: ignore[attr-defined]


async def test_an_endpoint_whose_scheduler_stays_different_from_git_raises_drift(
    api: Api, state: AppState, alice: Persona
) -> None:
    start = utcnow()
    endpoint_id = await enroll(state, alice, "db-9", {"role": "db"}, start)
    job_id = await commit_job(state, alice, "vacuum", extra="  targets: {labels: {role: db}}\n")

    async def look(at: datetime) -> None:
        async with state.session() as session, session.begin():
            await session.execute(update(Endpoint).values(last_seen_at=at))
        shift_clock(state, at)
        await state.alerts.cycle()

    await look(start + timedelta(seconds=1))  # first look: the agent may still be syncing
    assert await incidents(api, alice, rule="ENDPOINT_DRIFT") == []
    await look(start + timedelta(minutes=6))
    (drift,) = await incidents(api, alice, rule="ENDPOINT_DRIFT")
    assert drift["title"] == "endpoint db-9 differs from Git: job default/vacuum is missing"
    async with state.session() as session, session.begin():
        session.add(
            JobInstance(
                tenant_id=uuid.UUID(alice.tenant_id),
                endpoint_id=endpoint_id,
                job_id=job_id,
                driver="cron",
                state="INSTALLED",
                source="MANAGED",
            )
        )
    await look(start + timedelta(minutes=12))
    assert await incidents(api, alice, rule="ENDPOINT_DRIFT", status=["OPEN"]) == []


async def test_a_drift_alert_for_a_job_that_failed_to_install_carries_the_drivers_reason(
    api: Api, state: AppState, alice: Persona
) -> None:
    start = utcnow()
    endpoint_id = await enroll(state, alice, "db-8", {"role": "db"}, start)
    job_id = await commit_job(state, alice, "berlin", extra="  targets: {labels: {role: db}}\n")
    reason = 'time zone "Europe/Berlin": the machine runs in Etc/UTC and its cron has no CRON_TZ'
    async with state.session() as session, session.begin():
        session.add(
            JobInstance(
                tenant_id=uuid.UUID(alice.tenant_id),
                endpoint_id=endpoint_id,
                job_id=job_id,
                driver="cron",
                state="FAILED",
                source="MANAGED",
                failure_reason=reason,
            )
        )
    for at in (start + timedelta(seconds=1), start + timedelta(minutes=6)):
        async with state.session() as session, session.begin():
            await session.execute(update(Endpoint).values(last_seen_at=at))
        shift_clock(state, at)
        await state.alerts.cycle()
    (drift,) = await incidents(api, alice, rule="ENDPOINT_DRIFT")
    assert drift["title"] == (
        f"endpoint db-8 differs from Git: job default/berlin failed to install: {reason}"
    )
