"""Health over time: runs, failures and success rate per hour or day, for charts.

Counts come from the hourly and daily rollups kept on ingest, so a series costs one row per
bucket whatever the number of runs. Duration percentiles cannot be summed from counters:
they are computed from the runs still kept (retention keeps the newest runs of each job),
reading only finished runs in the window, newest first and at most `DURATION_SAMPLE` of them.
A bucket whose runs were pruned or not read has counts but no percentiles.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import (
    EndpointHealthDay,
    EndpointHealthHour,
    JobHealthDay,
    JobHealthHour,
    Run,
)
from crontopus.server.errors import NotFound, ValidationFailed
from crontopus.server.gitstore import GitStore
from crontopus.server.security.principal import Principal
from crontopus.server.services.endpoints import get_endpoint
from crontopus.server.services.health import Window
from crontopus.server.services.jobs import readable_jobs
from crontopus.server.services.rollups import hour_of

#: Runs read at most for one series' duration percentiles (a 90-day tenant series would
#: otherwise read every run kept).
DURATION_SAMPLE = 50_000

#: The longest window an hourly series covers: 7 days is 168 points, more than a chart shows.
MAX_HOURLY_WINDOW = Window.D7.value


class Bucket(enum.Enum):
    HOUR = timedelta(hours=1)
    DAY = timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    """Whose runs a series sums: one job, one endpoint, or the whole tenant (both None)."""

    job_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Point:
    """One bucket of a series, starting at `at`."""

    at: datetime
    runs: int
    successes: int
    failures: int
    duration_p50_ms: int | None
    duration_p95_ms: int | None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.runs if self.runs else None


@dataclass(frozen=True)
class Series:
    bucket: Bucket
    start: datetime
    points: list[Point]


def default_bucket(window: Window) -> Bucket:
    return Bucket.HOUR if window is Window.H24 else Bucket.DAY


def check_bounds(window: Window, bucket: Bucket) -> None:
    """Refuse series longer than a chart can show."""
    if bucket is Bucket.HOUR and window.value > MAX_HOURLY_WINDOW:
        raise ValidationFailed.single(
            "bucket",
            "hourly buckets cover at most 7 days; ask for bucket DAY or a window of 7d or less",
        )


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    hour = hour_of(moment)
    return hour if bucket is Bucket.HOUR else hour.replace(hour=0)


def percentile(sorted_values: list[int], fraction: float) -> int:
    """The nearest-rank percentile of non-empty, ascending `sorted_values`."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def check_scope(
    session: AsyncSession, store: GitStore, principal: Principal, scope: Scope
) -> None:
    """Raise NotFound unless the principal's tenant has the job or endpoint of `scope`.

    Another tenant's id answers exactly like an id that does not exist. A job deleted from
    Git still has a history, so a job id with rollup rows in this tenant is found too.
    """
    if scope.endpoint_id is not None:
        await get_endpoint(session, principal, scope.endpoint_id)
    if scope.job_id is not None:
        view = await readable_jobs(store, principal, "Reading health")
        if view.job(scope.job_id) is None:
            ran = await session.scalar(
                select(JobHealthDay.job_id)
                .where(
                    JobHealthDay.tenant_id == principal.tenant_id,
                    JobHealthDay.job_id == scope.job_id,
                )
                .limit(1)
            )
            if ran is None:
                raise NotFound(f"no job with id {scope.job_id}")


async def health_series(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    window: Window,
    bucket: Bucket,
    now: datetime | None = None,
) -> Series:
    """Return one point per bucket from the window's start to now, empty buckets included."""
    principal.require_read("Reading health")
    check_bounds(window, bucket)
    now = now or datetime.now(UTC)
    start = bucket_start(now - window.value, bucket)
    counts = await _counts(session, principal.tenant_id, scope, bucket, start)
    durations = await _durations(session, principal.tenant_id, scope, bucket, start)
    points = []
    at = start
    last = bucket_start(now, bucket)
    while at <= last:
        runs, successes, failures = counts.get(at, (0, 0, 0))
        kept = sorted(durations.get(at, ()))
        points.append(
            Point(
                at=at,
                runs=runs,
                successes=successes,
                failures=failures,
                duration_p50_ms=percentile(kept, 0.5) if kept else None,
                duration_p95_ms=percentile(kept, 0.95) if kept else None,
            )
        )
        at += bucket.value
    return Series(bucket=bucket, start=start, points=points)


