"""Missed runs: which (job, endpoint) pairs had a fire time pass its grace with no start.

Pure functions over data the periodic evaluator loads, so the benchmark and tests can judge
tens of thousands of jobs without a database in the loop.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from crontopus.core.job import Targets
from crontopus.core.manifest import JobManifest
from crontopus.core.schedule import iter_fire_times

#: A run that starts this long before a fire time still counts for it (agent clock skew).
START_TOLERANCE = timedelta(seconds=15)


@dataclass(frozen=True)
class EndpointInfo:
    """An endpoint as the missed-run check sees it."""

    id: uuid.UUID
    name: str
    labels: Mapping[str, str]
    enrolled_at: datetime
    online: bool


@dataclass(frozen=True)
class Miss:
    """A fire time with no start within the grace time, on one endpoint (or for the job)."""

    job: JobManifest
    expected_at: datetime
    endpoint: EndpointInfo | None
    last_start: datetime | None


#: Latest start per job, per endpoint (None: the job's latest start on any endpoint), keyed
#: by the UUIDs' integers (`uuid.int`), which hash much faster than UUIDs.
LastStarts = Mapping[int, Mapping[int | None, datetime]]


def last_fire_between(
    schedule: str, timezone: str, after: datetime, until: datetime
) -> datetime | None:
    """Return the last fire time in (after, until], or None."""
    latest = None
    for fire in iter_fire_times(schedule, timezone, after):
        if fire > until:
            break
        latest = fire
    return latest


#: The cycle asks about the same spans for thousands of jobs sharing a few schedules.
latest_fire = functools.lru_cache(maxsize=65_536)(last_fire_between)


def started_for(last_start: datetime | None, fire: datetime) -> bool:
    """Tell whether a start at `last_start` counts for the fire time `fire`."""
    return last_start is not None and last_start >= fire - START_TOLERANCE


def late_fire(job: JobManifest, last_start: datetime | None, now: datetime) -> datetime | None:
    """Return the fire time the job is late for: passed, within its grace, with no start yet.

    The same rule as `find_misses`, asked before the grace ends instead of after it. A fire
    time counts as late once START_TOLERANCE has passed, the time a start takes to arrive.
    """
    grace = timedelta(seconds=job.grace_time)
    fire = last_fire_between(job.schedule, job.timezone, now - grace, now - START_TOLERANCE)
    if fire is None or started_for(last_start, fire):
        return None
    return fire


def find_misses(
    jobs: Iterable[JobManifest],
    endpoints: Iterable[EndpointInfo],
    starts: LastStarts,
    since: datetime,
    now: datetime,
) -> list[Miss]:
    """Judge every fire time whose grace ended in (since, now]: was there a start for it?

    Only the latest such fire of a job counts: a job that missed one fire and ran at the
    next has recovered. Endpoints enrolled after the fire, and offline ones (the offline rule
    speaks for them), are not asked. A job no online endpoint targets is judged on its runs
    from anywhere, but only once it has run at all (it is then monitored by its check-ins).
    """
    online = [e for e in endpoints if e.online]
    targeted: dict[Targets, list[EndpointInfo]] = {}
    misses: list[Miss] = []
    no_starts: Mapping[int | None, datetime] = {}
    for job in jobs:
        grace = timedelta(seconds=job.grace_time)
        fire = latest_fire(job.schedule, job.timezone, since - grace, now - grace)
        if fire is None:
            continue
        fire = fire.astimezone(now.tzinfo)
        # `started_for`, inlined: this loop runs for every (job, endpoint) pair of a tenant.
        cutoff = fire - START_TOLERANCE
        job_starts = starts.get(job.id.int, no_starts)
        chosen = targeted.get(job.targets)
        if chosen is None:
            chosen = [e for e in online if job.targets.matches(e.labels)]
            targeted[job.targets] = chosen
        asked = [e for e in chosen if e.enrolled_at <= fire]
        if not asked:
            last = job_starts.get(None)
            if last is not None and last < cutoff:
                misses.append(Miss(job, fire, None, last))
            continue
        for endpoint in asked:
            last = job_starts.get(endpoint.id.int)
            if last is None or last < cutoff:
                misses.append(Miss(job, fire, endpoint, last))
    return misses
