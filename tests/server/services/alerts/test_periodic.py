"""The periodic cycle: missed runs per targeted endpoint, offline endpoints, long runs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.services.checkins import CheckIn, CheckInKind
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    commit_job,
    enroll,
    eventually,
    incidents,
    report,
    shift_clock,
)


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
