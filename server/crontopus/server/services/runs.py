"""Reporting runs (check-ins) and reading run history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus
from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import Role, Run
from crontopus.server.errors import NotFound, PermissionDenied, ValidationFailed
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.services.checkin_validation import (
    EXIT_CODE_RANGE,
    Report,
    parse_exit_code,
    validate,
)
from crontopus.server.services.checkins import CheckIn, CheckInKind, RunState, status_for_exit_code
from crontopus.server.services.ingest import IngestWriter
from crontopus.server.services.job_directory import JobDirectory
from crontopus.server.settings import CheckInLimits

#: What the last part of a check-in URL says: the kind, and for finishes status and exit code.
Finish = tuple[CheckInKind, RunStatus | None, int | None]


def finish_status(event: str) -> Finish:
    """Interpret the last part of `/checkin/<job>/<event>`; raise ValidationFailed if unknown."""
    match event:
        case "start":
            return CheckInKind.START, None, None
        case "success":
            return CheckInKind.FINISH, RunStatus.SUCCESS, 0
        case "fail":
            return CheckInKind.FINISH, RunStatus.FAILURE, None
        case "timeout":
            return CheckInKind.FINISH, RunStatus.TIMEOUT, None
    low, high = EXIT_CODE_RANGE
    code = parse_exit_code(event)
    if code is not None and low <= code <= high:
        return CheckInKind.FINISH, status_for_exit_code(code), code
    raise ValidationFailed.single(
        "event",
        f"{event[:40]!r} is not a check-in: use start, success, fail, timeout "
        f"or an exit code from {low} to {high}",
    )


async def check_in(
    principal: Principal,
    writer: IngestWriter,
    directory: JobDirectory,
    report: Report,
    limits: CheckInLimits,
) -> RunState:
    """Check a report against `limits`, store it durably and return the run as it now stands."""
    if principal.kind is not PrincipalKind.ENDPOINT:
        principal.require_role(Role.MEMBER, "Reporting runs")
    if not principal.has_scope(Scope.CHECKIN):
        raise PermissionDenied(
            "reporting runs needs an endpoint token or an API token with the CHECKIN scope"
        )
    now = datetime.now(UTC)
    checked = validate(report, limits, now)
    report = checked.report
    label = await directory.lookup(principal.tenant_slug, report.job_id)
    if (
        principal.endpoint_id is not None
        and label is not None
        and not label.runs_on(dict(principal.endpoint_labels))
    ):
        # A job not in Git yet is stored and flagged; one that targets other machines is not
        # this endpoint's to report.
        raise PermissionDenied(
            f"job {report.job_id} ({label.namespace}/{label.name}) is not targeted at this "
            "endpoint: an endpoint reports only the jobs its labels select"
        )
    status = report.status
    if report.kind is CheckInKind.FINISH and status is None:
        status = status_for_exit_code(report.exit_code or 0)
    state = await writer.submit(
        CheckIn(
            tenant_id=principal.tenant_id,
            run_id=report.run_id,
            job_id=report.job_id,
            kind=report.kind,
            at=(report.finished_at or now) if report.kind is CheckInKind.FINISH else now,
            endpoint_id=principal.endpoint_id,
            status=status,
            exit_code=report.exit_code,
            duration_ms=report.duration_ms,
            started_at=report.started_at,
            output=checked.output,
            output_truncated=checked.output_truncated,
            commit_id=report.commit_id,
            job_name=label.name if label else None,
            namespace=label.namespace if label else None,
            unknown_job=label is None,
            trigger=report.trigger,
        )
    )
    if principal.endpoint_id is not None and state.endpoint_id != principal.endpoint_id:
        # The writer left the run alone (see `checkins._fold`); say why, and show nothing of it.
        raise PermissionDenied(
            f"run {report.run_id} was started by another endpoint: "
            "an endpoint reports only its own runs (use a new rid for a new run)"
        )
    return state


@dataclass(frozen=True)
class RunFilter:
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    job_name: str | None = None
    #: Part of the job name, any case (the run log's job filter).
    job_name_contains: str | None = None
    endpoint_id: uuid.UUID | None = None
    status: RunStatus | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_runs(
    session: AsyncSession,
    principal: Principal,
    where: RunFilter,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Run]:
    """Return up to `first` + 1 runs, newest first, after a keyset cursor (an agent: its own)."""
    principal.require_read("Reading runs", endpoints=True)
    query = select(Run).where(Run.tenant_id == principal.tenant_id)
    if principal.endpoint_id is not None:
        query = query.where(Run.endpoint_id == principal.endpoint_id)
    if where.job_id is not None:
        query = query.where(Run.job_id == where.job_id)
    if where.namespace is not None:
        query = query.where(Run.namespace == where.namespace)
    if where.job_name is not None:
        query = query.where(Run.job_name == where.job_name)
    if where.job_name_contains:
        pattern = "%" + _escape_like(where.job_name_contains.lower()) + "%"
        query = query.where(func.lower(Run.job_name).like(pattern, escape="\\"))
    if where.endpoint_id is not None:
        query = query.where(Run.endpoint_id == where.endpoint_id)
    if where.status is not None:
        query = query.where(Run.status == where.status)
    if where.since is not None:
        query = query.where(Run.started_at >= where.since)
    if where.until is not None:
        query = query.where(Run.started_at < where.until)
    query = newest_first(query, Run.started_at, Run.id, first, after)
    return (await session.scalars(query)).all()


async def get_run(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> Run:
    """Return one run of the tenant (an agent: one of its own), or NotFound."""
    principal.require_read("Reading runs", endpoints=True)
    run = await session.get(Run, (principal.tenant_id, run_id))
    if run is None or (
        principal.endpoint_id is not None and run.endpoint_id != principal.endpoint_id
    ):
        raise NotFound(f"no run with id {run_id}")
    return run


def _escape_like(text: str) -> str:
    """Make `text` match itself in a LIKE pattern: % and _ are letters in job names too."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
