"""Time-based rules, judged every cycle: missed runs, runs going on too long, offline endpoints.

One cycle judges the fire times whose grace ended since the previous cycle, for every tenant.
The end of the last judged span is a database row (`alert_cursors`) that a cycle advances with
a compare-and-set in the transaction that opens its incidents: when several workers race,
exactly one commits the cycle and the others drop theirs, so each fire time is judged once
and a restart resumes where the last cycle stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus
from crontopus.server.db.dialect import insert
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import (
    AlertCursor,
    AlertRule,
    Endpoint,
    Incident,
    JobInstance,
    Run,
)
from crontopus.server.services.alerts.engine.incidents import (
    Announcer,
    Opening,
    open_incidents,
    open_incidents_of,
    open_key,
    resolve_incidents,
)
from crontopus.server.services.alerts.engine.missed import EndpointInfo, LastStarts, find_misses
from crontopus.server.services.alerts.engine.notifications import release_held
from crontopus.server.services.alerts.engine.rules import job_rules
from crontopus.server.services.alerts.engine.tenants import (
    JobSource,
    TenantView,
    load_view,
    tenant_slugs,
)
from crontopus.server.services.instances import InstanceState, drift_of
from crontopus.server.services.missed_runs import missed_run_row, record_missed
from crontopus.server.services.presence import is_online
from crontopus.server.services.stuck import StuckPolicy, job_limits
from crontopus.server.services.telemetry import ServiceMetrics

logger = logging.getLogger("crontopus.server.alerts.periodic")
CURSOR = "periodic"
#: On the very first cycle, fire times this far back are judged too.
STARTUP_LOOKBACK = timedelta(minutes=10)
#: Starts are read again this far behind the last read, for start check-ins that arrive late
#: (a start that arrives later than this after it happened can only resolve, not prevent, an
#: incident). Longer costs a re-read of every run started in the span, every cycle.
LATE_ARRIVAL = timedelta(minutes=2)
#: How far back the first read of starts goes (jobs judged on their runs need one in it).
FIRST_READ = timedelta(days=1)
LONGEST_RUN = timedelta(days=31)
#: Drift is looked for at most this often, and alerts only when seen at two looks in a row
#: (an agent needs a sync or two after a push before its scheduler matches Git again).
DRIFT_EVERY = timedelta(minutes=5)
#: Incidents opened or resolved per transaction after the cursor moved (a few ms each).
APPLY_CHUNK = 50
#: The longest pause between two such transactions.
MAX_PAUSE = 0.25
T = TypeVar("T")


@dataclass
class CycleReport:
    """What one cycle did (for logs, tests and the benchmark)."""

    committed: bool = False
    opened: int = 0
    resolved: int = 0
    missed_runs: int = 0
    released: int = 0
    seconds: float = 0.0
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class _Plan:
    #: Judged on the span since the previous cycle: they commit with the cursor, exactly once.
    missed_runs: list[dict[str, Any]] = field(default_factory=list)
    missed: list[Opening] = field(default_factory=list)
    #: Judged on the state at `now` (offline, too long, drift, and every resolution): each
    #: cycle judges them again, so they commit after the cursor, a chunk at a time.
    openings: list[Opening] = field(default_factory=list)
    resolutions: list[tuple[Incident, str]] = field(default_factory=list)


class _Starts:
    """Latest start per job and endpoint of one tenant, read incrementally.

    Keyed by the UUIDs' integers: a million lookups per cycle hash ints far faster than UUIDs.
    """

    def __init__(self) -> None:
        self.by_job: dict[int, dict[int | None, datetime]] = defaultdict(dict)
        self.read_until: datetime | None = None

    async def refresh(self, session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> None:
        since = now - FIRST_READ if self.read_until is None else self.read_until - LATE_ARRIVAL
        rows = await session.execute(
            select(Run.job_id, Run.endpoint_id, func.max(Run.started_at))
            .where(
                Run.tenant_id == tenant_id,
                Run.started_at >= since,
                Run.status != RunStatus.MISSED,  # a recorded miss is not a start
            )
            .group_by(Run.job_id, Run.endpoint_id)
        )
        by_job = self.by_job
        for job_id, endpoint_id, started in rows:
            starts = by_job[job_id.int]
            if endpoint_id is not None:
                key = endpoint_id.int
                known = starts.get(key)
                if known is None or started > known:
                    starts[key] = started
            known = starts.get(None)
            if known is None or started > known:
                starts[None] = started
        self.read_until = now


class PeriodicEvaluator:
    """Runs the time-based rules of every tenant, one cycle at a time."""

    def __init__(
        self,
        session: SessionFactory,
        jobs: JobSource,
        announcer: Announcer,
        clock: Callable[[], datetime],
        offline_after: timedelta,
        metrics: ServiceMetrics | None = None,
        stuck: StuckPolicy | None = None,
    ) -> None:
        self._session = session
        self._jobs = jobs
        self._announcer = announcer
        self._clock = clock
        self._offline_after = offline_after
        self._metrics = metrics
        self._stuck = stuck or StuckPolicy()
        self._starts: dict[uuid.UUID, _Starts] = defaultdict(_Starts)
        # Per tenant: when drift was last looked for, and which endpoints drifted then.
        self._drift_seen: dict[uuid.UUID, tuple[datetime, dict[uuid.UUID, str]]] = {}

    async def cycle(self) -> CycleReport:
        """Judge the span since the last committed cycle; commit it unless another worker did."""
        started = time.perf_counter()
        now = self._clock()
        report = CycleReport(until=now)
        since = await self._cursor(now)
        report.since = since
        if since >= now:
            return report
        # Judge first, outside the write transaction, so ingest is not kept waiting on SQLite.
        async with self._session() as session:
            slugs = await tenant_slugs(session)
            plans: list[tuple[TenantView, _Plan]] = []
            for tenant_id, slug in slugs.items():
                view = await load_view(session, self._jobs, tenant_id, slug, now)
                plans.append((view, await self._plan(session, view, since, now)))
        # A cycle with a few incidents to open or resolve commits them with the cursor; one
        # with many (a fleet going away or coming back) commits them afterwards, in chunks.
        at_once = sum(len(p.openings) + len(p.resolutions) for _, p in plans) <= APPLY_CHUNK
        async with self._session() as session, session.begin():
            if not await _advance(session, since, now):
                return report  # another worker judged this span
            for view, plan in plans:
                report.missed_runs += await record_missed(
                    session, plan.missed_runs, self._announcer.broadcaster
                )
                opened = await open_incidents(
                    session, view.tenant_id, plan.missed, now, self._announcer
                )
                report.opened += len(opened)
                if at_once:
                    await self._apply(session, view, plan.resolutions, plan.openings, now, report)
            report.released = await release_held(session, now)
        report.committed = True
        if not at_once:
            for view, plan in plans:
                await self._apply_in_chunks(view, plan, now, report)
        report.seconds = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.alert_cycle_seconds.observe(report.seconds)
        if report.opened or report.resolved:
            logger.info(
                "alert cycle opened %d and resolved %d incidents", report.opened, report.resolved
            )
        return report

    async def _cursor(self, now: datetime) -> datetime:
        async with self._session() as session, session.begin():
            current = await session.get(AlertCursor, CURSOR)
            if current is not None:
                return current.evaluated_until
            await session.execute(
                insert(session, AlertCursor.__table__).on_conflict_do_nothing(),
                [{"name": CURSOR, "evaluated_until": now - STARTUP_LOOKBACK}],
            )
        async with self._session() as session:
            cursor = await session.get(AlertCursor, CURSOR)
            assert cursor is not None
            return cursor.evaluated_until

    async def _plan(
        self, session: AsyncSession, view: TenantView, since: datetime, now: datetime
    ) -> _Plan:
        plan = _Plan()
        endpoints = (
            await session.scalars(
                select(Endpoint).where(
                    Endpoint.tenant_id == view.tenant_id, Endpoint.revoked_at.is_(None)
                )
            )
        ).all()
        infos = [
            EndpointInfo(
                id=e.id,
                name=e.name,
                labels=e.labels,
                enrolled_at=e.enrolled_at,
                online=is_online(e.last_seen_at, now, self._offline_after),
            )
            for e in endpoints
        ]
        starts = self._starts[view.tenant_id]
        await starts.refresh(session, view.tenant_id, now)
        open_now = await open_incidents_of(
            session,
            view.tenant_id,
            rules=[AlertRule.MISSED_RUN, AlertRule.ENDPOINT_OFFLINE, AlertRule.TOO_LONG],
        )
        self._missed(view, infos, starts.by_job, since, now, plan, open_now)
        self._offline(view, infos, now, plan, open_now)
        await self._too_long(session, view, now, plan)
        await self._drift(session, view, endpoints, infos, now, plan)
        return plan

    async def _drift(
        self,
        session: AsyncSession,
        view: TenantView,
        endpoints: Sequence[Endpoint],
        infos: list[EndpointInfo],
        now: datetime,
        plan: _Plan,
    ) -> None:
        previous = self._drift_seen.get(view.tenant_id)
        if previous is not None and now - previous[0] < DRIFT_EVERY:
            return
        online = {info.id for info in infos if info.online}
        drifted = await drifted_endpoints(session, view, [e for e in endpoints if e.id in online])
        self._drift_seen[view.tenant_id] = (now, drifted)
        open_drift = await open_incidents_of(
            session, view.tenant_id, rules=[AlertRule.ENDPOINT_DRIFT]
        )
        names = {e.id: e.name for e in endpoints}
        for incident in open_drift:
            if incident.endpoint_id not in drifted or not view.defaults.drift:
                plan.resolutions.append((incident, "the endpoint matches Git again"))
        if not view.defaults.drift or previous is None:
            return
        for endpoint_id, reason in drifted.items():
            if endpoint_id not in previous[1]:
                continue  # seen once: give the agent a sync to catch up
            plan.openings.append(
                Opening(
                    rule=AlertRule.ENDPOINT_DRIFT,
                    key=open_key(AlertRule.ENDPOINT_DRIFT, endpoint_id),
                    title=f"endpoint {names[endpoint_id]} differs from Git: {reason}",
                    endpoint_id=endpoint_id,
                    details={"endpoint": names[endpoint_id], "drift": reason},
                    hold=view.quiet.hold(None, None, now),
                )
            )

    def _missed(
        self,
        view: TenantView,
        infos: list[EndpointInfo],
        starts: LastStarts,
        since: datetime,
        now: datetime,
        plan: _Plan,
        open_now: list[Incident],
    ) -> None:
        judged = []
        for job in view.jobs.values():
            if not job.active or job.is_discovered:
                continue
            if not job_rules(job, view.defaults).missed_run:
                continue
            judged.append(job)
        for miss in find_misses(judged, infos, starts, since, now):
            job, endpoint = miss.job, miss.endpoint
            # History records every miss; a snooze only keeps the incident from opening.
            plan.missed_runs.append(missed_run_row(view.tenant_id, miss, now))
            if view.quiet.snoozed(job.id, job.namespace, now):
                continue
            where = f" on {endpoint.name}" if endpoint else ""
            plan.missed.append(
                Opening(
                    rule=AlertRule.MISSED_RUN,
                    key=open_key(AlertRule.MISSED_RUN, job.id, endpoint.id if endpoint else None),
                    title=f"{job.namespace}/{job.name} did not start{where} "
                    f"(due {miss.expected_at:%Y-%m-%d %H:%M} UTC, grace {job.grace_time} s)",
                    job_id=job.id,
                    job_name=job.name,
                    namespace=job.namespace,
                    endpoint_id=endpoint.id if endpoint else None,
                    details={
                        "expected_at": miss.expected_at.isoformat(),
                        "grace_time": job.grace_time,
                        "last_start": miss.last_start.isoformat() if miss.last_start else None,
                        "endpoint": endpoint.name if endpoint else None,
                    },
                    channels=job_rules(job, view.defaults).channels,
                    hold=view.quiet.hold(job.id, job.namespace, now),
                )
            )
        live = {e.id for e in infos}
        for incident in open_now:
            if incident.rule is not AlertRule.MISSED_RUN:
                continue
            known = view.jobs.get(incident.job_id) if incident.job_id else None
            if known is None:
                plan.resolutions.append((incident, "the job was removed from Git"))
            elif not known.active:
                plan.resolutions.append((incident, "the job was disabled or paused"))
            elif not job_rules(known, view.defaults).missed_run:
                plan.resolutions.append((incident, "missed-run alerts were turned off"))
            elif incident.endpoint_id is not None and incident.endpoint_id not in live:
                plan.resolutions.append((incident, "the endpoint was revoked"))

    def _offline(
        self,
        view: TenantView,
        infos: list[EndpointInfo],
        now: datetime,
        plan: _Plan,
        open_now: list[Incident],
    ) -> None:
        by_id = {info.id: info for info in infos}
        if view.defaults.endpoint_offline:
            for info in infos:
                if info.online or view.quiet.snoozed(None, None, now):
                    continue
                plan.openings.append(
                    Opening(
                        rule=AlertRule.ENDPOINT_OFFLINE,
                        key=open_key(AlertRule.ENDPOINT_OFFLINE, info.id),
                        title=f"endpoint {info.name} is offline",
                        endpoint_id=info.id,
                        details={"endpoint": info.name},
                        hold=view.quiet.hold(None, None, now),
                    )
                )
        for incident in open_now:
            if incident.rule is not AlertRule.ENDPOINT_OFFLINE:
                continue
            seen = by_id.get(incident.endpoint_id) if incident.endpoint_id else None
            if seen is None:
                plan.resolutions.append((incident, "the endpoint was revoked"))
            elif seen.online:
                plan.resolutions.append((incident, "the endpoint is back"))
            elif not view.defaults.endpoint_offline:
                plan.resolutions.append((incident, "offline alerts were turned off"))

    async def _too_long(
        self, session: AsyncSession, view: TenantView, now: datetime, plan: _Plan
    ) -> None:
        # The partial index on running runs keeps this to the runs still going.
        rows = (
            await session.execute(
                select(Run.job_id, func.min(Run.started_at))
                .where(
                    Run.tenant_id == view.tenant_id,
                    Run.status == RunStatus.RUNNING,
                    Run.started_at >= now - LONGEST_RUN,
                )
                .group_by(Run.job_id)
            )
        ).all()
        oldest = {job_id: started for job_id, started in rows if job_id in view.jobs}
        if not oldest:
            return
        limits = await job_limits(
            session,
            view.tenant_id,
            {job_id: view.jobs[job_id] for job_id in oldest},
            view.defaults,
            self._stuck,
        )
        for job_id, started in oldest.items():
            job, limit = view.jobs[job_id], limits.get(job_id)
            if limit is None or now - started <= timedelta(seconds=limit.seconds):
                continue
            if view.quiet.snoozed(job.id, job.namespace, now):
                continue
            plan.openings.append(
                Opening(
                    rule=AlertRule.TOO_LONG,
                    key=open_key(AlertRule.TOO_LONG, job.id),
                    title=f"{job.namespace}/{job.name} has been running longer than "
                    f"{limit.describe()}",
                    job_id=job.id,
                    job_name=job.name,
                    namespace=job.namespace,
                    details={
                        "started_at": started.isoformat(),
                        "max_duration": limit.seconds,
                        "limit_from": limit.source,
                    },
                    channels=job_rules(job, view.defaults).channels,
                    hold=view.quiet.hold(job.id, job.namespace, now),
                )
            )

    async def _apply(
        self,
        session: AsyncSession,
        view: TenantView,
        resolutions: Sequence[tuple[Incident, str]],
        openings: Sequence[Opening],
        now: datetime,
        report: CycleReport,
    ) -> None:
        """Resolve and open incidents in `session`; resolutions alike are resolved together."""
        alike: dict[tuple[Any, ...], list[Incident]] = defaultdict(list)
        for incident, reason in resolutions:
            alike[(incident.job_id, incident.namespace, reason)].append(incident)
        for (job_id, namespace, reason), incidents in alike.items():
            hold = view.quiet.hold(job_id, namespace, now)
            done = await resolve_incidents(
                session, incidents, now, self._announcer, hold=hold, reason=reason
            )
            report.resolved += len(done)
        opened = await open_incidents(session, view.tenant_id, openings, now, self._announcer)
        report.opened += len(opened)

    async def _apply_in_chunks(
        self, view: TenantView, plan: _Plan, now: datetime, report: CycleReport
    ) -> None:
        """Resolve and open what the state at `now` asks for, `APPLY_CHUNK` at a time.

        Each chunk is a transaction of its own, followed by a pause as long as it took: ten
        thousand endpoints coming back (or going away) at once must not hold SQLite's write
        lock for the seconds all of their incidents take, or every other writer (check-ins,
        heartbeats, presence) times out meanwhile. A chunk interrupted by a failure is judged
        again by the next cycle, since these depend only on the state, not on the span.
        """
        for resolutions in _chunks(plan.resolutions):
            async with self._transaction() as session:
                await self._apply(session, view, resolutions, [], now, report)
        for openings in _chunks(plan.openings):
            async with self._transaction() as session:
                await self._apply(session, view, [], openings, now, report)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One short write transaction, then a pause as long as it took (others write then)."""
        started = time.perf_counter()
        async with self._session() as session, session.begin():
            yield session
        await asyncio.sleep(min(MAX_PAUSE, time.perf_counter() - started))


