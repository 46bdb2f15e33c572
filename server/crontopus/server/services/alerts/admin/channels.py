"""Creating, changing, deleting and testing notification channels."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.namespaces import slug_problem
from crontopus.server.db.models import (
    AlertChannel,
    ChannelKind,
    DeliveryStatus,
    Notification,
    NotificationEvent,
)
from crontopus.server.errors import Conflict, NotFound, ValidationFailed
from crontopus.server.security.outbound import OutboundPolicy
from crontopus.server.security.principal import Principal
from crontopus.server.services.alerts.channels.config import (
    SECRET_KEYS,
    check_config,
    check_destination,
)
from crontopus.server.services.audit import record_audit
from crontopus.server.services.quotas import Quota, require_row_room
from crontopus.server.settings import MailSettings, Quotas

#: A test delivery is sent at once, by the request, and never retried (the lease outlasts the
#: longest CRONTOPUS_NOTIFICATION_TIMEOUT).
TEST_LEASE_SECONDS = 600


async def list_channels(session: AsyncSession, principal: Principal) -> Sequence[AlertChannel]:
    """Return the tenant's channels by name (secrets stay in the rows; types hide them)."""
    principal.require_read("Reading channels")
    query = select(AlertChannel).where(AlertChannel.tenant_id == principal.tenant_id)
    return (await session.scalars(query.order_by(AlertChannel.name))).all()


async def get_channel(
    session: AsyncSession, principal: Principal, channel_id: uuid.UUID
) -> AlertChannel:
    channel = await session.get(AlertChannel, channel_id)
    if channel is None or channel.tenant_id != principal.tenant_id:
        raise NotFound(f"no channel with id {channel_id}")
    return channel


def _check_name(name: str) -> None:
    problem = slug_problem(name, "a channel name")
    if problem is not None:
        raise ValidationFailed.single("input.name", problem)


async def _name_free(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> None:
    taken = await session.scalar(
        select(AlertChannel.id).where(
            AlertChannel.tenant_id == tenant_id, AlertChannel.name == name
        )
    )
    if taken is not None:
        raise Conflict(f'a channel named "{name}" exists already: choose another name')


async def create_channel(
    session: AsyncSession,
    principal: Principal,
    name: str,
    kind: ChannelKind,
    config: dict[str, Any],
    is_default: bool,
    now: datetime,
    *,
    quotas: Quotas,
    policy: OutboundPolicy,
    mail: MailSettings | None = None,
) -> AlertChannel:
    """Add a channel; its settings are checked for its kind, its peer against `policy`."""
    principal.require_admin("Creating a channel")
    _check_name(name)
    clean = check_config(kind, config)
    await check_destination(kind, clean, policy, mail)
    await _name_free(session, principal.tenant_id, name)
    await require_row_room(session, Quota.CHANNELS, quotas, principal.tenant_id)
    channel = AlertChannel(
        tenant_id=principal.tenant_id,
        name=name,
        kind=kind,
        config=clean,
        is_default=is_default,
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    await session.flush()
    record_audit(session, principal, "channel.create", f"channel:{name}", {"kind": kind.value})
    return channel


async def update_channel(
    session: AsyncSession,
    principal: Principal,
    channel_id: uuid.UUID,
    *,
    name: str | None,
    config: dict[str, Any] | None,
    is_default: bool | None,
    now: datetime,
    policy: OutboundPolicy,
    mail: MailSettings | None = None,
) -> AlertChannel:
    """Change a channel; settings given are merged over the old ones (secrets kept if left out)."""
    principal.require_admin("Changing a channel")
    channel = await get_channel(session, principal, channel_id)
    if name is not None and name != channel.name:
        _check_name(name)
        await _name_free(session, principal.tenant_id, name)
        channel.name = name
    if config is not None:
        merged = {**channel.config, **config}
        # An explicit null removes a setting; a secret left out keeps its stored value.
        merged = {k: v for k, v in merged.items() if v is not None}
        clean = check_config(channel.kind, merged)
        await check_destination(channel.kind, clean, policy, mail)
        channel.config = clean
    if is_default is not None:
        channel.is_default = is_default
    channel.updated_at = now
    await session.flush()
    changed = sorted((config or {}).keys())
    record_audit(
        session,
        principal,
        "channel.update",
        f"channel:{channel.name}",
        {"settings": [k if k not in SECRET_KEYS else f"{k} (secret)" for k in changed]},
    )
    return channel


async def delete_channel(
    session: AsyncSession, principal: Principal, channel_id: uuid.UUID
) -> AlertChannel:
    """Remove a channel; its delivery log stays (by name)."""
    principal.require_admin("Deleting a channel")
    channel = await get_channel(session, principal, channel_id)
    await session.delete(channel)
    await session.flush()
    record_audit(session, principal, "channel.delete", f"channel:{channel.name}")
    return channel


async def queue_test(
    session: AsyncSession, principal: Principal, channel_id: uuid.UUID, now: datetime
) -> Notification:
    """Write a test notification, already claimed by the caller, who sends it at once."""
    principal.require_admin("Testing a channel")
    channel = await get_channel(session, principal, channel_id)
    notification = Notification(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        incident_id=None,
        channel_id=channel.id,
        channel_name=channel.name,
        channel_kind=channel.kind,
        event=NotificationEvent.TEST,
        status=DeliveryStatus.SENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=now + timedelta(seconds=TEST_LEASE_SECONDS),
        created_at=now,
    )
    session.add(notification)
    await session.flush()
    return notification
