"""Stuck runs: how long a run of a job may stay RUNNING before it counts as stuck.

One rule, used by the periodic alert cycle (TOO_LONG) and by `Run.stuck`:

1. the job's own limit: `spec.alerts.maxDuration`, else `spec.timeout`;
2. else the server's `CRONTOPUS_DEFAULT_MAX_DURATION`, when set;
3. else `CRONTOPUS_STUCK_FACTOR` (3) times the p95 of the job's last RECENT_RUNS finished
   durations, once it has MIN_SAMPLES of them, and never less than FLOOR;
4. else nothing: a job with no limit and too little history is never stuck.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus
from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import Run
from crontopus.server.services.alerts.engine.rules import TenantDefaults, job_rules
from crontopus.server.settings import Settings

#: How many of a job's latest finished runs its normal duration is learnt from.
RECENT_RUNS = 20
#: A job needs this many finished runs before its p95 means anything.
MIN_SAMPLES = 5
#: A limit learnt from durations is never shorter than this (a job that takes 2 s is not
#: stuck at 7 s: a slow disk or a busy machine does that).
FLOOR = timedelta(seconds=60)
#: Union branches per statement (SQLite allows 500 terms in a compound SELECT).
_CHUNK = 200


@dataclass(frozen=True)
class Limit:
    """How long a job's run may last, and where that figure comes from (for titles)."""

    seconds: int
    source: str  # "job", "default" or "p95"

    def describe(self) -> str:
        if self.source == "p95":
            return f"{self.seconds} s (a multiple of its usual duration)"
        return f"{self.seconds} s"


@dataclass(frozen=True)
class StuckPolicy:
    """The server-wide parts of the rule (settings)."""

    default_max_duration: int | None = None
    factor: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> StuckPolicy:
        return cls(settings.default_max_duration, settings.stuck_factor)


def p95(durations_ms: Sequence[int]) -> float | None:
    """The 95th percentile (nearest rank) of durations, in seconds; None with too few."""
    if len(durations_ms) < MIN_SAMPLES:
        return None
    ordered = sorted(durations_ms)
    rank = math.ceil(0.95 * len(ordered)) - 1
    return ordered[rank] / 1000


def job_limit(
    manifest: JobManifest | None,
    defaults: TenantDefaults,
    policy: StuckPolicy,
    durations_ms: Sequence[int],
) -> Limit | None:
    """Return how long a run of this job may last (None: no limit applies)."""
    own = job_rules(manifest, defaults).max_duration
    if own is not None:
        return Limit(own, "job")
    if policy.default_max_duration is not None:
        return Limit(policy.default_max_duration, "default")
    usual = p95(durations_ms)
    if usual is None or policy.factor <= 0:
        return None
    return Limit(max(math.ceil(usual * policy.factor), int(FLOOR.total_seconds())), "p95")


def needs_history(
    manifest: JobManifest | None, defaults: TenantDefaults, policy: StuckPolicy
) -> bool:
    """Tell whether the job's limit depends on its recent durations."""
    own = job_rules(manifest, defaults).max_duration
    return own is None and policy.default_max_duration is None and policy.factor > 0


def is_stuck(started_at: datetime, limit: Limit | None, now: datetime) -> bool:
    return limit is not None and now - started_at > timedelta(seconds=limit.seconds)


async def recent_durations(
    session: AsyncSession, tenant_id: uuid.UUID, job_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[int]]:
    """Return the durations (ms) of each job's latest RECENT_RUNS finished runs.

    One statement per chunk of jobs, each branch an index walk over one job's newest runs.
    """
    ids = sorted(set(job_ids))
    found: dict[uuid.UUID, list[int]] = defaultdict(list)
    for start in range(0, len(ids), _CHUNK):
        branches: list[Any] = [
            select(Run.job_id, Run.duration_ms)
            .where(
                Run.tenant_id == tenant_id,
                Run.job_id == job_id,
                Run.status.in_([RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.TIMEOUT]),
            )
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(RECENT_RUNS)
            .subquery()
            .select()
            for job_id in ids[start : start + _CHUNK]
        ]
        statement: Any = branches[0] if len(branches) == 1 else union_all(*branches)
        result: Any = await session.execute(statement)
        for owner, duration in result:
            if duration is not None:
                found[owner].append(duration)
    return found


async def job_limits(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    manifests: Mapping[uuid.UUID, JobManifest | None],
    defaults: TenantDefaults,
    policy: StuckPolicy,
) -> dict[uuid.UUID, Limit | None]:
    """Return the limit of each job, reading durations only for jobs that need them."""
    learnt = [i for i, m in manifests.items() if needs_history(m, defaults, policy)]
    durations = await recent_durations(session, tenant_id, learnt) if learnt else {}
    return {
        job_id: job_limit(manifest, defaults, policy, durations.get(job_id, []))
        for job_id, manifest in manifests.items()
    }
