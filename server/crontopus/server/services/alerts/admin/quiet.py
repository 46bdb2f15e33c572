"""Snoozes, maintenance windows and the tenant's alert defaults, as users manage them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.errors import ScheduleError
from crontopus.core.namespaces import namespace_problem
from crontopus.core.schedule import parse_schedule
from crontopus.core.timezones import timezone_problem
from crontopus.server.db.models import AlertDefaults, MaintenanceWindow, Snooze
from crontopus.server.errors import FieldProblem, NotFound, ValidationFailed
from crontopus.server.security.principal import Principal
from crontopus.server.services.alerts.engine.rules import TenantDefaults
from crontopus.server.services.audit import record_audit

MAX_WINDOW_SECONDS = 31 * 24 * 3600


def _scope_problems(job_id: uuid.UUID | None, namespace: str | None) -> list[FieldProblem]:
    if job_id is not None and namespace is not None:
        return [FieldProblem(("input", "namespace"), "give a jobId or a namespace, not both")]
    if namespace is not None and (problem := namespace_problem(namespace)) is not None:
        return [FieldProblem(("input", "namespace"), problem)]
    return []


def _target(job_id: uuid.UUID | None, namespace: str | None) -> str:
    if job_id is not None:
        return f"job:{job_id}"
    return f"namespace:{namespace}" if namespace is not None else "tenant"


async def list_snoozes(
    session: AsyncSession, principal: Principal, now: datetime
) -> Sequence[Snooze]:
    """Return the snoozes still in force, ending soonest first."""
    principal.require_read("Reading snoozes")
    query = select(Snooze).where(Snooze.tenant_id == principal.tenant_id, Snooze.until > now)
    return (await session.scalars(query.order_by(Snooze.until))).all()


async def create_snooze(
    session: AsyncSession,
    principal: Principal,
    *,
    job_id: uuid.UUID | None,
    namespace: str | None,
    until: datetime,
    reason: str,
    now: datetime,
) -> Snooze:
    """Keep a job, a namespace or (with neither) the whole tenant quiet until `until`."""
    principal.require_write("Snoozing alerts")
    problems = _scope_problems(job_id, namespace)
    if until <= now:
        problems.append(FieldProblem(("input", "until"), "must lie in the future"))
    if len(reason) > 300:
        problems.append(FieldProblem(("input", "reason"), "must be at most 300 characters"))
    if problems:
        raise ValidationFailed(problems)
    snooze = Snooze(
        tenant_id=principal.tenant_id,
        job_id=job_id,
        namespace=namespace,
        until=until,
        reason=reason,
        created_by=principal.label,
        created_at=now,
    )
    session.add(snooze)
    await session.flush()
    record_audit(
        session,
        principal,
        "alerts.snooze",
        _target(job_id, namespace),
        {"until": until.isoformat()},
    )
    return snooze


async def delete_snooze(
    session: AsyncSession, principal: Principal, snooze_id: uuid.UUID
) -> Snooze:
    """End a snooze now."""
    principal.require_write("Ending a snooze")
    snooze = await session.get(Snooze, snooze_id)
    if snooze is None or snooze.tenant_id != principal.tenant_id:
        raise NotFound(f"no snooze with id {snooze_id}")
    await session.delete(snooze)
    record_audit(session, principal, "alerts.unsnooze", _target(snooze.job_id, snooze.namespace))
    return snooze


@dataclass(frozen=True)
class WindowSpec:
    """A maintenance window as a user states it: a range, or a cron start and a duration."""

    name: str
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    duration: int | None = None
    release_held: bool = True


def _window_problems(spec: WindowSpec) -> list[FieldProblem]:
    problems = _scope_problems(spec.job_id, spec.namespace)
    if not spec.name.strip() or len(spec.name) > 100:
        problems.append(FieldProblem(("input", "name"), "must be 1 to 100 characters"))
    ranged = spec.starts_at is not None or spec.ends_at is not None
    recurring = spec.schedule is not None or spec.duration is not None
    if ranged == recurring:
        problems.append(
            FieldProblem(
                ("input",),
                "give either startsAt and endsAt, or schedule and duration (a recurring window)",
            )
        )
    if ranged and (
        spec.starts_at is None or spec.ends_at is None or spec.ends_at <= spec.starts_at
    ):
        problems.append(FieldProblem(("input", "endsAt"), "give both times, endsAt after startsAt"))
    if recurring:
        if spec.schedule is None:
            problems.append(
                FieldProblem(("input", "schedule"), 'give a cron start, e.g. "0 2 * * 0"')
            )
        else:
            try:
                parse_schedule(spec.schedule, allow_reboot=False)
            except ScheduleError as error:
                problems.append(FieldProblem(("input", "schedule"), str(error)))
        if spec.duration is None or not 60 <= spec.duration <= MAX_WINDOW_SECONDS:
            problems.append(
                FieldProblem(("input", "duration"), "give the length in seconds, 60 s to 31 days")
            )
        if (problem := timezone_problem(spec.timezone)) is not None:
            problems.append(FieldProblem(("input", "timezone"), problem))
    return problems


async def list_windows(session: AsyncSession, principal: Principal) -> Sequence[MaintenanceWindow]:
    principal.require_read("Reading maintenance windows")
    query = select(MaintenanceWindow).where(MaintenanceWindow.tenant_id == principal.tenant_id)
    return (await session.scalars(query.order_by(MaintenanceWindow.name))).all()


async def create_window(
    session: AsyncSession, principal: Principal, spec: WindowSpec, now: datetime
) -> MaintenanceWindow:
    """Add a maintenance window during which notifications are held."""
    principal.require_write("Creating a maintenance window")
    problems = _window_problems(spec)
    if problems:
        raise ValidationFailed(problems)
    window = MaintenanceWindow(
        tenant_id=principal.tenant_id,
        name=spec.name.strip(),
        job_id=spec.job_id,
        namespace=spec.namespace,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        schedule=spec.schedule,
        timezone=spec.timezone,
        duration=spec.duration,
        release_held=spec.release_held,
        created_by=principal.label,
        created_at=now,
    )
    session.add(window)
    await session.flush()
    record_audit(
        session,
        principal,
        "alerts.window.create",
        _target(spec.job_id, spec.namespace),
        {"name": window.name},
    )
    return window


async def delete_window(
    session: AsyncSession, principal: Principal, window_id: uuid.UUID
) -> MaintenanceWindow:
    """Remove a maintenance window (held notifications are then judged at their hold time)."""
    principal.require_write("Deleting a maintenance window")
    window = await session.get(MaintenanceWindow, window_id)
    if window is None or window.tenant_id != principal.tenant_id:
        raise NotFound(f"no maintenance window with id {window_id}")
    await session.delete(window)
    record_audit(session, principal, "alerts.window.delete", f"window:{window.name}")
    return window


async def get_defaults(session: AsyncSession, principal: Principal) -> TenantDefaults:
    principal.require_read("Reading alert defaults")
    return TenantDefaults.from_row(await session.get(AlertDefaults, principal.tenant_id))


async def update_defaults(
    session: AsyncSession,
    principal: Principal,
    *,
    on_failure: bool | None,
    consecutive_failures: int | None,
    clear_consecutive_failures: bool,
    missed_run: bool | None,
    endpoint_offline: bool | None,
    drift: bool | None = None,
    now: datetime,
) -> TenantDefaults:
    """Change the rules of jobs whose manifests say nothing."""
    principal.require_admin("Changing alert defaults")
    if consecutive_failures is not None and not 1 <= consecutive_failures <= 1000:
        raise ValidationFailed.single("input.consecutiveFailures", "must be 1 to 1000")
    row = await session.get(AlertDefaults, principal.tenant_id)
    if row is None:
        row = AlertDefaults(
            tenant_id=principal.tenant_id,
            on_failure=True,
            missed_run=True,
            endpoint_offline=True,
            drift=True,
        )
        session.add(row)
    if on_failure is not None:
        row.on_failure = on_failure
    if consecutive_failures is not None:
        row.consecutive_failures = consecutive_failures
    if clear_consecutive_failures:
        row.consecutive_failures = None
    if missed_run is not None:
        row.missed_run = missed_run
    if endpoint_offline is not None:
        row.endpoint_offline = endpoint_offline
    if drift is not None:
        row.drift = drift
    row.updated_at = now
    await session.flush()
    record_audit(session, principal, "alerts.defaults", "tenant")
    return TenantDefaults.from_row(row)
