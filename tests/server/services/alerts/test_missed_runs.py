"""Missed fire times become MISSED runs in the history and in health; stuck runs alert."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.db.models import JobHealthHour, Run
from crontopus.server.db.types import utcnow
from crontopus.server.events.codec import read_event
from crontopus.server.events.topics import RunChanged, RunChangeKind
from crontopus.server.services.checkins import CheckIn, CheckInKind
from crontopus.server.services.missed_runs import record_missed
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    commit_job,
    enroll,
    eventually,
    incidents,
    report,
    shift_clock,
)

RUNS = """
query($filter: RunFilter) {
  runs(filter: $filter, first: 50) { nodes { id status startedAt endpointId stuck output } }
}
"""
STATUS = "query($id: UUID!) { job(id: $id) { status lastRun { status } } }"
HEALTH = (
    "query($id: UUID!) { jobHealth(filter: {jobId: $id}) { status figures { runs failures } } }"
)


async def runs(api: Api, persona: Persona, **where: Any) -> list[dict[str, Any]]:
    data = await api.execute(RUNS, {"filter": where}, persona.access_token)
    nodes: list[dict[str, Any]] = data["runs"]["nodes"]
    return nodes


async def test_a_missed_fire_time_is_recorded_once_as_a_missed_run_of_the_endpoint(
    api: Api, state: AppState, alice: Persona
) -> None:
    now = utcnow()
    fire = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    later = fire + timedelta(seconds=31)
    ran = await enroll(state, alice, "db-1", {"role": "db"}, later)
    idle = await enroll(state, alice, "db-2", {"role": "db"}, later)
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
    await eventually(lambda: incidents(api, alice, rule="MISSED_RUN"))

    (missed,) = await runs(api, alice, jobId=str(job_id), status="MISSED")
    assert missed["endpointId"] == str(idle)
    assert missed["startedAt"].startswith(fire.strftime("%Y-%m-%dT%H:%M:00"))
    assert "No run started on db-2" in missed["output"]
    data = await api.execute(STATUS, {"id": str(job_id)}, alice.access_token)
    assert data["job"]["status"] == "DOWN"
    assert data["job"]["lastRun"]["status"] == "SUCCESS"

    # Health counts it as a failed expected run, next to the run that succeeded.
    data = await api.execute(HEALTH, {"id": str(job_id)}, alice.access_token)
    (health,) = data["jobHealth"]
    assert health["figures"] == {"runs": 2, "failures": 1}
    assert health["status"] == "DOWN"

    # Recording the same miss again (another worker, a replayed cycle) stores nothing.
    async with state.session() as session, session.begin():
        row = (await session.scalars(select(Run).where(Run.id == uuid.UUID(missed["id"])))).one()
        again = {c.name: getattr(row, c.name) for c in Run.__table__.columns}
        assert await record_missed(session, [again]) == 0
    assert len(await runs(api, alice, jobId=str(job_id), status="MISSED")) == 1


async def test_a_missed_run_reaches_run_event_subscribers_when_it_is_recorded(
    state: AppState, alice: Persona
) -> None:
    now = utcnow()
    fire = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    later = fire + timedelta(seconds=31)
    idle = await enroll(state, alice, "db-2", {"role": "db"}, later)
    job_id = await commit_job(state, alice, "dump", schedule="*/1 * * * *", grace=30)
    tenant_id = uuid.UUID(alice.tenant_id)
    stream = state.broadcaster.subscribe(tenant_id, RunChanged.TOPIC)
    first = asyncio.ensure_future(anext(stream))
    try:
        await eventually(lambda: _subscribed(state))
        shift_clock(state, later)
        async with asyncio.timeout(20):
            changed = read_event(await first, RunChanged)
    finally:
        first.cancel()
        await stream.aclose()  # type: ignore[attr-defined]
    assert (changed.kind, changed.status, changed.job_id) == (
        RunChangeKind.FINISHED,
        RunStatus.MISSED,
        job_id,
    )
    assert changed.endpoint_id == idle
    assert changed.started_at == fire


async def _subscribed(state: AppState) -> bool:
    return state.broadcaster.subscriber_count() > 0


async def test_a_start_reported_late_for_the_fire_time_replaces_its_missed_run(
    api: Api, state: AppState, alice: Persona
) -> None:
    now = utcnow()
    fire = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    later = fire + timedelta(seconds=31)
    idle = await enroll(state, alice, "db-2", {"role": "db"}, later)
    job_id = await commit_job(state, alice, "dump", schedule="*/1 * * * *", grace=30)
    shift_clock(state, later)
    await eventually(lambda: incidents(api, alice, rule="MISSED_RUN"))
    assert len(await runs(api, alice, jobId=str(job_id), status="MISSED")) == 1

    # A spooled check-in: the run began within the grace time and is only now reported.
    await report(
        state, alice, job_id, RunStatus.SUCCESS, at=fire + timedelta(seconds=20), endpoint_id=idle
    )
    assert await runs(api, alice, jobId=str(job_id), status="MISSED") == []
    assert [r["status"] for r in await runs(api, alice, jobId=str(job_id))] == ["SUCCESS"]
    async with state.session() as session:
        counters = (await session.scalars(select(JobHealthHour))).all()
    assert [(c.runs, c.failures) for c in counters] == [(1, 0)]
    assert await eventually(lambda: _none_open(api, alice)), (
        "the missed-run incident resolves as before"
    )


async def _none_open(api: Api, alice: Persona) -> bool:
    return await incidents(api, alice, rule="MISSED_RUN", status=["OPEN"]) == []


async def test_a_run_far_past_its_usual_duration_is_stuck_and_alerts_without_a_timeout(
    api: Api, state: AppState, alice: Persona
) -> None:
    job_id = await commit_job(state, alice, "slow")  # no timeout, no maxDuration
    for back in range(5, 0, -1):
        at = utcnow() - timedelta(hours=back)
        await report(state, alice, job_id, RunStatus.SUCCESS, at=at, duration=10)
    tenant = uuid.UUID(alice.tenant_id)

    async def start(seconds_ago: int) -> None:
        await state.ingest.submit(
            CheckIn(
                tenant_id=tenant,
                run_id=uuid.uuid4(),
                job_id=job_id,
                kind=CheckInKind.START,
                at=utcnow() - timedelta(seconds=seconds_ago),
            )
        )

    await start(30)  # 3 x p95 (10 s) is under the floor of 60 s: not stuck yet
    (going,) = await runs(api, alice, jobId=str(job_id), status="RUNNING")
    assert going["stuck"] is False
    await start(90)

    async def too_long() -> list[dict[str, Any]]:
        return await incidents(api, alice, rule="TOO_LONG")

    (incident,) = await eventually(too_long)
    assert incident["title"].startswith("default/slow has been running longer than 60 s")
    assert sorted(r["stuck"] for r in await runs(api, alice, status="RUNNING")) == [False, True]
    # Finished runs are never stuck, and the job finishing resolves the alert.
    await report(state, alice, job_id, RunStatus.SUCCESS, duration=10)
    assert all(not r["stuck"] for r in await runs(api, alice, status="SUCCESS"))
    assert await incidents(api, alice, rule="TOO_LONG", status=["OPEN"]) == []
