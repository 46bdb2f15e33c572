"""The audit trail: one function writes it, owners and admins read it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import AuditEvent, Endpoint
from crontopus.server.db.search import contains_pattern
from crontopus.server.security.principal import Principal


def record_audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's transaction (it commits with the change it records)."""
    event = AuditEvent(
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id or principal.endpoint_id,
        actor=principal.label,
        action=action,
        target=target,
        details=details or {},
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list; given fields combine with AND."""

    action: str | None = None  # the action, or its prefix ending in "." ("job." for every job's)
    actor: str | None = None
    search: str | None = None  # text in the target


async def list_audit_events(
    session: AsyncSession,
    principal: Principal,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
    wanted: AuditFilter | None = None,
) -> Sequence[AuditEvent]:
    """Return up to `first` + 1 events, newest first, after a keyset cursor."""
    principal.require_admin_read("Reading the audit log")
    query = select(AuditEvent).where(AuditEvent.tenant_id == principal.tenant_id)
    wanted = wanted or AuditFilter()
    if wanted.action is not None:
        if wanted.action.endswith("."):
            prefix = contains_pattern(wanted.action)[1:]
            query = query.where(AuditEvent.action.like(prefix, escape="\\"))
        else:
            query = query.where(AuditEvent.action == wanted.action)
    if wanted.actor is not None:
        query = query.where(AuditEvent.actor == wanted.actor)
    if wanted.search is not None:
        query = query.where(AuditEvent.target.ilike(contains_pattern(wanted.search), escape="\\"))
    query = newest_first(query, AuditEvent.created_at, AuditEvent.id, first, after)
    return (await session.scalars(query)).all()


#: How an endpoint's actor label starts (Principal.label): "endpoint:<id>".
ENDPOINT_ACTOR = "endpoint:"


async def actor_names(
    session: AsyncSession, tenant_id: uuid.UUID, actors: Iterable[str]
) -> dict[str, str]:
    """Return how each actor label reads to a person: an endpoint by its name, not its id.

    The label stays what the event stored (the actor filter matches it exactly); the name is
    looked up when read, so a renamed endpoint shows its current name. An endpoint deleted since
    shows the start of its id. People are stored by user name already and map to themselves.
    """
    endpoints: dict[uuid.UUID, str] = {}
    names: dict[str, str] = {}
    for actor in set(actors):
        names[actor] = actor
        if actor.startswith(ENDPOINT_ACTOR):
            try:
                endpoints[uuid.UUID(actor.removeprefix(ENDPOINT_ACTOR))] = actor
            except ValueError:
                continue
    if not endpoints:
        return names
    rows = await session.execute(
        select(Endpoint.id, Endpoint.name).where(
            Endpoint.tenant_id == tenant_id, Endpoint.id.in_(endpoints)
        )
    )
    found = {endpoint_id: name for endpoint_id, name in rows}
    for endpoint_id, actor in endpoints.items():
        name = found.get(endpoint_id)
        names[actor] = f"endpoint {name}" if name else f"endpoint {str(endpoint_id)[:8]} (deleted)"
    return names
