"""A job's status in one word, from its incidents, its latest runs and its schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from crontopus.core.enums import JobStatus, RunStatus
from crontopus.core.manifest import JobManifest, parse_manifest
from crontopus.server.db.models import AlertRule, Run
from crontopus.server.services.alerts.engine.rules import TenantDefaults
from crontopus.server.services.job_status import JobFacts, job_status

JOB_ID = uuid.UUID("7d0c8f84-9c1e-4c52-8f8e-0d5f3f6b8a11")
# 02:30 every day, with ten minutes of grace.
NOW = datetime(2026, 12, 1, 2, 35, tzinfo=UTC)
DEFAULTS = TenantDefaults()


def manifest(extra: str = "") -> JobManifest:
    return parse_manifest(
        "apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n"
        f"  id: {JOB_ID}\n  name: backup\n  namespace: default\nspec:\n"
        '  schedule: "30 2 * * *"\n  command: /bin/true\n  graceTime: 600\n' + extra
    )


def run(status: RunStatus, started: datetime) -> Run:
    return Run(
        tenant_id=uuid.uuid4(), id=uuid.uuid4(), job_id=JOB_ID, status=status, started_at=started
    )


YESTERDAY = NOW - timedelta(days=1)


def status(facts: JobFacts, job: JobManifest | None = None, now: datetime = NOW) -> JobStatus:
    return job_status(job or manifest(), facts, DEFAULTS, now)


def test_a_job_that_never_reported_is_new() -> None:
    assert status(JobFacts()) is JobStatus.NEW


def test_a_job_that_ran_at_its_last_fire_time_is_up() -> None:
    ran = run(RunStatus.SUCCESS, NOW - timedelta(minutes=5))
    assert status(JobFacts(ran, ran)) is JobStatus.UP


def test_a_job_whose_fire_time_passed_without_a_start_is_late_within_its_grace() -> None:
    ran = run(RunStatus.SUCCESS, YESTERDAY)
    assert status(JobFacts(ran, ran)) is JobStatus.LATE
    # Before the fire time, and within the first seconds a start takes to arrive, it is not.
    assert status(JobFacts(ran, ran), now=NOW.replace(minute=30, second=10)) is JobStatus.UP
    assert status(JobFacts(ran, ran), now=NOW.replace(minute=29)) is JobStatus.UP
    # Without the missed-run rule a job is never expected, so never late.
    assert status(JobFacts(ran, ran), manifest("  alerts: {missedRun: false}\n")) is JobStatus.UP


def test_a_missed_run_makes_a_job_down_until_a_run_starts() -> None:
    ran = run(RunStatus.SUCCESS, YESTERDAY)
    missed = run(RunStatus.MISSED, NOW - timedelta(minutes=5))
    assert status(JobFacts(ran, missed)) is JobStatus.DOWN
    assert status(JobFacts(ran, ran, frozenset({AlertRule.MISSED_RUN}))) is JobStatus.DOWN
    going = run(RunStatus.RUNNING, NOW - timedelta(minutes=1))
    assert status(JobFacts(going, missed)) is JobStatus.UP


def test_a_failed_last_run_or_an_open_failure_alert_makes_a_job_failing() -> None:
    failed = run(RunStatus.FAILURE, NOW - timedelta(minutes=5))
    assert status(JobFacts(failed, failed)) is JobStatus.FAILING
    ran = run(RunStatus.SUCCESS, NOW - timedelta(minutes=5))
    assert status(JobFacts(ran, ran, frozenset({AlertRule.FAILURE_RATE}))) is JobStatus.FAILING


def test_a_paused_or_disabled_job_is_paused_whatever_happened() -> None:
    missed = run(RunStatus.MISSED, NOW - timedelta(minutes=5))
    facts = JobFacts(None, missed, frozenset({AlertRule.MISSED_RUN}))
    assert status(facts, manifest("  paused: true\n")) is JobStatus.PAUSED
    assert status(facts, manifest("  enabled: false\n")) is JobStatus.PAUSED
