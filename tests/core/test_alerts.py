"""The `spec.alerts` block of a job manifest."""

from __future__ import annotations

import pytest

from crontopus.core.alerts import Alerts, FailureRate
from crontopus.core.manifest import dump_manifest, manifest_problems, parse_manifest

HEAD = """\
apiVersion: crontopus.io/v1
kind: Job
metadata:
  id: 550e8400-e29b-41d4-a716-446655440000
  name: tick
  namespace: default
spec:
  schedule: "*/5 * * * *"
  command: /bin/true
"""


def with_alerts(block: str) -> str:
    return HEAD + "  alerts:\n" + "".join(f"    {line}\n" for line in block.splitlines())


def problems_of(text: str) -> list[str]:
    return [str(problem) for problem in manifest_problems(text, "f.yaml")]


def test_it_reads_every_alert_rule() -> None:
    job = parse_manifest(
        with_alerts(
            "onFailure: false\nconsecutiveFailures: 3\n"
            "failureRate: {percent: 50, window: 3600, minRuns: 4}\n"
            "missedRun: true\nmaxDuration: 600\nminDuration: 5\nchannels: [ops, pager]"
        )
    )
    assert job.alerts == Alerts(
        on_failure=False,
        consecutive_failures=3,
        failure_rate=FailureRate(percent=50, window=3600, min_runs=4),
        missed_run=True,
        max_duration=600,
        min_duration=5,
        channels=("ops", "pager"),
    )


def test_a_job_without_alerts_leaves_them_to_the_tenant_defaults() -> None:
    assert parse_manifest(HEAD).alerts is None
    assert "alerts" not in dump_manifest(parse_manifest(HEAD))


@pytest.mark.parametrize(
    "block",
    [
        "consecutiveFailures: 3",
        "missedRun: false\nchannels: []",
        "failureRate: {percent: 20, window: 60}",
        "onFailure: true\nmaxDuration: 10\nminDuration: 1\nchannels: [ops]",
    ],
)
def test_dumping_and_parsing_gives_back_the_same_job(block: str) -> None:
    job = parse_manifest(with_alerts(block))
    assert parse_manifest(dump_manifest(job)) == job


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("missedRuns: true", 'spec.alerts.missedRuns: unknown field: did you mean "missedRun"?'),
        ("consecutiveFailures: 0", "spec.alerts.consecutiveFailures: 0 is out of range"),
        ("consecutiveFailures: three", "spec.alerts.consecutiveFailures: must be a whole number"),
        ("onFailure: yes please", "spec.alerts.onFailure: must be true or false"),
        ("maxDuration: 1h", 'units such as "1h" are not supported'),
        ("failureRate: {percent: 150, window: 60}", "spec.alerts.failureRate.percent: 150 is out"),
        ("failureRate: {window: 60}", "spec.alerts.failureRate.percent: is missing"),
        ("channels: ops", "spec.alerts.channels: must be a list of channel names"),
        ("channels: [Ops]", "spec.alerts.channels[0]"),
        ("channels: [ops, ops]", '"ops" is listed twice'),
        ("maxDuration: 10\nminDuration: 10", "10 is not below maxDuration (10)"),
        ("[]", "spec.alerts: must be a mapping"),
    ],
)
def test_it_names_the_field_and_the_fix_of_a_bad_rule(block: str, message: str) -> None:
    problems = problems_of(with_alerts(block))
    assert any(message in problem for problem in problems), problems
