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
from crontopus.server.db.models import (
    EndpointHealthDay,
    EndpointHealthHour,
    JobHealthDay,
    JobHealthHour,
)
from crontopus.server.security.principal import Principal
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
