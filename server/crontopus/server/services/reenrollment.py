"""Re-enrollments waiting for an admin: a known machine id that enrolled again without proof.

Whoever holds an enrollment token could otherwise take over any endpoint whose machine id they
know (or un-revoke a revoked one) just by enrolling with it. Such a request keeps the endpoint
as it is and waits here; an admin approves it (the requester's token becomes the endpoint's
and the old one dies) or rejects it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Endpoint, PendingEnrollment
from crontopus.server.errors import NotFound
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.topics import EndpointEventKind
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal
from crontopus.server.services.audit import record_audit
from crontopus.server.services.endpoints import publish_endpoint_event
from crontopus.server.services.enrollment import Enrollment, apply_enrollment
from crontopus.server.services.quotas import Quota, require_row_room
from crontopus.server.settings import Quotas


async def list_pending(session: AsyncSession, principal: Principal) -> Sequence[PendingEnrollment]:
    """Return the tenant's re-enrollments awaiting approval, oldest first."""
    principal.require_admin_read("Listing pending enrollments")
    query = (
        select(PendingEnrollment)
        .where(PendingEnrollment.tenant_id == principal.tenant_id)
        .order_by(PendingEnrollment.requested_at, PendingEnrollment.id)
    )
    return (await session.scalars(query)).all()


async def _get(
    session: AsyncSession, principal: Principal, pending_id: uuid.UUID
) -> PendingEnrollment:
    pending = await session.scalar(
        select(PendingEnrollment).where(
            PendingEnrollment.id == pending_id, PendingEnrollment.tenant_id == principal.tenant_id
        )
    )
    if pending is None:
        raise NotFound(f"no pending enrollment with id {pending_id}")
    return pending


async def approve(
    session: AsyncSession,
    broadcaster: Broadcaster,
    identities: IdentityCache,
    principal: Principal,
    pending_id: uuid.UUID,
    *,
    quotas: Quotas,
) -> Endpoint:
    """Let the waiting machine take its endpoint over (reinstating it if it was revoked)."""
    principal.require_admin("Approving an enrollment")
    pending = await _get(session, principal, pending_id)
    endpoint = await session.get_one(Endpoint, pending.endpoint_id, with_for_update=True)
    old_digest, was_revoked = endpoint.token_hash, endpoint.revoked_at is not None
    if was_revoked:
        # A revoked endpoint coming back adds a live one.
        await require_row_room(session, Quota.ENDPOINTS, quotas, principal.tenant_id)
    request = Enrollment(
        name=pending.name,
        hostname=pending.hostname,
        platform=pending.platform,
        machine_id=pending.machine_id,
        agent_version=pending.agent_version,
        drivers=tuple(pending.drivers),
        labels=dict(pending.labels),
    )
    await session.delete(pending)
    await session.flush()  # the token hash moves from the request to the endpoint
    apply_enrollment(endpoint, request, pending.token_hash, datetime.now(UTC))
    record_audit(
        session,
        principal,
        "endpoint.reenroll.approve",
        f"endpoint:{endpoint.name}",
        {
            "endpointId": str(endpoint.id),
            "machineId": endpoint.machine_id,
            "from": pending.requested_from,
            "reinstated": was_revoked,
        },
    )
    await session.commit()
    identities.forget_token(old_digest)
    await publish_endpoint_event(broadcaster, endpoint, EndpointEventKind.ENROLLED)
    return endpoint


async def reject(
    session: AsyncSession, principal: Principal, pending_id: uuid.UUID
) -> PendingEnrollment:
    """Refuse a waiting re-enrollment; the endpoint and its token stay as they are."""
    principal.require_admin("Rejecting an enrollment")
    pending = await _get(session, principal, pending_id)
    await session.delete(pending)
    record_audit(
        session,
        principal,
        "endpoint.reenroll.reject",
        f"endpoint:{pending.name}",
        {"endpointId": str(pending.endpoint_id), "machineId": pending.machine_id},
    )
    await session.commit()
    return pending