def _chunks(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[start : start + APPLY_CHUNK] for start in range(0, len(items), APPLY_CHUNK)]


async def drifted_endpoints(
    session: AsyncSession, view: TenantView, endpoints: Sequence[Endpoint]
) -> dict[uuid.UUID, str]:
    """Return the endpoints whose scheduler differs from Git, each with its first difference."""
    if not endpoints:
        return {}
    instances = (
        await session.scalars(select(JobInstance).where(JobInstance.tenant_id == view.tenant_id))
    ).all()
    by_endpoint: dict[uuid.UUID, dict[uuid.UUID, JobInstance]] = defaultdict(dict)
    for instance in instances:
        by_endpoint[instance.endpoint_id][instance.job_id] = instance
    drifted: dict[uuid.UUID, str] = {}
    for endpoint in endpoints:
        held = by_endpoint.get(endpoint.id, {})
        reason = _first_drift(view, endpoint, held)
        if reason is not None:
            drifted[endpoint.id] = reason
    return drifted


def _first_drift(
    view: TenantView, endpoint: Endpoint, held: dict[uuid.UUID, JobInstance]
) -> str | None:
    for job_id, instance in held.items():
        if instance.state == InstanceState.FAILED.value:
            because = f": {instance.failure_reason}" if instance.failure_reason else ""
            return f"job {_job_label(view, job_id)} failed to install{because}"
        reason = drift_of(instance, view.jobs.get(job_id), endpoint.labels)
        if reason is not None:
            return f"job {_job_label(view, job_id)} is {reason.value.lower().replace('_', ' ')}"
    for job_id, job in view.jobs.items():
        if job_id not in held and drift_of(None, job, endpoint.labels) is not None:
            return f"job {job.namespace}/{job.name} is missing"
    return None


def _job_label(view: TenantView, job_id: uuid.UUID) -> str:
    job = view.jobs.get(job_id)
    return f"{job.namespace}/{job.name}" if job is not None else str(job_id)


async def _advance(session: AsyncSession, since: datetime, now: datetime) -> bool:
    """Move the cursor from `since` to `now`; False when another worker moved it first."""
    result = await session.execute(
        update(AlertCursor)
        .where(AlertCursor.name == CURSOR, AlertCursor.evaluated_until == since)
        .values(evaluated_until=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
