"""Job instances: what each endpoint's scheduler holds, and where that differs from Git (drift)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import JobSource
from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import Endpoint, JobInstance
from crontopus.server.db.types import utcnow
from crontopus.server.errors import Conflict, FieldProblem, ValidationFailed
from crontopus.server.gitstore import Snapshot
from crontopus.server.security.principal import Principal
from crontopus.server.services.audit import record_audit
from crontopus.server.services.endpoints import get_endpoint, require_endpoint, text_problem

MAX_INSTANCES_PER_REPORT = 5000
MAX_FAILURE_REASON_LENGTH = 2000


class InstanceState(enum.StrEnum):
    """What the endpoint's scheduler does with a job it holds."""

    INSTALLED = "INSTALLED"  # present and active: it fires on schedule
    DISABLED = "DISABLED"  # present but switched off (enabled: false or paused: true)
    FAILED = "FAILED"  # the agent could not install it (the driver refused the schedule, say)


class DriftReason(enum.StrEnum):
    """Why what an endpoint holds differs from what Git says it should hold."""

    MISSING = "MISSING"  # the job targets the endpoint, which does not report it
    NOT_TARGETED = "NOT_TARGETED"  # reported, but the job's targets do not match the endpoint
    UNKNOWN_JOB = "UNKNOWN_JOB"  # reported, but no such job exists in Git at HEAD


@dataclass(frozen=True)
class InstanceReport:
    """One job an endpoint's scheduler holds, as the agent reports it."""

    job_id: uuid.UUID
    driver: str
    state: InstanceState
    source: JobSource
    failure_reason: str | None = None


@dataclass(frozen=True)
class InstanceChanges:
    """How a report changed the endpoint's instances."""

    added: int
    updated: int
    removed: int
    total: int


def drift_of(
    instance: JobInstance | None,
    manifest: JobManifest | None,
    endpoint_labels: Mapping[str, str],
) -> DriftReason | None:
    """Tell whether (and why) an endpoint's hold of a job differs from Git."""
    expected = (
        manifest is not None
        and not manifest.is_discovered
        and manifest.targets.matches(endpoint_labels)
    )
    if instance is None:
        return DriftReason.MISSING if expected else None
    if instance.source == JobSource.DISCOVERED.value:
        # Foreign entries are what the machine holds by definition; they are never drift.
        return None
    if manifest is None:
        return DriftReason.UNKNOWN_JOB
    if not expected:
        return DriftReason.NOT_TARGETED
    return None


@dataclass(frozen=True)
class EndpointJobRow:
    """One job on one endpoint: reported, expected by Git, or both."""

    endpoint: Endpoint
    job_id: uuid.UUID
    manifest: JobManifest | None
    instance: JobInstance | None
    drift: DriftReason | None


def rows_for_endpoint(
    endpoint: Endpoint, instances: Sequence[JobInstance], view: Snapshot
) -> list[EndpointJobRow]:
    """Cross-reference an endpoint's reported instances with the jobs Git targets at it."""
    labels = endpoint.labels if endpoint.revoked_at is None else {}
    reported = {instance.job_id: instance for instance in instances}
    rows = []
    for instance in instances:
        entry = view.job(instance.job_id)
        manifest = entry.manifest if entry else None
        rows.append(
            EndpointJobRow(
                endpoint, instance.job_id, manifest, instance, drift_of(instance, manifest, labels)
            )
        )
    if endpoint.revoked_at is None:
        for entry in view.jobs.values():
            drift = (
                None if entry.manifest.id in reported else drift_of(None, entry.manifest, labels)
            )
            if drift is not None:
                rows.append(
                    EndpointJobRow(endpoint, entry.manifest.id, entry.manifest, None, drift)
                )
    rows.sort(key=lambda r: (r.manifest is None, r.manifest.path if r.manifest else str(r.job_id)))
    return rows


