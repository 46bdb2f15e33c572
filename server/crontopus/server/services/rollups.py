"""Health counters: finished runs summed per job and per endpoint, by hour and by day.

Ingest adds each batch's newly finished runs to these rows, so health queries read a
few counters instead of scanning runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Rollup:
    """One counters table: whose runs it sums (`owner`) and over which bucket."""

    model: Any
    owner: str
    bucket: str


#: Each finished run is counted once per table: hourly rows answer short windows, daily
#: rows long ones. A run counts in the bucket of its start time.
ROLLUPS = (
    Rollup(JobHealthHour, "job_id", "hour"),
    Rollup(EndpointHealthHour, "endpoint_id", "hour"),
    Rollup(JobHealthDay, "job_id", "day"),
    Rollup(EndpointHealthDay, "endpoint_id", "day"),
)


@dataclass
class _Counts:
    last_run_at: datetime
    runs: int = 0
    successes: int = 0
    failures: int = 0


def rollup_rows(finished: Sequence[RunState]) -> list[list[dict[str, Any]]]:
    """The rows to add to each of `ROLLUPS`' counters (in that order) for `finished` runs."""
    buckets: list[dict[tuple[uuid.UUID, uuid.UUID, datetime], _Counts]] = [{} for _ in ROLLUPS]
    for run in finished:
        if run.finished_at is None:
            continue
        hour = hour_of(run.started_at)
        day = hour.replace(hour=0)
        success = run.status is RunStatus.SUCCESS
        for rollup, counters in zip(ROLLUPS, buckets, strict=True):
            owner = run.job_id if rollup.owner == "job_id" else run.endpoint_id
            if owner is None:
                continue
            key = (run.tenant_id, owner, hour if rollup.bucket == "hour" else day)
            counts = counters.get(key)
            if counts is None:
                counts = counters[key] = _Counts(last_run_at=run.finished_at)
            counts.runs += 1
            if success:
                counts.successes += 1
            else:
                counts.failures += 1
            if run.finished_at > counts.last_run_at:
                counts.last_run_at = run.finished_at
    return [
        [
            {
                "tenant_id": tenant_id,
                rollup.owner: owner,
                rollup.bucket: bucket,
                "runs": counts.runs,
                "successes": counts.successes,
                "failures": counts.failures,
                "last_run_at": counts.last_run_at,
            }
            for (tenant_id, owner, bucket), counts in counters.items()
        ]
        for rollup, counters in zip(ROLLUPS, buckets, strict=True)
    ]
