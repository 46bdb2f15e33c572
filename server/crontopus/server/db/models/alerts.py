"""Alerting: channels, defaults, incidents, notifications, snoozes and maintenance windows."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from crontopus.server.db.models.base import Base, enum_column
from crontopus.server.db.types import utcnow


class ChannelKind(enum.StrEnum):
    """Where a notification channel delivers."""

    WEBHOOK = "WEBHOOK"
    SLACK = "SLACK"
    EMAIL = "EMAIL"
    PAGERDUTY = "PAGERDUTY"


class AlertRule(enum.StrEnum):
    """The condition that opened an incident."""

    FAILURE = "FAILURE"
    FAILURE_RATE = "FAILURE_RATE"
    MISSED_RUN = "MISSED_RUN"
    TOO_LONG = "TOO_LONG"
    TOO_FAST = "TOO_FAST"
    ENDPOINT_OFFLINE = "ENDPOINT_OFFLINE"
    ENDPOINT_DRIFT = "ENDPOINT_DRIFT"


class IncidentStatus(enum.StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class NotificationEvent(enum.StrEnum):
    """What a notification tells: an incident opened or resolved, or a channel test."""

    TRIGGER = "TRIGGER"
    RESOLVE = "RESOLVE"
    TEST = "TEST"


class DeliveryStatus(enum.StrEnum):
    """Where one notification stands; PENDING and SENDING rows survive a restart."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    HELD = "HELD"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DROPPED = "DROPPED"


class AlertChannel(Base):
    """A place notifications go; its secrets live here, never in Git."""

    __tablename__ = "alert_channels"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind, "channel_kind"))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_default: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDefaults(Base):
    """A tenant's alert rules for jobs whose manifests say nothing."""

    __tablename__ = "alert_defaults"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    on_failure: Mapped[bool] = mapped_column(default=True)
    consecutive_failures: Mapped[int | None]
    missed_run: Mapped[bool] = mapped_column(default=True)
    endpoint_offline: Mapped[bool] = mapped_column(default=True)
    drift: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """An alert: opened once per rule and target (`open_key`), then acknowledged and resolved."""

    __tablename__ = "incidents"
    __table_args__ = (
        # NULLs are distinct: only one *open* incident per rule and target.
        UniqueConstraint("tenant_id", "open_key"),
        Index("ix_incidents_tenant_opened", "tenant_id", "opened_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    rule: Mapped[AlertRule] = mapped_column(enum_column(AlertRule, "alert_rule"))
    status: Mapped[IncidentStatus] = mapped_column(enum_column(IncidentStatus, "incident_status"))
    open_key: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[uuid.UUID | None]
    job_name: Mapped[str | None] = mapped_column(String(63))
    namespace: Mapped[str | None] = mapped_column(String(63))
    endpoint_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channels: Mapped[list[str] | None] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class Notification(Base):
    """One message to one channel about one incident event: the outbox the dispatcher drains."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_due", "status", "next_attempt_at"),
        Index("ix_notifications_incident", "incident_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE")
    )
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_channels.id", ondelete="SET NULL")
    )
    channel_name: Mapped[str] = mapped_column(String(63))
    channel_kind: Mapped[ChannelKind | None] = mapped_column(
        enum_column(ChannelKind, "channel_kind")
    )
    event: Mapped[NotificationEvent] = mapped_column(
        enum_column(NotificationEvent, "notification_event")
    )
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    hold_until: Mapped[datetime | None]
    release_held: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class Snooze(Base):
    """Keep a job, or a whole namespace, from alerting until a time."""

    __tablename__ = "alert_snoozes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[uuid.UUID | None]
    namespace: Mapped[str | None] = mapped_column(String(63))
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MaintenanceWindow(Base):
    """A time range, or a recurring cron window, during which notifications are held."""

    __tablename__ = "maintenance_windows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    job_id: Mapped[uuid.UUID | None]
    namespace: Mapped[str | None] = mapped_column(String(63))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    schedule: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    duration: Mapped[int | None]
    release_held: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertCursor(Base):
    """How far a periodic evaluation got, so each fire time is judged once by one worker."""

    __tablename__ = "alert_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    evaluated_until: Mapped[datetime]
