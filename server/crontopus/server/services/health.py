"""Job and endpoint health, answered from the hourly rollups kept on ingest.

The cost of a health query grows with jobs times buckets in the window, never with the
number of runs: the 24-hour window reads hourly rows (at most 25 per job), longer windows
read daily rows (at most 91 per job). A window starts at the bucket boundary at or
before `now - window`, so a 24-hour window covers 24 to 25 hours of runs and a 7-day
window 7 to 8 days.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import HealthStatus
from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import (
    Endpoint,
    EndpointHealthDay,
    EndpointHealthHour,
    JobHealthDay,
    JobHealthHour,
)
from crontopus.server.db.types import utcnow
from crontopus.server.gitstore import Snapshot
from crontopus.server.security.principal import Principal
from crontopus.server.services.job_status import needing_attention
from crontopus.server.services.presence import online_condition
from crontopus.server.services.rollups import hour_of

HEALTHY_RATE = 0.95
DEGRADED_RATE = 0.70


class Window(enum.Enum):
    H24 = timedelta(hours=24)
    D7 = timedelta(days=7)
    D30 = timedelta(days=30)
    D90 = timedelta(days=90)


@dataclass(frozen=True)
class Tally:
    """Finished runs of one job or endpoint within a window."""

    owner_id: uuid.UUID
    runs: int
    successes: int
    failures: int
    last_run_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.runs if self.runs else None

    @property
    def health(self) -> HealthStatus:
        rate = self.success_rate
        if rate is None:
            return HealthStatus.UNKNOWN
        if rate >= HEALTHY_RATE:
            return HealthStatus.HEALTHY
        if rate >= DEGRADED_RATE:
            return HealthStatus.DEGRADED
        return HealthStatus.FAILING


def window_start(window: Window, now: datetime | None = None) -> datetime:
    start = hour_of((now or datetime.now(UTC)) - window.value)
    return start if window is Window.H24 else start.replace(hour=0)


async def _tallies(
    session: AsyncSession,
    models: tuple[Any, Any],
    owner: str,
    principal: Principal,
    window: Window,
    owners: Sequence[uuid.UUID] | None,
) -> dict[uuid.UUID, Tally]:
    hourly, daily = models
    model = hourly if window is Window.H24 else daily
    bucket = model.hour if window is Window.H24 else model.day
    column = getattr(model, owner)
    query = (
        select(
            column,
            func.sum(model.runs),
            func.sum(model.successes),
            func.sum(model.failures),
            func.max(model.last_run_at),
        )
        .where(model.tenant_id == principal.tenant_id, bucket >= window_start(window))
        .group_by(column)
    )
    if owners is not None:
        query = query.where(column.in_(owners))
    result = await session.execute(query)
    tallies = {}
    for owner_id, runs, successes, failures, last in result:
        if isinstance(last, str):  # SQLite hands max() of a timestamp back as text
            last = datetime.fromisoformat(last)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        tallies[owner_id] = Tally(owner_id, int(runs), int(successes), int(failures), last)
    return tallies


async def job_tallies(
    session: AsyncSession,
    principal: Principal,
    window: Window,
    job_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, Tally]:
    """Return per-job tallies for jobs that ran in the window."""
    principal.require_read("Reading health")
    models = (JobHealthHour, JobHealthDay)
    return await _tallies(session, models, "job_id", principal, window, job_ids)


async def endpoint_tallies(
    session: AsyncSession,
    principal: Principal,
    window: Window,
    endpoint_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, Tally]:
    """Return per-endpoint tallies for endpoints that ran jobs in the window."""
    principal.require_read("Reading health")
    models = (EndpointHealthHour, EndpointHealthDay)
    return await _tallies(session, models, "endpoint_id", principal, window, endpoint_ids)


def empty_tally(owner_id: uuid.UUID) -> Tally:
    return Tally(owner_id, 0, 0, 0, None)


# What the health pages show, built from the tallies above and the jobs in Git.


@dataclass(frozen=True)
class JobHealthRow:
    """One job's health in a window; `manifest` is None for a job no longer (or never) in Git."""

    job_id: uuid.UUID
    name: str | None
    namespace: str | None
    tally: Tally
    manifest: JobManifest | None


