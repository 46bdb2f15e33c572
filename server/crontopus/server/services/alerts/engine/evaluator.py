"""Run-based rules, judged right after ingest: failures, failure rate, durations, late runs.

The ingest writer hands each committed batch to `RunEvaluator.on_stored`, which only puts it
on a queue: evaluation runs in its own task, so alerting never slows check-ins down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus
from crontopus.server.availability import (
    Dependency,
    DependencyTracker,
    unavailability,
)
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import AlertRule, Incident, Run
from crontopus.server.services.alerts.engine.incidents import (
    Announcer,
    Opening,
    open_incidents,
    open_incidents_of,
    open_key,
    resolve_incidents,
)
from crontopus.server.services.alerts.engine.quiet import Hold
from crontopus.server.services.alerts.engine.rules import JobRules, job_rules
from crontopus.server.services.alerts.engine.tenants import (
    JobSource,
    TenantView,
    load_view,
    tenant_slugs,
)
from crontopus.server.services.checkins import RunState
from crontopus.server.services.missed_runs import forgive_missed

logger = logging.getLogger("crontopus.server.alerts.runs")
FAILED = (RunStatus.FAILURE, RunStatus.TIMEOUT)
#: A run that starts this long before a fire time still counts for it (agent clock skew).
START_TOLERANCE = timedelta(seconds=15)
MAX_QUEUED_BATCHES = 10_000
COALESCE_WINDOW = 0.02
#: Evaluations start at most this often: under a flood of check-ins, each one judges a
#: second's batches instead of reloading the tenant fifty times a second. Each evaluation
#: reads the tenant's alert defaults, snoozes, maintenance windows and open incidents; at a
#: fifth of a second, the check-ins of an idle fleet of 10,000 agents (17 a second, each in a
#: batch of its own) cost five evaluations a second, a few per cent of a core, and a stored
#: failure now alerts within a second instead of a fifth of one.
MIN_INTERVAL = 1.0
#: Runs stored just before the database went away are judged once it returns: tried this
#: often, waiting up to OUTAGE_WAIT seconds for the database before each retry.
OUTAGE_ATTEMPTS = 10
OUTAGE_WAIT = 30.0


class RunEvaluator:
    """Judges stored runs against their jobs' rules, in a task of its own."""

    def __init__(
        self,
        session: SessionFactory,
        jobs: JobSource,
        announcer: Announcer,
        clock: Callable[[], datetime],
        on_change: Callable[[], None] | None = None,
        dependencies: DependencyTracker | None = None,
    ) -> None:
        self._session = session
        self._dependencies = dependencies
        self._jobs = jobs
        self._announcer = announcer
        self._clock = clock
        self._on_change = on_change
        self._queue: asyncio.Queue[list[RunState]] = asyncio.Queue(MAX_QUEUED_BATCHES)
        self._task: asyncio.Task[None] | None = None
        self._slugs: dict[uuid.UUID, str] = {}
        self._last_start = float("-inf")

    def on_stored(self, runs: Sequence[RunState]) -> None:
        """Take a committed ingest batch (called by the ingest writer; never blocks)."""
        if self._task is None:
            return
        try:
            self._queue.put_nowait(list(runs))
        except asyncio.QueueFull:
            logger.error("alert evaluation is %d batches behind; dropping one", MAX_QUEUED_BATCHES)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="alert-runs")

    async def stop(self) -> None:
        """Judge what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def drain(self) -> None:
        """Wait until every queued batch has been judged."""
        await self._queue.join()

    async def _loop(self) -> None:
        while True:
            batches = [await self._queue.get()]
            # Gather the batches of a short window into one evaluation: under load this turns
            # many small transactions into one, and it lets the writer finish its own work first.
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(COALESCE_WINDOW, self._last_start + MIN_INTERVAL - loop.time()))
            self._last_start = loop.time()
            while not self._queue.empty():
                batches.append(self._queue.get_nowait())
            try:
                await self._evaluate_through_outages([run for batch in batches for run in batch])
            finally:
                for _ in batches:
                    self._queue.task_done()

    async def _evaluate_through_outages(self, runs: Sequence[RunState]) -> None:
        """Evaluate; while the database is away, wait for it and try again (a stored failure
        must still alert), up to OUTAGE_ATTEMPTS times."""
        for attempt in range(1, OUTAGE_ATTEMPTS + 1):
            try:
                await self.evaluate(runs)
                return
            except Exception as error:  # one bad batch must not end alerting
                problem = unavailability(error)
                tracker = self._dependencies
                if tracker is None or problem is None or attempt == OUTAGE_ATTEMPTS:
                    logger.error("evaluating %d stored runs failed", len(runs), exc_info=error)
                    return
                tracker.failed(problem)
                await tracker.wait_up(Dependency.DATABASE, OUTAGE_WAIT)

    async def evaluate(self, runs: Sequence[RunState]) -> None:
        """Judge runs (of any tenants) and open or resolve incidents."""
        by_tenant: dict[uuid.UUID, list[RunState]] = defaultdict(list)
        for run in runs:
            by_tenant[run.tenant_id].append(run)
        now = self._clock()
        changed = False
        for tenant_id, tenant_runs in by_tenant.items():
            async with self._session() as session, session.begin():
                slug = await self._slug(session, tenant_id)
                if slug is None:
                    continue
                view = await load_view(session, self._jobs, tenant_id, slug, now)
                changed |= await evaluate_runs(session, view, tenant_runs, now, self._announcer)
        if changed and self._on_change is not None:
            self._on_change()

    async def _slug(self, session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
        if tenant_id not in self._slugs:
            self._slugs = await tenant_slugs(session)
        return self._slugs.get(tenant_id)


async def evaluate_runs(
    session: AsyncSession,
    view: TenantView,
    runs: Sequence[RunState],
    now: datetime,
    announcer: Announcer,
) -> bool:
    """Judge one tenant's runs; return whether any incident opened or resolved."""
    by_job: dict[uuid.UUID, list[RunState]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.started_at, r.id)):
        by_job[run.job_id].append(run)
    open_now = await open_incidents_of(session, view.tenant_id, job_ids=list(by_job))
    by_key = {incident.open_key: incident for incident in open_now}
    missed_open = {i.job_id for i in open_now if i.rule is AlertRule.MISSED_RUN and i.job_id}
    await forgive_missed(session, view.tenant_id, runs, view.jobs, missed_open)
    changed = False
    for job_id, job_runs in by_job.items():
        judge = _JobJudge(session, view, job_id, job_runs, by_key, now)
        await judge.run()
        hold = view.quiet.hold(job_id, judge.namespace, now)
        if judge.resolutions:
            for incident, reason in judge.resolutions:
                done = await resolve_incidents(
                    session, [incident], now, announcer, hold=hold, reason=reason
                )
                changed |= bool(done)
        if judge.openings and not view.quiet.snoozed(job_id, judge.namespace, now):
            openings = [_with_hold(o, hold) for o in judge.openings]
            changed |= bool(await open_incidents(session, view.tenant_id, openings, now, announcer))
    return changed


