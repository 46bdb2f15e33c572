"""Periodic cycles the test runs itself: racing cycles, and drift seen at two looks in a row.

The server's own cycle loop is off here: a cycle it ran at a moment of its choosing (before the
test enrolled its endpoint, or between the test's clock shift and its cycle) would take a look
or commit a span the test did not plan for, and the outcome would depend on the machine's load.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState, create_state
from crontopus.server.db.models import AlertCursor, Endpoint, JobInstance
from crontopus.server.db.types import utcnow
from crontopus.server.services.alerts.engine import incidents as incidents_module
from crontopus.server.services.alerts.engine import periodic
from crontopus.server.services.alerts.engine.periodic import CURSOR
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    commit_job,
    enroll,
    incidents,
    report,
    shift_clock,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, in_process_worker=False)


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
        assert sum(r.opened for r in reports) == 1
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


async def test_a_fleet_going_offline_and_back_writes_its_incidents_in_short_transactions(
    api: Api, state: AppState, alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten thousand endpoints whose channels open at once must not hold the write lock for all
    # of their incidents: each transaction opens or resolves at most APPLY_CHUNK of them.
    monkeypatch.setattr(periodic, "APPLY_CHUNK", 4)
    monkeypatch.setattr(periodic, "MAX_PAUSE", 0.0)
    start = utcnow()
    for number in range(10):
        await enroll(state, alice, f"node-{number}", {}, start - timedelta(hours=1))
    writes: list[tuple[str, AsyncSession, int]] = []
    opening, resolving = incidents_module.open_incidents, incidents_module.resolve_incidents

    async def open_incidents(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        opened = await opening(session, *args, **kwargs)
        writes.append(("opened", session, len(opened)))
        return opened

    async def resolve_incidents(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        resolved = await resolving(session, *args, **kwargs)
        writes.append(("resolved", session, len(resolved)))
        return resolved

    monkeypatch.setattr(periodic, "open_incidents", open_incidents)
    monkeypatch.setattr(periodic, "resolve_incidents", resolve_incidents)

    shift_clock(state, start)
    assert (await state.alerts.cycle()).opened == 10
    assert len(await incidents(api, alice, rule="ENDPOINT_OFFLINE", status=["OPEN"])) == 10
    async with state.session() as session, session.begin():
        await session.execute(update(Endpoint).values(last_seen_at=start + timedelta(seconds=1)))
    shift_clock(state, start + timedelta(seconds=2))
    assert (await state.alerts.cycle()).resolved == 10
    assert await incidents(api, alice, rule="ENDPOINT_OFFLINE", status=["OPEN"]) == []

    for kind in ("opened", "resolved"):
        sizes = [count for what, _, count in writes if what == kind and count]
        assert sizes == [4, 4, 2], kind
    sessions = [session for _, session, count in writes if count]
    assert len({id(session) for session in sessions}) == len(sessions)
