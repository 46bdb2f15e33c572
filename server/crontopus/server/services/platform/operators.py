"""Platform operators: who they are, and the audit log of what they did.

Operators are users with `is_operator` set; no tenant role grants it. The flag is set by the
server's own command line (`crontopus-server create-user --operator`, `operator promote`),
never over the API, so no credential can make itself an operator.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import OperatorAuditEvent, Tenant, User
from crontopus.server.errors import NotFound
from crontopus.server.security.principal import Principal

#: The actor of changes made with `crontopus-server` on the server's own machine.
COMMAND_LINE = "crontopus-server (command line)"


def record_operator_action(
    session: AsyncSession,
    actor: Principal | str,
    action: str,
    tenant: Tenant | None = None,
    details: dict[str, Any] | None = None,
) -> OperatorAuditEvent:
    """Add an operator audit event to the caller's transaction (it commits with the change)."""
    event = OperatorAuditEvent(
        actor_id=actor.user_id if isinstance(actor, Principal) else None,
        actor=actor.label if isinstance(actor, Principal) else actor,
        action=action,
        tenant_id=tenant.id if tenant is not None else None,
        tenant_slug=tenant.slug if tenant is not None else None,
        details=details or {},
    )
    session.add(event)
    return event


async def list_operator_audit(
    session: AsyncSession,
    principal: Principal,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[OperatorAuditEvent]:
    """Return up to `first` + 1 operator audit events, newest first, after a keyset cursor."""
    principal.require_operator("Reading the operator audit log")
    query = newest_first(
        select(OperatorAuditEvent),
        OperatorAuditEvent.created_at,
        OperatorAuditEvent.id,
        first,
        after,
    )
    return (await session.scalars(query)).all()


async def set_operator(session: AsyncSession, username: str, operator: bool) -> bool:
    """Promote or demote a user; return whether anything changed (recorded when it did)."""
    name = username.strip().lower()
    user = await session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(f"no user named {name!r}: check the spelling, or create-user first")
    if user.is_operator == operator:
        return False
    user.is_operator = operator
    record_operator_action(
        session,
        COMMAND_LINE,
        "operator.promote" if operator else "operator.demote",
        details={"user": user.username, "userId": str(user.id)},
    )
    return True