@dataclass(frozen=True)
class JobHealthFilter:
    """Which jobs a health listing keeps; the given fields combine with AND."""

    namespace: str | None = None
    job_id: uuid.UUID | None = None
    health: HealthStatus | None = None

    def keeps(self, row: JobHealthRow) -> bool:
        return (
            (self.namespace is None or row.namespace == self.namespace)
            and (self.job_id is None or row.job_id == self.job_id)
            and (self.health is None or row.tally.health is self.health)
        )


@dataclass(frozen=True)
class DashboardFacts:
    """The tenant's front page: endpoints, jobs, the window's runs and what needs attention."""

    endpoints_total: int
    endpoints_online: int
    jobs_total: int
    tally: Tally
    failing: list[JobHealthRow]
    needs_attention: list[JobManifest]


def aggregate(tallies: Sequence[Tally]) -> Tally:
    """Return the sum of many tallies (the tenant's, on the dashboard)."""
    last = max((t.last_run_at for t in tallies if t.last_run_at), default=None)
    return Tally(
        uuid.UUID(int=0),
        sum(t.runs for t in tallies),
        sum(t.successes for t in tallies),
        sum(t.failures for t in tallies),
        last,
    )


def _row(job_id: uuid.UUID, view: Snapshot, tally: Tally) -> JobHealthRow:
    entry = view.jobs.get(job_id)
    manifest = entry.manifest if entry is not None else None
    return JobHealthRow(
        job_id=job_id,
        name=manifest.name if manifest else None,
        namespace=manifest.namespace if manifest else None,
        tally=tally,
        manifest=manifest,
    )


async def job_health(
    session: AsyncSession,
    view: Snapshot,
    principal: Principal,
    window: Window,
    where: JobHealthFilter | None = None,
) -> list[JobHealthRow]:
    """Every job in Git or with runs in the window, by name and namespace (unknown jobs last)."""
    tallies = await job_tallies(session, principal, window)
    rows = [
        _row(job_id, view, tallies.get(job_id) or empty_tally(job_id))
        for job_id in set(view.jobs) | set(tallies)
    ]
    rows.sort(key=lambda row: (row.name or "~", row.namespace or "~"))
    return [row for row in rows if where is None or where.keeps(row)]


async def endpoint_health(
    session: AsyncSession, principal: Principal, window: Window
) -> list[tuple[uuid.UUID, str, Tally]]:
    """Every endpoint of the tenant by name, with its runs' tally in the window."""
    endpoints = (
        await session.execute(
            select(Endpoint.id, Endpoint.name)
            .where(Endpoint.tenant_id == principal.tenant_id)
            .order_by(Endpoint.name)
        )
    ).all()
    tallies = await endpoint_tallies(session, principal, window)
    return [
        (endpoint_id, name, tallies.get(endpoint_id) or empty_tally(endpoint_id))
        for endpoint_id, name in endpoints
    ]


async def dashboard(
    session: AsyncSession,
    view: Snapshot,
    principal: Principal,
    window: Window,
    offline_after: timedelta,
) -> DashboardFacts:
    """The front page's figures; failing jobs worst first."""
    now = utcnow()
    tallies = await job_tallies(session, principal, window)
    alive = Endpoint.tenant_id == principal.tenant_id, Endpoint.revoked_at.is_(None)
    total = await session.scalar(select(func.count()).where(*alive))
    online = await session.scalar(
        select(func.count()).where(*alive, online_condition(now, offline_after))
    )
    manifests = [entry.manifest for entry in view.jobs.values()]
    attention = await needing_attention(session, principal.tenant_id, manifests, now)
    failing = [
        _row(t.owner_id, view, t)
        for t in sorted(tallies.values(), key=lambda t: t.success_rate or 0.0)
        if t.health is HealthStatus.FAILING
    ]
    return DashboardFacts(
        endpoints_total=total or 0,
        endpoints_online=online or 0,
        jobs_total=len(view.jobs),
        tally=aggregate(list(tallies.values())),
        failing=failing,
        needs_attention=[manifest for manifest, _ in attention],
    )
