"""Reading, acknowledging and resolving incidents, and their delivery logs, for a principal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import (
    AlertRule,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    Notification,
)
from crontopus.server.db.search import contains_pattern
from crontopus.server.errors import NotFound
from crontopus.server.security.principal import Principal
from crontopus.server.services.alerts.engine.incidents import (
    Announcer,
    acknowledge_incident,
    resolve_incidents,
)
from crontopus.server.services.audit import record_audit


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list; given fields combine with AND."""

    status: Sequence[IncidentStatus] | None = None
    rule: AlertRule | None = None
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    endpoint_id: uuid.UUID | None = None
    since: datetime | None = None
    #: Part of the title (which names the job or endpoint), any case.
    search: str | None = None


def _reader(principal: Principal) -> None:
    principal.require_read("Reading incidents")


async def list_incidents(
    session: AsyncSession,
    principal: Principal,
    where: IncidentFilter,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Incident]:
    """Return up to `first` + 1 incidents, newest first, after a keyset cursor."""
    _reader(principal)
    query = select(Incident).where(Incident.tenant_id == principal.tenant_id)
    if where.status:
        query = query.where(Incident.status.in_(list(where.status)))
    if where.rule is not None:
        query = query.where(Incident.rule == where.rule)
    if where.job_id is not None:
        query = query.where(Incident.job_id == where.job_id)
    if where.namespace is not None:
        query = query.where(Incident.namespace == where.namespace)
    if where.endpoint_id is not None:
        query = query.where(Incident.endpoint_id == where.endpoint_id)
    if where.since is not None:
        query = query.where(Incident.opened_at >= where.since)
    if where.search is not None:
        query = query.where(Incident.title.ilike(contains_pattern(where.search), escape="\\"))
    query = newest_first(query, Incident.opened_at, Incident.id, first, after)
    return (await session.scalars(query)).all()


async def get_incident(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> Incident:
    """Return one incident of the tenant, or NotFound."""
    _reader(principal)
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.tenant_id != principal.tenant_id:
        raise NotFound(f"no incident with id {incident_id}")
    return incident


async def acknowledge(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    now: datetime,
    announcer: Announcer,
) -> Incident:
    """Acknowledge an open incident (acknowledging twice changes nothing)."""
    principal.require_write("Acknowledging an incident")
    incident = await get_incident(session, principal, incident_id)
    await acknowledge_incident(session, incident, now, principal.label, announcer)
    record_audit(session, principal, "incident.acknowledge", f"incident:{incident.id}")
    return incident


async def resolve(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID,
    now: datetime,
    announcer: Announcer,
) -> Incident:
    """Resolve an incident by hand; its resolution is announced like an automatic one."""
    principal.require_write("Resolving an incident")
    incident = await get_incident(session, principal, incident_id)
    await resolve_incidents(
        session, [incident], now, announcer, by=principal.label, reason="resolved by hand"
    )
    record_audit(session, principal, "incident.resolve", f"incident:{incident.id}")
    await session.refresh(incident)
    return incident


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    incident_id: uuid.UUID | None,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
    *,
    status: DeliveryStatus | None = None,
) -> Sequence[Notification]:
    """Return the delivery log (one incident's, or the tenant's), newest first."""
    _reader(principal)
    query = select(Notification).where(Notification.tenant_id == principal.tenant_id)
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    if status is not None:
        query = query.where(Notification.status == status)
    query = newest_first(query, Notification.created_at, Notification.id, first, after)
    return (await session.scalars(query)).all()