def _with_hold(opening: Opening, hold: Hold | None) -> Opening:
    return replace(opening, hold=hold)


class _JobJudge:
    """The verdicts on one job's new runs."""

    def __init__(
        self,
        session: AsyncSession,
        view: TenantView,
        job_id: uuid.UUID,
        runs: list[RunState],
        open_by_key: dict[str | None, Incident],
        now: datetime,
    ) -> None:
        self.session = session
        self.view = view
        self.job_id = job_id
        self.runs = runs
        self.open_by_key = open_by_key
        self.now = now
        manifest = view.jobs.get(job_id)
        self.rules: JobRules = job_rules(manifest, view.defaults)
        self.name = manifest.name if manifest else runs[-1].job_name
        self.namespace = manifest.namespace if manifest else runs[-1].namespace
        self.openings: list[Opening] = []
        self.resolutions: list[tuple[Incident, str]] = []

    @property
    def label(self) -> str:
        if self.name is None:
            return f"job {self.job_id}"
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def _open(self, rule: AlertRule, title: str, **details: object) -> None:
        self.openings.append(
            Opening(
                rule=rule,
                key=open_key(rule, self.job_id),
                title=title,
                job_id=self.job_id,
                job_name=self.name,
                namespace=self.namespace,
                details={k: v for k, v in details.items() if v is not None},
                channels=self.rules.channels,
            )
        )

    def _resolve(self, rule: AlertRule, reason: str, *target: uuid.UUID | None) -> None:
        incident = self.open_by_key.get(open_key(rule, self.job_id, *target))
        if incident is not None and all(incident is not i for i, _ in self.resolutions):
            self.resolutions.append((incident, reason))

    async def run(self) -> None:
        self._late_runs()
        finished = [run for run in self.runs if run.finished]
        if not finished:
            return
        latest = finished[-1]
        await self._failures(finished, latest)
        await self._failure_rate()
        self._durations(latest)

    def _late_runs(self) -> None:
        prefix = open_key(AlertRule.MISSED_RUN, self.job_id)
        # Almost always nothing is missed: skip building two keys per run under a flood.
        if not any(key and key.startswith(prefix) for key in self.open_by_key):
            return
        for run in self.runs:
            for target in {run.endpoint_id, None}:
                incident = self.open_by_key.get(open_key(AlertRule.MISSED_RUN, self.job_id, target))
                if incident is None:
                    continue
                expected = incident.details.get("expected_at")
                due = datetime.fromisoformat(expected) if expected else incident.opened_at
                if run.started_at >= due - START_TOLERANCE:
                    self._resolve(AlertRule.MISSED_RUN, "a run started", target)

    async def _failures(self, finished: list[RunState], latest: RunState) -> None:
        if latest.status is RunStatus.SUCCESS:
            self._resolve(AlertRule.FAILURE, "the job succeeded")
        threshold = self.rules.failure_threshold
        if threshold is None or latest.status not in FAILED:
            return
        new_failures = 0
        for run in reversed(finished):
            if run.status not in FAILED:
                break
            new_failures += 1
        streak = await failure_streak(
            self.session, self.view.tenant_id, self.job_id, threshold + new_failures + 1
        )
        if streak >= threshold and streak - new_failures < threshold:
            times = "" if threshold == 1 else f" {threshold} times in a row"
            code = f" (exit code {latest.exit_code})" if latest.exit_code is not None else ""
            self._open(
                AlertRule.FAILURE,
                f"{self.label} failed{times}{code}",
                run_id=str(latest.id),
                exit_code=latest.exit_code,
                status=latest.status.value,
                consecutive_failures=streak,
                endpoint_id=str(latest.endpoint_id) if latest.endpoint_id else None,
            )

    async def _failure_rate(self) -> None:
        rate = self.rules.failure_rate
        if rate is None:
            return
        since = self.now - timedelta(seconds=rate.window)
        total, failed = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(case((Run.status.in_(FAILED), 1), else_=0)), 0),
                ).where(
                    Run.tenant_id == self.view.tenant_id,
                    Run.job_id == self.job_id,
                    Run.status.not_in([RunStatus.RUNNING, RunStatus.MISSED]),
                    Run.started_at >= since,
                )
            )
        ).one()
        if total >= rate.min_runs and failed * 100 >= rate.percent * total:
            self._open(
                AlertRule.FAILURE_RATE,
                f"{self.label} failed {failed} of its last {total} runs "
                f"(alerting at {rate.percent}%)",
                failed=int(failed),
                runs=int(total),
                window=rate.window,
            )
        elif total and failed * 100 < rate.percent * total:
            self._resolve(AlertRule.FAILURE_RATE, "the failure rate fell below the threshold")

    def _durations(self, latest: RunState) -> None:
        seconds = None if latest.duration_ms is None else latest.duration_ms / 1000
        maximum, minimum = self.rules.max_duration, self.rules.min_duration
        if maximum is not None and seconds is not None:
            if seconds > maximum:
                self._open(
                    AlertRule.TOO_LONG,
                    f"{self.label} ran {seconds:.0f} s, longer than {maximum} s",
                    run_id=str(latest.id),
                    duration_seconds=round(seconds, 3),
                    max_duration=maximum,
                )
            else:
                self._resolve(AlertRule.TOO_LONG, "a run finished in time")
        elif maximum is None and seconds is not None:
            # A limit learnt from past durations (services/stuck.py) only judges runs still
            # going; the job finishing again is what resolves it.
            self._resolve(AlertRule.TOO_LONG, "a run finished")
        if minimum is not None and seconds is not None and latest.status is RunStatus.SUCCESS:
            if seconds < minimum:
                self._open(
                    AlertRule.TOO_FAST,
                    f"{self.label} finished in {seconds:.1f} s, faster than {minimum} s",
                    run_id=str(latest.id),
                    duration_seconds=round(seconds, 3),
                    min_duration=minimum,
                )
            else:
                self._resolve(AlertRule.TOO_FAST, "a run took its usual time")


async def failure_streak(
    session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID, limit: int
) -> int:
    """Count the job's most recent finished runs that failed in a row (up to `limit`)."""
    statuses = (
        await session.scalars(
            select(Run.status)
            .where(
                Run.tenant_id == tenant_id,
                Run.job_id == job_id,
                Run.status.not_in([RunStatus.RUNNING, RunStatus.MISSED]),
            )
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(limit)
        )
    ).all()
    streak = 0
    for status in statuses:
        if status not in FAILED:
            break
        streak += 1
    return streak
