"""MISSED runs: a fire time that passed its grace time with no start, kept in the run history.

The periodic alert cycle records one per (job, endpoint, fire time) it finds missed, in the
transaction that moves its cursor. A MISSED run starts at the fire time, finishes when the
grace time ended, and counts as a failed run in the health counters.

Its id is derived from (tenant, job, endpoint, fire time), so recording the same miss twice
stores it once. When a start check-in for that fire time arrives after all (a run that began
within the grace time, reported late: a spooled check-in after an outage), the MISSED run is
removed and the health counters take it back: the history then shows the run that happened,
not a gap next to it. A run that *began* after the grace time leaves the MISSED run in place:
the fire time was missed, and the late run is a run of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.core.manifest import JobManifest
from crontopus.server.db.dialect import insert
from crontopus.server.db.models import Run
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import to_event
from crontopus.server.events.event import Event
from crontopus.server.events.topics import RunChanged, RunChangeKind
from crontopus.server.events.transaction import publish_all_in
from crontopus.server.services.alerts.engine.missed import START_TOLERANCE, Miss
from crontopus.server.services.checkins import RunState
from crontopus.server.services.rollups import ROLLUPS, hour_of

_IDS = uuid.UUID("6f0c3a52-7f8e-4d55-9b1c-4d6a0e1c2b7e")
#: A run received this long after it started may have been judged missed before it arrived.
REPORTED_LATE = timedelta(seconds=10)


def missed_run_id(
    tenant_id: uuid.UUID, job_id: uuid.UUID, endpoint_id: uuid.UUID | None, fire: datetime
) -> uuid.UUID:
    """The one id of the MISSED run of a fire time (recording it twice keeps one row)."""
    where = endpoint_id.hex if endpoint_id else "-"
    return uuid.uuid5(_IDS, f"{tenant_id.hex}:{job_id.hex}:{where}:{fire.timestamp():.0f}")


def missed_run_row(tenant_id: uuid.UUID, miss: Miss, now: datetime) -> dict[str, Any]:
    """The runs-table row recording one miss."""
    job, endpoint = miss.job, miss.endpoint
    deadline = miss.expected_at + timedelta(seconds=job.grace_time)
    where = f" on {endpoint.name}" if endpoint else ""
    return {
        "tenant_id": tenant_id,
        "id": missed_run_id(tenant_id, job.id, endpoint.id if endpoint else None, miss.expected_at),
        "job_id": job.id,
        "job_name": job.name,
        "namespace": job.namespace,
        "endpoint_id": endpoint.id if endpoint else None,
        "status": RunStatus.MISSED,
        "started_at": miss.expected_at,
        "start_reported": False,
        "finished_at": deadline,
        "duration_ms": None,
        "exit_code": None,
        "output": f"No run started{where} by {deadline:%Y-%m-%d %H:%M:%S} UTC "
        f"(due {miss.expected_at:%H:%M:%S} UTC, grace time {job.grace_time} s).",
        "output_truncated": False,
        "commit_id": None,
        "unknown_job": False,
        "received_at": now,
    }


@dataclass(frozen=True)
class _Missed:
    id: uuid.UUID
    job_id: uuid.UUID
    endpoint_id: uuid.UUID | None
    started_at: datetime
    deadline: datetime


async def record_missed(
    session: AsyncSession, rows: Sequence[dict[str, Any]], broadcaster: Broadcaster | None = None
) -> int:
    """Store MISSED runs not stored yet and count each new one in the health counters.

    With a `broadcaster`, each new one is also announced to `runEvents` subscribers once the
    session commits, like a finished run: the run log shows the gap as it is found.
    """
    if not rows:
        return 0
    statement = insert(session, Run.__table__).on_conflict_do_nothing().returning(Run.id)
    stored: set[uuid.UUID] = set()
    for row in rows:
        # One row per statement: RETURNING of an executemany is not portable.
        stored.update((await session.execute(statement, row)).scalars())
    fresh = [row for row in rows if row["id"] in stored]
    await _count(session, fresh, +1)
    if broadcaster is not None:
        await publish_all_in(broadcaster, session, [_announcement(row) for row in fresh])
    return len(fresh)


def _announcement(row: Mapping[str, Any]) -> Event:
    changed = RunChanged(
        kind=RunChangeKind.FINISHED,
        id=row["id"],
        job_id=row["job_id"],
        job_name=row["job_name"],
        namespace=row["namespace"],
        endpoint_id=row["endpoint_id"],
        status=RunStatus.MISSED,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_ms=None,
        exit_code=None,
        unknown_job=False,
        trigger=RunTrigger.SCHEDULE,
    )
    return to_event(row["tenant_id"], changed)


async def forgive_missed(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    runs: Sequence[RunState],
    jobs: Mapping[uuid.UUID, JobManifest],
    missed_open: Collection[uuid.UUID],
) -> int:
    """Remove the MISSED runs that newly arrived runs turn out to cover; return how many.

    Only runs that may have been judged before they arrived are looked at: those reported
    late, and those of jobs with a missed-run incident open (so a flood of punctual
    check-ins costs nothing here).
    """
    late = [
        run
        for run in runs
        if run.status is not RunStatus.MISSED
        and run.job_id in jobs
        and (run.received_at - run.started_at > REPORTED_LATE or run.job_id in missed_open)
    ]
    if not late:
        return 0
    longest_grace = max(timedelta(seconds=jobs[run.job_id].grace_time) for run in late)
    rows = await session.execute(
        select(Run.id, Run.job_id, Run.endpoint_id, Run.started_at, Run.finished_at).where(
            Run.tenant_id == tenant_id,
            Run.job_id.in_({run.job_id for run in late}),
            Run.status == RunStatus.MISSED,
            Run.started_at >= min(run.started_at for run in late) - longest_grace,
            Run.started_at <= max(run.started_at for run in late) + START_TOLERANCE,
        )
    )
    missed = [_Missed(r[0], r[1], r[2], r[3], r[4] or r[3]) for r in rows]
    covered = [m for m in missed if any(_covers(run, m) for run in late)]
    if not covered:
        return 0
    await session.execute(
        delete(Run)
        .where(Run.tenant_id == tenant_id, Run.id.in_([m.id for m in covered]))
        .execution_options(synchronize_session=False)
    )
    await _count(
        session,
        [
            {
                "tenant_id": tenant_id,
                "job_id": m.job_id,
                "endpoint_id": m.endpoint_id,
                "started_at": m.started_at,
            }
            for m in covered
        ],
        -1,
    )
    return len(covered)


def _covers(run: RunState, missed: _Missed) -> bool:
    """Tell whether `run` is the run the MISSED one said never started."""
    if run.job_id != missed.job_id:
        return False
    if missed.endpoint_id is not None and run.endpoint_id != missed.endpoint_id:
        return False
    return missed.started_at - START_TOLERANCE <= run.started_at <= missed.deadline


async def _count(session: AsyncSession, rows: Sequence[dict[str, Any]], sign: int) -> None:
    """Add (or take back) MISSED runs as failed runs in every health counter.

    A MISSED run leaves `last_run_at` alone: it is the time of the last run that happened.
    """
    for rollup in ROLLUPS:
        table = rollup.model.__table__
        totals: dict[tuple[uuid.UUID, uuid.UUID, datetime], int] = {}
        for row in rows:
            owner = row[rollup.owner]
            if owner is None:
                continue
            hour = hour_of(row["started_at"])
            bucket = hour if rollup.bucket == "hour" else hour.replace(hour=0)
            key = (row["tenant_id"], owner, bucket)
            totals[key] = totals.get(key, 0) + sign
        for (tenant_id, owner, bucket), count in sorted(totals.items()):
            if count < 0:
                await session.execute(
                    update(table)
                    .where(
                        table.c.tenant_id == tenant_id,
                        getattr(table.c, rollup.owner) == owner,
                        getattr(table.c, rollup.bucket) == bucket,
                    )
                    .values(runs=table.c.runs + count, failures=table.c.failures + count)
                )
                continue
            statement = insert(session, table)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", rollup.owner, rollup.bucket],
                    set_={
                        "runs": table.c.runs + statement.excluded.runs,
                        "failures": table.c.failures + statement.excluded.failures,
                    },
                ),
                {
                    "tenant_id": tenant_id,
                    rollup.owner: owner,
                    rollup.bucket: bucket,
                    "runs": count,
                    "successes": 0,
                    "failures": count,
                    "last_run_at": None,
                },
            )
