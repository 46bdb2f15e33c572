"""The audit trail: one function writes it, owners and admins read it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import AuditEvent
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


async def list_audit_events(
    session: AsyncSession,
    principal: Principal,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[AuditEvent]:
    """Return up to `first` + 1 events, newest first, after a keyset cursor."""
    principal.require_admin_read("Reading the audit log")
    query = select(AuditEvent).where(AuditEvent.tenant_id == principal.tenant_id)
    query = newest_first(query, AuditEvent.created_at, AuditEvent.id, first, after)
    return (await session.scalars(query)).all()
