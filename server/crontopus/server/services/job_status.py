"""A job's status in one word (`JobStatus`), from its open incidents, runs and schedule.

In this order, the first that holds:

- PAUSED: the manifest disables or pauses the job;
- DOWN: a missed-run incident is open, or the latest outcome is a MISSED run with no start
  since;
- FAILING: a failure or failure-rate incident is open, or the latest finished run failed;
- LATE: a fire time passed with no start and its grace time is still running (the missed-run
  rule of the alert engine, `alerts.missed.late_fire`, asked before the grace ends);
- NEW: the job never reported a run;
- UP: otherwise.

The facts are read for a whole page of jobs at once (`load_job_facts`): one statement for
open incidents, one for the latest runs, whatever the number of jobs.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from crontopus.core.enums import JobStatus, RunStatus
from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import AlertDefaults, AlertRule, Incident, Run
from crontopus.server.services.alerts.engine.incidents import unresolved
from crontopus.server.services.alerts.engine.missed import late_fire
from crontopus.server.services.alerts.engine.rules import TenantDefaults, job_rules

FAILED = (RunStatus.FAILURE, RunStatus.TIMEOUT)
#: Union branches per statement (SQLite allows 500 terms in a compound SELECT).
_CHUNK = 200


@dataclass(frozen=True)
class JobFacts:
    """What the status of one job is derived from."""

    #: The latest run that started (any status but MISSED).
    last_run: Run | None = None
    #: The latest run that ended, MISSED runs included.
    last_outcome: Run | None = None
    open_rules: frozenset[AlertRule] = field(default_factory=frozenset)


def job_status(
    job: JobManifest, facts: JobFacts, defaults: TenantDefaults, now: datetime
) -> JobStatus:
    """Return the job's status (see the module's docstring for the rule)."""
    if not job.active:
        return JobStatus.PAUSED
    last, outcome = facts.last_run, facts.last_outcome
    if AlertRule.MISSED_RUN in facts.open_rules or _missed_since_last_start(last, outcome):
        return JobStatus.DOWN
    if facts.open_rules & {AlertRule.FAILURE, AlertRule.FAILURE_RATE}:
        return JobStatus.FAILING
    if outcome is not None and outcome.status in FAILED:
        return JobStatus.FAILING
    if last is None:
        return JobStatus.NEW
    rules = job_rules(job, defaults)
    if rules.missed_run and not job.is_discovered and late_fire(job, last.started_at, now):
        return JobStatus.LATE
    return JobStatus.UP


def _missed_since_last_start(last: Run | None, outcome: Run | None) -> bool:
    if outcome is None or outcome.status is not RunStatus.MISSED:
        return False
    return last is None or last.started_at < outcome.started_at


#: How urgent each status is: "needs attention" lists lead with the worst.
ATTENTION = {JobStatus.DOWN: 0, JobStatus.FAILING: 1, JobStatus.LATE: 2}


async def needing_attention(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    manifests: Sequence[JobManifest],
    now: datetime,
) -> list[tuple[JobManifest, JobStatus]]:
    """Return the jobs that are DOWN, FAILING or LATE, worst first, then by name."""
    facts = await load_job_facts(session, tenant_id, [m.id for m in manifests])
    defaults = await tenant_defaults(session, tenant_id)
    found = [(m, job_status(m, facts[m.id], defaults, now)) for m in manifests]
    wanted = [(m, status) for m, status in found if status in ATTENTION]
    return sorted(wanted, key=lambda pair: (ATTENTION[pair[1]], pair[0].namespace, pair[0].name))


async def tenant_defaults(session: AsyncSession, tenant_id: uuid.UUID) -> TenantDefaults:
    return TenantDefaults.from_row(await session.get(AlertDefaults, tenant_id))


async def load_job_facts(
    session: AsyncSession, tenant_id: uuid.UUID, job_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, JobFacts]:
    """Return the facts of every job in `job_ids` (jobs with none get empty facts)."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    rules: dict[uuid.UUID, set[AlertRule]] = defaultdict(set)
    incidents = await session.execute(
        select(Incident.job_id, Incident.rule).where(
            *unresolved(tenant_id), Incident.job_id.in_(ids)
        )
    )
    for job_id, rule in incidents:
        if job_id is not None:
            rules[job_id].add(rule)
    last_runs: dict[uuid.UUID, Run] = {}
    outcomes: dict[uuid.UUID, Run] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for kind, run in await _latest_runs(session, tenant_id, chunk):
            (last_runs if kind == "run" else outcomes)[run.job_id] = run
    return {
        job_id: JobFacts(last_runs.get(job_id), outcomes.get(job_id), frozenset(rules[job_id]))
        for job_id in ids
    }


async def _latest_runs(
    session: AsyncSession, tenant_id: uuid.UUID, job_ids: Sequence[uuid.UUID]
) -> list[tuple[str, Run]]:
    """Each job's latest started run and latest ended run: one index walk per branch."""
    branches: list[Any] = []
    for job_id in job_ids:
        for kind, excluded in (
            ("run", [RunStatus.MISSED]),
            ("outcome", [RunStatus.RUNNING]),
        ):
            latest = (
                select(Run.id)
                .where(
                    Run.tenant_id == tenant_id,
                    Run.job_id == job_id,
                    Run.status.not_in(excluded),
                )
                .order_by(Run.started_at.desc(), Run.id.desc())
                .limit(1)
                .subquery()
            )
            branches.append(select(literal(kind).label("kind"), latest.c.id))
    statement: Any = branches[0] if len(branches) == 1 else union_all(*branches)
    result: Any = await session.execute(statement)
    found: list[tuple[str, uuid.UUID]] = [(kind, run_id) for kind, run_id in result]
    if not found:
        return []
    runs = {
        run.id: run
        for run in await session.scalars(
            select(Run)
            .options(defer(Run.output))
            .where(Run.tenant_id == tenant_id, Run.id.in_({i for _, i in found}))
        )
    }
    return [(kind, runs[run_id]) for kind, run_id in found if run_id in runs]
