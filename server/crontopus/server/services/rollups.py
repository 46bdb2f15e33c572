"""Health counters: finished runs summed per job and per endpoint, by hour and by day.

Ingest adds each batch's newly finished runs to these rows, so health queries read a
few counters instead of scanning runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crontopus.core.enums import RunStatus
from crontopus.server.db.models import (
    EndpointHealthDay,
    EndpointHealthHour,
    JobHealthDay,
    JobHealthHour,
)
from crontopus.server.services.checkins import RunState


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return hour_of(moment).replace(hour=0)


@dataclass(frozen=True)
class Rollup:
    """One counters table: whose runs it sums (`owner`) and over which bucket."""

    model: Any
    owner: str
    bucket: str
    bucket_of: Callable[[datetime], datetime]


#: Each finished run is counted once per table: hourly rows answer short windows, daily
#: rows long ones. A run counts in the bucket of its start time.
ROLLUPS = (
    Rollup(JobHealthHour, "job_id", "hour", hour_of),
    Rollup(EndpointHealthHour, "endpoint_id", "hour", hour_of),
    Rollup(JobHealthDay, "job_id", "day", day_of),
    Rollup(EndpointHealthDay, "endpoint_id", "day", day_of),
)


@dataclass
class _Counts:
    last_run_at: datetime
    runs: int = 0
    successes: int = 0
    failures: int = 0


def rollup_rows(rollup: Rollup, finished: Sequence[RunState]) -> list[dict[str, Any]]:
    """The rows to add to `rollup`'s counters for `finished` runs (one per owner and bucket)."""
    buckets: dict[tuple[uuid.UUID, uuid.UUID, datetime], _Counts] = {}
    by_job = rollup.owner == "job_id"
    for run in finished:
        owner = run.job_id if by_job else run.endpoint_id
        if owner is None or run.finished_at is None:
            continue
        key = (run.tenant_id, owner, rollup.bucket_of(run.started_at))
        counts = buckets.get(key)
        if counts is None:
            counts = buckets[key] = _Counts(last_run_at=run.finished_at)
        counts.runs += 1
        if run.status is RunStatus.SUCCESS:
            counts.successes += 1
        else:
            counts.failures += 1
        counts.last_run_at = max(counts.last_run_at, run.finished_at)
    return [
        {
            "tenant_id": tenant_id,
            rollup.owner: owner,
            rollup.bucket: bucket,
            "runs": counts.runs,
            "successes": counts.successes,
            "failures": counts.failures,
            "last_run_at": counts.last_run_at,
        }
        for (tenant_id, owner, bucket), counts in buckets.items()
    ]
