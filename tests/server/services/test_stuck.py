"""How long a run may last: the job's limit, the server default, else its usual duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crontopus.core.manifest import JobManifest, parse_manifest
from crontopus.server.services.alerts.engine.rules import TenantDefaults
from crontopus.server.services.stuck import Limit, StuckPolicy, is_stuck, job_limit, p95


def manifest(extra: str = "") -> JobManifest:
    return parse_manifest(
        "apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n"
        "  id: 7d0c8f84-9c1e-4c52-8f8e-0d5f3f6b8a11\n  name: backup\n"
        '  namespace: default\nspec:\n  schedule: "0 2 * * *"\n  command: /bin/true\n' + extra
    )


def test_the_p95_needs_five_durations_and_takes_the_nearest_rank() -> None:
    assert p95([1000] * 4) is None
    durations = [1000] * 19 + [60_000]
    assert p95(durations) == 1.0
    assert p95([*range(1000, 21_000, 1000)]) == 19.0


def test_the_job_limit_wins_over_the_default_and_the_usual_duration() -> None:
    policy = StuckPolicy(default_max_duration=600, factor=3)
    assert job_limit(manifest("  timeout: 120\n"), TenantDefaults(), policy, []) == Limit(
        120, "job"
    )
    alerts = "  timeout: 120\n  alerts: {maxDuration: 90}\n"
    assert job_limit(manifest(alerts), TenantDefaults(), policy, []) == Limit(90, "job")
    assert job_limit(manifest(), TenantDefaults(), policy, [1000] * 10) == Limit(600, "default")


def test_without_limits_a_multiple_of_the_usual_duration_applies_never_under_a_minute() -> None:
    policy = StuckPolicy(factor=3)
    assert job_limit(manifest(), TenantDefaults(), policy, [40_000] * 10) == Limit(120, "p95")
    assert job_limit(manifest(), TenantDefaults(), policy, [2_000] * 10) == Limit(60, "p95")
    assert job_limit(manifest(), TenantDefaults(), policy, [2_000] * 4) is None
    assert job_limit(manifest(), TenantDefaults(), StuckPolicy(factor=0), [2_000] * 10) is None


def test_a_run_is_stuck_only_past_its_limit() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert is_stuck(now - timedelta(seconds=61), Limit(60, "p95"), now)
    assert not is_stuck(now - timedelta(seconds=60), Limit(60, "p95"), now)
    assert not is_stuck(now - timedelta(days=3), None, now)
