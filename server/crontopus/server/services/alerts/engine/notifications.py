"""The notification outbox: one row per message and channel, written with the incident change.

Rows are written in the same transaction that opens or resolves the incident, so a crash
loses nothing: the dispatcher (`dispatcher.py`) sends whatever is PENDING, whichever process
runs it. Held rows wait for their maintenance window to end (`release_held`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import (
    AlertChannel,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    Notification,
    NotificationEvent,
)
from crontopus.server.services.alerts.engine.quiet import Hold

_LIVE = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.HELD,
    DeliveryStatus.DELIVERED,
)


async def channels_for(
    session: AsyncSession, tenant_id: uuid.UUID, names: list[str] | None
) -> list[tuple[str, AlertChannel | None]]:
    """Return the channels an incident goes to: those named, or the tenant's default ones."""
    query = select(AlertChannel).where(AlertChannel.tenant_id == tenant_id)
    if names is None:
        channels = (await session.scalars(query.where(AlertChannel.is_default))).all()
        return [(channel.name, channel) for channel in channels]
    found = {
        channel.name: channel
        for channel in (await session.scalars(query.where(AlertChannel.name.in_(names)))).all()
    }
    return [(name, found.get(name)) for name in names]


async def enqueue(
    session: AsyncSession,
    incident: Incident,
    event: NotificationEvent,
    now: datetime,
    hold: Hold | None,
) -> list[Notification]:
    """Write the notifications of an incident's opening or resolution."""
    targets: list[tuple[str, AlertChannel | None]]
    if event is NotificationEvent.RESOLVE:
        # A resolution goes where the opening went, and nowhere else.
        triggers = (
            await session.scalars(
                select(Notification).where(
                    Notification.incident_id == incident.id,
                    Notification.event == NotificationEvent.TRIGGER,
                    Notification.status.in_(_LIVE),
                    Notification.channel_id.is_not(None),
                )
            )
        ).all()
        ids = list(dict.fromkeys(n.channel_id for n in triggers if n.channel_id is not None))
        channels = (
            (await session.scalars(select(AlertChannel).where(AlertChannel.id.in_(ids)))).all()
            if ids
            else []
        )
        targets = [(channel.name, channel) for channel in channels]
    else:
        targets = await channels_for(session, incident.tenant_id, incident.channels)
    rows = [_row(incident, event, name, channel, now, hold) for name, channel in targets]
    session.add_all(rows)
    await session.flush()
    return rows


def _row(
    incident: Incident,
    event: NotificationEvent,
    name: str,
    channel: AlertChannel | None,
    now: datetime,
    hold: Hold | None,
) -> Notification:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": incident.tenant_id,
        "incident_id": incident.id,
        "channel_id": channel.id if channel else None,
        "channel_name": name,
        "channel_kind": channel.kind if channel else None,
        "event": event,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "release_held": True,
    }
    if channel is None:
        fields["status"] = DeliveryStatus.FAILED
        fields["last_error"] = (
            f'no channel is named "{name}": create it, or fix spec.alerts.channels of the job'
        )
    elif hold is not None:
        fields["status"] = DeliveryStatus.HELD
        fields["hold_until"] = hold.until
        fields["release_held"] = hold.release
    return Notification(**fields)


async def release_held(session: AsyncSession, now: datetime, limit: int = 500) -> int:
    """Send or drop the notifications whose maintenance window has ended; return how many."""
    rows = (
        await session.scalars(
            select(Notification)
            .where(Notification.status == DeliveryStatus.HELD, Notification.hold_until <= now)
            .order_by(Notification.created_at)
            .limit(limit)
        )
    ).all()
    for row in rows:
        row.status, row.last_error = await _after_hold(session, row)
        row.next_attempt_at = now
    await session.flush()
    return len(rows)


async def _after_hold(
    session: AsyncSession, row: Notification
) -> tuple[DeliveryStatus, str | None]:
    if not row.release_held:
        return DeliveryStatus.DROPPED, "dropped at the end of a maintenance window"
    incident = await session.get(Incident, row.incident_id) if row.incident_id else None
    if incident is None:
        return DeliveryStatus.PENDING, None
    if row.event is NotificationEvent.TRIGGER:
        if incident.status is IncidentStatus.RESOLVED:
            return DeliveryStatus.DROPPED, "resolved during a maintenance window"
        return DeliveryStatus.PENDING, None
    delivered = await session.scalar(
        select(Notification.id).where(
            Notification.incident_id == row.incident_id,
            Notification.channel_id == row.channel_id,
            Notification.event == NotificationEvent.TRIGGER,
            Notification.status.in_(_LIVE),
        )
    )
    if delivered is None:
        return DeliveryStatus.DROPPED, "the opening was never sent"
    return DeliveryStatus.PENDING, None
