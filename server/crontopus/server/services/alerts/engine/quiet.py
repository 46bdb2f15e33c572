"""Snoozes and maintenance windows: when a job must stay quiet, and until when.

A snoozed job opens no incident at all. During a maintenance window incidents still open (so
the console shows them) but their notifications are held until the window ends, then sent or
dropped as the window says; an incident resolved within the window is never announced.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.schedule import iter_fire_times
from crontopus.server.db.models import MaintenanceWindow, Snooze


@dataclass(frozen=True)
class Hold:
    """Hold notifications until `until`, then send them (`release`) or drop them."""

    until: datetime
    release: bool


def window_end(window: MaintenanceWindow, now: datetime) -> datetime | None:
    """Return when `window` ends if it is in force at `now`, else None."""
    if window.schedule is not None and window.duration is not None:
        span = timedelta(seconds=window.duration)
        for start in iter_fire_times(window.schedule, window.timezone, now - span):
            if start > now:
                return None
            return start + span
        return None
    if window.starts_at is not None and window.ends_at is not None:
        return window.ends_at if window.starts_at <= now < window.ends_at else None
    return None


def _covers(
    job_id: uuid.UUID | None, namespace: str | None, scope: Snooze | MaintenanceWindow
) -> bool:
    if scope.job_id is not None:
        return scope.job_id == job_id
    if scope.namespace is not None:
        return scope.namespace == namespace
    return True  # neither: the whole tenant


@dataclass(frozen=True)
class Quiet:
    """The snoozes and windows of one tenant, loaded once per evaluation."""

    snoozes: Sequence[Snooze] = ()
    windows: Sequence[MaintenanceWindow] = ()

    def snoozed(self, job_id: uuid.UUID | None, namespace: str | None, now: datetime) -> bool:
        """Tell whether a snooze keeps this job quiet at `now`."""
        return any(s.until > now and _covers(job_id, namespace, s) for s in self.snoozes)

    def hold(self, job_id: uuid.UUID | None, namespace: str | None, now: datetime) -> Hold | None:
        """Return how to hold this job's notifications at `now` (the latest-ending window)."""
        best: Hold | None = None
        for window in self.windows:
            if not _covers(job_id, namespace, window):
                continue
            end = window_end(window, now)
            if end is not None and (best is None or end > best.until):
                best = Hold(end, window.release_held)
        return best


async def load_quiet(session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> Quiet:
    """Read the tenant's snoozes still in force and its maintenance windows."""
    snoozes = (
        await session.scalars(
            select(Snooze).where(Snooze.tenant_id == tenant_id, Snooze.until > now)
        )
    ).all()
    windows = (
        await session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.tenant_id == tenant_id)
        )
    ).all()
    return Quiet(tuple(snoozes), tuple(windows))