def _rollup(scope: Scope, bucket: Bucket) -> tuple[Any, Any, ColumnElement[bool] | None]:
    """The rollup table to read, its bucket column and the scope's condition on it."""
    hourly = bucket is Bucket.HOUR
    if scope.endpoint_id is not None:
        model: Any = EndpointHealthHour if hourly else EndpointHealthDay
        return model, model.hour if hourly else model.day, model.endpoint_id == scope.endpoint_id
    model = JobHealthHour if hourly else JobHealthDay
    condition = model.job_id == scope.job_id if scope.job_id is not None else None
    return model, model.hour if hourly else model.day, condition


async def _counts(
    session: AsyncSession, tenant_id: uuid.UUID, scope: Scope, bucket: Bucket, start: datetime
) -> dict[datetime, tuple[int, int, int]]:
    model, column, condition = _rollup(scope, bucket)
    query = (
        select(column, func.sum(model.runs), func.sum(model.successes), func.sum(model.failures))
        .where(model.tenant_id == tenant_id, column >= start)
        .group_by(column)
    )
    if condition is not None:
        query = query.where(condition)
    result = {}
    for at, runs, successes, failures in await session.execute(query):
        if isinstance(at, str):  # SQLite hands a grouped timestamp back as text
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        result[at] = (int(runs), int(successes), int(failures))
    return result


async def _durations(
    session: AsyncSession, tenant_id: uuid.UUID, scope: Scope, bucket: Bucket, start: datetime
) -> dict[datetime, list[int]]:
    query = (
        select(Run.started_at, Run.duration_ms)
        .where(
            Run.tenant_id == tenant_id,
            Run.started_at >= start,
            Run.finished_at.is_not(None),
            Run.duration_ms.is_not(None),
        )
        .order_by(Run.started_at.desc())
        .limit(DURATION_SAMPLE)
    )
    if scope.job_id is not None:
        query = query.where(Run.job_id == scope.job_id)
    if scope.endpoint_id is not None:
        query = query.where(Run.endpoint_id == scope.endpoint_id)
    by_bucket: dict[datetime, list[int]] = defaultdict(list)
    for started_at, duration_ms in await session.execute(query):
        if duration_ms is not None:  # excluded by the query; narrows the type
            by_bucket[bucket_start(started_at, bucket)].append(duration_ms)
    return by_bucket


#: Owners one call of `series_by_owner` answers for: one page of a list.
MAX_OWNERS = 200


async def series_by_owner(
    session: AsyncSession,
    principal: Principal,
    owner: str,
    ids: list[uuid.UUID],
    window: Window,
    bucket: Bucket,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[Point]]:
    """Counts per bucket for many jobs (`owner` "job_id") or endpoints ("endpoint_id") at once.

    One grouped read of the rollups for a whole list's sparklines; no duration percentiles
    (null), which would read runs. Ids of other tenants read no rows and come back all zero,
    like a job that never ran: the list they come from is the tenant's own.
    """
    principal.require_read("Reading health")
    check_bounds(window, bucket)
    if len(ids) > MAX_OWNERS:
        raise ValidationFailed.single(
            "ids", f"ask for at most {MAX_OWNERS} series at once, got {len(ids)}"
        )
    now = now or datetime.now(UTC)
    start = bucket_start(now - window.value, bucket)
    hourly = bucket is Bucket.HOUR
    if owner == "endpoint_id":
        model: Any = EndpointHealthHour if hourly else EndpointHealthDay
    else:
        model = JobHealthHour if hourly else JobHealthDay
    column = model.hour if hourly else model.day
    owner_column = getattr(model, owner)
    counts: dict[uuid.UUID, dict[datetime, tuple[int, int, int]]] = defaultdict(dict)
    if ids:
        rows = await session.execute(
            select(owner_column, column, model.runs, model.successes, model.failures).where(
                model.tenant_id == principal.tenant_id, column >= start, owner_column.in_(ids)
            )
        )
        for owner_id, at, runs, successes, failures in rows:
            counts[owner_id][at] = (runs, successes, failures)
    last = bucket_start(now, bucket)
    result = {}
    for owner_id in ids:
        mine = counts.get(owner_id, {})
        points = []
        at = start
        while at <= last:
            runs, successes, failures = mine.get(at, (0, 0, 0))
            points.append(Point(at, runs, successes, failures, None, None))
            at += bucket.value
        result[owner_id] = points
    return result
