"""A job's effective alert rules: its manifest's `spec.alerts` over the tenant's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from crontopus.core.alerts import FailureRate
from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import AlertDefaults


@dataclass(frozen=True)
class TenantDefaults:
    """What jobs that say nothing get (a tenant without a row gets these values)."""

    on_failure: bool = True
    consecutive_failures: int | None = None
    missed_run: bool = True
    endpoint_offline: bool = True
    drift: bool = True

    @classmethod
    def from_row(cls, row: AlertDefaults | None) -> TenantDefaults:
        if row is None:
            return cls()
        return cls(
            on_failure=row.on_failure,
            consecutive_failures=row.consecutive_failures,
            missed_run=row.missed_run,
            endpoint_offline=row.endpoint_offline,
            drift=row.drift,
        )


@dataclass(frozen=True)
class JobRules:
    """The rules one job is judged by; None switches a rule off."""

    failure_threshold: int | None = 1
    failure_rate: FailureRate | None = None
    missed_run: bool = True
    max_duration: int | None = None
    min_duration: int | None = None
    channels: tuple[str, ...] | None = None  # None: the tenant's default channels


def failure_threshold(on_failure: bool | None, consecutive: int | None) -> int | None:
    """Return after how many failures in a row to alert, or None for never."""
    if consecutive is not None:
        return consecutive
    if on_failure is None:
        return None
    return 1 if on_failure else None


def job_rules(manifest: JobManifest | None, defaults: TenantDefaults) -> JobRules:
    """Merge a job's `spec.alerts` over the tenant defaults, field by field."""
    tenant_threshold = failure_threshold(defaults.on_failure, defaults.consecutive_failures)
    if manifest is None:
        # A run of a job Git does not know: only the failure rule can apply.
        return JobRules(failure_threshold=tenant_threshold, missed_run=False)
    alerts = manifest.alerts
    if alerts is None:
        return JobRules(
            failure_threshold=tenant_threshold,
            missed_run=defaults.missed_run,
            max_duration=manifest.timeout,
        )
    threshold = tenant_threshold
    if alerts.on_failure is not None or alerts.consecutive_failures is not None:
        threshold = failure_threshold(alerts.on_failure, alerts.consecutive_failures)
    if alerts.on_failure is False:
        threshold = None
    return JobRules(
        failure_threshold=threshold,
        failure_rate=alerts.failure_rate,
        missed_run=defaults.missed_run if alerts.missed_run is None else alerts.missed_run,
        max_duration=alerts.max_duration if alerts.max_duration is not None else manifest.timeout,
        min_duration=alerts.min_duration,
        channels=alerts.channels,
    )