def rows_for_job(
    job_id: uuid.UUID,
    manifest: JobManifest | None,
    instances: Sequence[JobInstance],
    endpoints: Sequence[Endpoint],
) -> list[EndpointJobRow]:
    """Cross-reference one job with the active endpoints that report it or that it targets."""
    reported = {instance.endpoint_id: instance for instance in instances}
    rows = []
    for endpoint in endpoints:
        instance = reported.get(endpoint.id)
        drift = drift_of(instance, manifest, endpoint.labels)
        if instance is not None or drift is not None:
            rows.append(EndpointJobRow(endpoint, job_id, manifest, instance, drift))
    return rows


def _report_problems(items: Sequence[InstanceReport]) -> list[FieldProblem]:
    problems = []
    if len(items) > MAX_INSTANCES_PER_REPORT:
        problems.append(
            FieldProblem(
                ("items",),
                f"holds {len(items)} instances, more than {MAX_INSTANCES_PER_REPORT}",
            )
        )
    seen: set[uuid.UUID] = set()
    for index, item in enumerate(items):
        if item.job_id in seen:
            problems.append(
                FieldProblem(("items", str(index), "jobId"), f"{item.job_id} is reported twice")
            )
        seen.add(item.job_id)
        if (problem := text_problem(item.driver, ("items", str(index), "driver"), 50)) is not None:
            problems.append(problem)
        if item.failure_reason is not None:
            path = ("items", str(index), "failureReason")
            if item.state is not InstanceState.FAILED:
                problems.append(
                    FieldProblem(
                        path,
                        f"is only for state FAILED, not {item.state.value}: leave it out",
                    )
                )
            elif len(item.failure_reason) > MAX_FAILURE_REASON_LENGTH:
                problems.append(
                    FieldProblem(
                        path,
                        f"is {len(item.failure_reason)} characters long, more than "
                        f"{MAX_FAILURE_REASON_LENGTH}: shorten it",
                    )
                )
    return problems


async def report_job_instances(
    session: AsyncSession, principal: Principal, items: Sequence[InstanceReport]
) -> InstanceChanges:
    """Replace what the calling endpoint holds: instances not reported again are removed."""
    endpoint_id = require_endpoint(principal, "Reporting job instances")
    if problems := _report_problems(items):
        raise ValidationFailed(problems)
    endpoint = await get_endpoint(session, principal, endpoint_id)
    existing = {
        row.job_id: row
        for row in await session.scalars(
            select(JobInstance).where(
                JobInstance.tenant_id == principal.tenant_id,
                JobInstance.endpoint_id == endpoint_id,
            )
        )
    }
    now = utcnow()
    wanted = {item.job_id: item for item in items}
    removed = [job_id for job_id in existing if job_id not in wanted]
    if removed:
        await session.execute(
            delete(JobInstance).where(
                JobInstance.tenant_id == principal.tenant_id,
                JobInstance.endpoint_id == endpoint_id,
                JobInstance.job_id.in_(removed),
            )
        )
    added = updated = 0
    for job_id, item in wanted.items():
        reason = item.failure_reason.strip() or None if item.failure_reason else None
        values = (item.driver, item.state.value, item.source.value, reason)
        row = existing.get(job_id)
        if row is None:
            added += 1
            session.add(
                JobInstance(
                    tenant_id=principal.tenant_id,
                    endpoint_id=endpoint_id,
                    job_id=job_id,
                    driver=values[0],
                    state=values[1],
                    source=values[2],
                    failure_reason=values[3],
                    reported_at=now,
                )
            )
            continue
        if (row.driver, row.state, row.source, row.failure_reason) != values:
            updated += 1
        row.driver, row.state, row.source, row.failure_reason = values
        row.reported_at = now
    changes = InstanceChanges(added, updated, len(removed), len(wanted))
    # Agents report on every sync; only reports that change something are worth an audit line.
    if added or updated or removed:
        record_audit(
            session,
            principal,
            "endpoint.instances",
            f"endpoint:{endpoint.name}",
            {"added": added, "updated": updated, "removed": len(removed), "total": len(wanted)},
        )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "items: another report from this endpoint was stored at the same time; send it again"
        ) from None
    return changes
