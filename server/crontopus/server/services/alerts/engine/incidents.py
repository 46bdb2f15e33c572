"""Incidents: opened once per rule and target, announced, acknowledged and resolved.

`open_key` ("RULE:job[:endpoint]") is unique per tenant while an incident is open and NULL
once it is resolved, so the database itself guarantees one open incident per rule and
target, even with several workers evaluating at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.dialect import insert
from crontopus.server.db.models import AlertRule, Incident, IncidentStatus, NotificationEvent
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import to_event
from crontopus.server.events.topics import IncidentChanged, IncidentChangeKind
from crontopus.server.events.transaction import publish_all_in
from crontopus.server.services.alerts.engine.notifications import enqueue
from crontopus.server.services.alerts.engine.quiet import Hold
from crontopus.server.services.telemetry import ServiceMetrics

INCIDENT_EVENTS = IncidentChanged.TOPIC
AUTO_RESOLVER = "crontopus"


def open_key(rule: AlertRule, *parts: uuid.UUID | str | None) -> str:
    """Return the dedup key of a rule and its target, e.g. "MISSED_RUN:<job>:<endpoint>"."""
    return ":".join([rule.value, *(str(part) for part in parts if part is not None)])


@dataclass(frozen=True)
class Opening:
    """An incident a rule wants opened (nothing happens if one is open for the key)."""

    rule: AlertRule
    key: str
    title: str
    job_id: uuid.UUID | None = None
    job_name: str | None = None
    namespace: str | None = None
    endpoint_id: uuid.UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)
    channels: tuple[str, ...] | None = None
    hold: Hold | None = None


@dataclass
class Announcer:
    """Where incident changes are told: subscribers and metrics."""

    broadcaster: Broadcaster
    metrics: ServiceMetrics | None = None


def incident_changed(incident: Incident, kind: IncidentChangeKind) -> IncidentChanged:
    """What subscribers hear of an incident's change."""
    return IncidentChanged(
        kind=kind,
        id=incident.id,
        rule=incident.rule,
        status=incident.status,
        title=incident.title,
        job_id=incident.job_id,
        job_name=incident.job_name,
        namespace=incident.namespace,
        endpoint_id=incident.endpoint_id,
        opened_at=incident.opened_at,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        resolved_at=incident.resolved_at,
        resolved_by=incident.resolved_by,
        details=incident.details,
    )


async def open_incidents(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    openings: Sequence[Opening],
    now: datetime,
    announcer: Announcer,
) -> list[Incident]:
    """Open the incidents not open yet, queue their notifications; return the new ones."""
    wanted = {opening.key: opening for opening in openings}
    if not wanted:
        return []
    taken = set(
        (
            await session.scalars(
                select(Incident.open_key).where(
                    Incident.tenant_id == tenant_id, Incident.open_key.in_(list(wanted))
                )
            )
        ).all()
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "rule": o.rule,
            "status": IncidentStatus.OPEN,
            "open_key": o.key,
            "job_id": o.job_id,
            "job_name": o.job_name,
            "namespace": o.namespace,
            "endpoint_id": o.endpoint_id,
            "title": o.title[:300],
            "details": o.details,
            "channels": None if o.channels is None else list(o.channels),
            "opened_at": now,
        }
        for o in wanted.values()
        if o.key not in taken
    ]
    if not rows:
        return []
    # Another worker may open the same key meanwhile: the unique key decides who wins.
    statement = insert(session, Incident.__table__).on_conflict_do_nothing()
    await session.execute(statement, rows)
    ids = [row["id"] for row in rows]
    created = list((await session.scalars(select(Incident).where(Incident.id.in_(ids)))).all())
    for incident in created:
        assert incident.open_key is not None
        opening = wanted[incident.open_key]
        await enqueue(session, incident, NotificationEvent.TRIGGER, now, opening.hold)
        if announcer.metrics is not None:
            announcer.metrics.incidents_opened.labels(incident.rule.value).inc()
    await _announce(session, announcer, created, IncidentChangeKind.OPENED)
    return created


async def resolve_incidents(
    session: AsyncSession,
    incidents: Sequence[Incident],
    now: datetime,
    announcer: Announcer,
    *,
    by: str = AUTO_RESOLVER,
    hold: Hold | None = None,
    reason: str | None = None,
) -> list[Incident]:
    """Resolve the incidents still unresolved; queue and announce their resolutions."""
    ids = [incident.id for incident in incidents if incident.status is not IncidentStatus.RESOLVED]
    if not ids:
        return []
    result = await session.execute(
        update(Incident)
        .where(Incident.id.in_(ids), Incident.status != IncidentStatus.RESOLVED)
        .values(status=IncidentStatus.RESOLVED, resolved_at=now, resolved_by=by, open_key=None)
        .returning(Incident.id)
        .execution_options(synchronize_session=False)
    )
    won = {row[0] for row in result}
    if not won:
        return []
    fresh = select(Incident).where(Incident.id.in_(won)).execution_options(populate_existing=True)
    resolved = list((await session.scalars(fresh)).all())
    for incident in resolved:
        if reason is not None:
            incident.details = {**incident.details, "resolution": reason}
        await enqueue(session, incident, NotificationEvent.RESOLVE, now, hold)
        if announcer.metrics is not None:
            announcer.metrics.incidents_resolved.labels(incident.rule.value).inc()
    await _announce(session, announcer, resolved, IncidentChangeKind.RESOLVED)
    return resolved


async def acknowledge_incident(
    session: AsyncSession, incident: Incident, now: datetime, by: str, announcer: Announcer
) -> Incident:
    """Mark an open incident as being looked at (notifications of it are not repeated)."""
    if incident.status is IncidentStatus.OPEN:
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at = now
        incident.acknowledged_by = by
        await session.flush()
        await _announce(session, announcer, [incident], IncidentChangeKind.ACKNOWLEDGED)
    return incident


def unresolved(tenant_id: uuid.UUID) -> tuple[ColumnElement[bool], ...]:
    """The SQL conditions of a tenant's unresolved incidents, through the index of open keys.

    An incident has an `open_key` exactly while it is unresolved (resolving clears it), so
    asking for a key reads the (tenant, open key) index and only the open incidents; asking
    for the status alone read every incident the tenant ever had, resolved ones included: the
    run evaluator does so several times a second, and a fleet that once went offline and came
    back leaves ten thousand resolved incidents behind.
    """
    return (
        Incident.tenant_id == tenant_id,
        Incident.open_key.is_not(None),
        Incident.status != IncidentStatus.RESOLVED,
    )


async def open_incidents_of(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    rules: Sequence[AlertRule] | None = None,
    job_ids: Sequence[uuid.UUID] | None = None,
) -> list[Incident]:
    """Return the tenant's unresolved incidents, optionally of some rules or jobs."""
    query = select(Incident).where(*unresolved(tenant_id))
    if rules is not None:
        query = query.where(Incident.rule.in_(list(rules)))
    if job_ids is not None:
        query = query.where(Incident.job_id.in_(list(job_ids)))
    return list((await session.scalars(query)).all())


async def _announce(
    session: AsyncSession,
    announcer: Announcer,
    incidents: Sequence[Incident],
    kind: IncidentChangeKind,
) -> None:
    events = [
        to_event(incident.tenant_id, incident_changed(incident, kind)) for incident in incidents
    ]
    await publish_all_in(announcer.broadcaster, session, events)
