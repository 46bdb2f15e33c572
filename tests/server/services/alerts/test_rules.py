"""Effective rules, quiet times and the missed-run judgement, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from crontopus.core.job import JobManifest, Targets
from crontopus.core.manifest import parse_manifest
from crontopus.server.db.models import MaintenanceWindow, Snooze
from crontopus.server.services.alerts.engine.missed import EndpointInfo, LastStarts, find_misses
from crontopus.server.services.alerts.engine.quiet import Quiet, window_end
from crontopus.server.services.alerts.engine.rules import TenantDefaults, job_rules

NOW = datetime(2026, 11, 26, 5, 0, 31, tzinfo=UTC)
FIRE = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


def manifest(alerts: str | None = None, extra: str = "") -> JobManifest:
    text = (
        "apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n"
        f"  id: {uuid.uuid4()}\n  name: j\n  namespace: default\n"
        'spec:\n  schedule: "*/1 * * * *"\n  command: /bin/true\n  graceTime: 30\n' + extra
    )
    if alerts is not None:
        text += f"  alerts: {alerts}\n"
    return parse_manifest(text)


@pytest.mark.parametrize(
    ("alerts", "defaults", "threshold"),
    [
        (None, TenantDefaults(), 1),
        (None, TenantDefaults(on_failure=False), None),
        (None, TenantDefaults(consecutive_failures=4), 4),
        ("{consecutiveFailures: 3}", TenantDefaults(), 3),
        ("{onFailure: false}", TenantDefaults(consecutive_failures=2), None),
        ("{onFailure: true}", TenantDefaults(on_failure=False), 1),
        ("{missedRun: false}", TenantDefaults(consecutive_failures=2), 2),
    ],
)
def test_a_job_says_what_it_wants_and_the_tenant_fills_the_rest(
    alerts: str | None, defaults: TenantDefaults, threshold: int | None
) -> None:
    assert job_rules(manifest(alerts), defaults).failure_threshold == threshold


def test_the_timeout_is_the_default_longest_run() -> None:
    assert job_rules(manifest(extra="  timeout: 600\n"), TenantDefaults()).max_duration == 600
    rules = job_rules(manifest("{maxDuration: 60}", "  timeout: 600\n"), TenantDefaults())
    assert rules.max_duration == 60


def test_a_recurring_window_is_in_force_for_its_duration_in_its_zone() -> None:
    window = MaintenanceWindow(schedule="0 6 * * *", timezone="Europe/Berlin", duration=3600)
    assert window_end(window, datetime(2026, 11, 26, 5, 30, tzinfo=UTC)) == datetime(
        2026, 11, 26, 6, 0, tzinfo=UTC
    )
    assert window_end(window, datetime(2026, 11, 26, 6, 0, tzinfo=UTC)) is None
    assert window_end(window, datetime(2026, 11, 26, 4, 59, tzinfo=UTC)) is None


def test_snoozes_cover_their_job_namespace_or_tenant() -> None:
    job = uuid.uuid4()
    until = NOW + timedelta(hours=1)
    quiet = Quiet(snoozes=[Snooze(job_id=None, namespace="batch", until=until)])
    assert quiet.snoozed(job, "batch", NOW)
    assert not quiet.snoozed(job, "default", NOW)
    assert not quiet.snoozed(job, "batch", until)
    everything = Quiet(snoozes=[Snooze(job_id=None, namespace=None, until=until)])
    assert everything.snoozed(job, "default", NOW)


def endpoint(name: str, *, labels: dict[str, str] | None = None, online: bool = True,
             enrolled: datetime = FIRE - timedelta(days=1)) -> EndpointInfo:  # fmt: skip
    return EndpointInfo(uuid.uuid4(), name, labels or {"role": "db"}, enrolled, online)


def test_each_targeted_online_endpoint_without_a_start_since_the_fire_time_misses() -> None:
    job = manifest(extra="  targets: {labels: {role: db}}\n")
    ran, early, late, silent = (endpoint(n) for n in ("ran", "early", "late", "silent"))
    web = endpoint("web", labels={"role": "web"})
    offline = endpoint("off", online=False)
    new = endpoint("new", enrolled=FIRE + timedelta(seconds=1))
    starts: LastStarts = {
        job.id.int: {
            ran.id.int: FIRE + timedelta(seconds=2),
            early.id.int: FIRE - timedelta(seconds=10),  # clock skew within tolerance
            late.id.int: FIRE - timedelta(seconds=59),  # the previous fire's run
        }
    }
    misses = find_misses(
        [job],
        [ran, early, late, silent, web, offline, new],
        starts,
        NOW - timedelta(seconds=5),
        NOW,
    )
    assert sorted(m.endpoint.name for m in misses if m.endpoint) == ["late", "silent"]
    assert {m.expected_at for m in misses} == {FIRE}


def test_a_fire_time_is_judged_once_its_grace_is_over() -> None:
    job = manifest()
    starts: LastStarts = {job.id.int: {None: FIRE - timedelta(minutes=1)}}
    assert find_misses([job], [], starts, NOW - timedelta(seconds=5), NOW)
    assert not find_misses(
        [job], [], starts, NOW - timedelta(seconds=5), FIRE + timedelta(seconds=29)
    )
    assert not find_misses([job], [], starts, NOW, NOW + timedelta(seconds=5))


def test_a_job_without_endpoints_is_expected_only_once_it_has_reported() -> None:
    job = manifest()
    assert find_misses([job], [], {}, NOW - timedelta(seconds=5), NOW) == []
    (miss,) = find_misses(
        [job],
        [],
        {job.id.int: {None: FIRE - timedelta(minutes=1)}},
        NOW - timedelta(seconds=5),
        NOW,
    )
    assert miss.endpoint is None
    assert isinstance(Targets(), Targets)
