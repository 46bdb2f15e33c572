"""GraphQL types for alerting."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from crontopus.server.db import models
from crontopus.server.events.topics import IncidentChanged
from crontopus.server.graphql.context import Info
from crontopus.server.services import jobs
from crontopus.server.services.alerts.channels.config import public_config
from crontopus.server.services.alerts.engine.rules import TenantDefaults

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(models.AlertRule, description="The condition that opened an incident.")
AlertRule = models.AlertRule
strawberry.enum(models.IncidentStatus, description="Where an incident stands.")
IncidentStatus = models.IncidentStatus
strawberry.enum(models.ChannelKind, description="Where a channel delivers.")
ChannelKind = models.ChannelKind
strawberry.enum(models.DeliveryStatus, description="Where one notification stands.")
DeliveryStatus = models.DeliveryStatus
strawberry.enum(models.NotificationEvent, description="What a notification tells.")
NotificationEvent = models.NotificationEvent


@strawberry.type(description="An alert: opened once per rule and target, resolved by itself.")
class Incident:
    id: uuid.UUID
    rule: AlertRule
    status: IncidentStatus
    title: str
    job_id: uuid.UUID | None
    job_name: str | None
    namespace: str | None
    endpoint_id: uuid.UUID | None
    details: JSON
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    @classmethod
    def from_model(cls, incident: models.Incident) -> Incident:
        return cls(
            id=incident.id,
            rule=incident.rule,
            status=incident.status,
            title=incident.title,
            job_id=incident.job_id,
            job_name=incident.job_name,
            namespace=incident.namespace,
            endpoint_id=incident.endpoint_id,
            details=JSON(dict(incident.details)),
            opened_at=incident.opened_at,
            acknowledged_at=incident.acknowledged_at,
            acknowledged_by=incident.acknowledged_by,
            resolved_at=incident.resolved_at,
            resolved_by=incident.resolved_by,
        )

    @classmethod
    def from_event(cls, changed: IncidentChanged) -> Incident:
        return cls(
            id=changed.id,
            rule=changed.rule,
            status=changed.status,
            title=changed.title,
            job_id=changed.job_id,
            job_name=changed.job_name,
            namespace=changed.namespace,
            endpoint_id=changed.endpoint_id,
            details=JSON(changed.details or {}),
            opened_at=changed.opened_at,
            acknowledged_at=changed.acknowledged_at,
            acknowledged_by=changed.acknowledged_by,
            resolved_at=changed.resolved_at,
            resolved_by=changed.resolved_by,
        )


@strawberry.input(description="Which incidents to return; given fields combine with AND.")
class IncidentFilter:
    status: list[IncidentStatus] | None = None
    rule: AlertRule | None = None
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    endpoint_id: uuid.UUID | None = None
    since: datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Part of the title (it names the job or endpoint), any case."
    )


@strawberry.enum
class IncidentEventKind(enum.Enum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.type(description="An incident opened, was acknowledged or resolved.")
class IncidentEvent:
    kind: IncidentEventKind
    incident: Incident


@strawberry.type(description="A place notifications go. Secret settings show as (set).")
class Channel:
    id: uuid.UUID
    name: str
    kind: ChannelKind
    config: JSON
    is_default: bool = strawberry.field(
        description="Gets the alerts of jobs whose manifests name no channels."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, channel: models.AlertChannel) -> Channel:
        return cls(
            id=channel.id,
            name=channel.name,
            kind=channel.kind,
            config=JSON(public_config(channel.kind, dict(channel.config))),
            is_default=channel.is_default,
            created_at=channel.created_at,
            updated_at=channel.updated_at,
        )


@strawberry.type(description="One notification to one channel, and how its delivery went.")
class NotificationDelivery:
    id: uuid.UUID
    incident_id: uuid.UUID | None
    channel_id: uuid.UUID | None
    channel_name: str
    channel_kind: ChannelKind | None
    event: NotificationEvent
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    hold_until: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_model(cls, row: models.Notification) -> NotificationDelivery:
        return cls(
            id=row.id,
            incident_id=row.incident_id,
            channel_id=row.channel_id,
            channel_name=row.channel_name,
            channel_kind=row.channel_kind,
            event=row.event,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            hold_until=row.hold_until,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


async def _job_name(info: Info, job_id: uuid.UUID | None) -> str | None:
    """The name of the job a snooze or window silences (null: none, or no longer in Git)."""
    if job_id is None:
        return None
    view = await jobs.snapshot(info.context.gitstore, info.context.require_principal())
    entry = view.job(job_id)
    return entry.manifest.name if entry else None


@strawberry.type(description="A job, a namespace or the whole tenant kept quiet until a time.")
class Snooze:
    id: uuid.UUID
    job_id: uuid.UUID | None
    namespace: str | None
    until: datetime
    reason: str
    created_by: str
    created_at: datetime

    @strawberry.field(description="The silenced job's name; null for a namespace or the tenant.")
    async def job_name(self, info: Info) -> str | None:
        return await _job_name(info, self.job_id)

    @classmethod
    def from_model(cls, row: models.Snooze) -> Snooze:
        return cls(
            id=row.id,
            job_id=row.job_id,
            namespace=row.namespace,
            until=row.until,
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at,
        )


@strawberry.type(description="A time range or recurring window during which alerts are held.")
class MaintenanceWindow:
    id: uuid.UUID
    name: str
    job_id: uuid.UUID | None
    namespace: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    schedule: str | None
    timezone: str
    duration: int | None
    release_held: bool = strawberry.field(
        description="Send the held alerts when the window ends (false: drop them)."
    )
    created_by: str

    @strawberry.field(description="The job's name when the window holds one job's alerts.")
    async def job_name(self, info: Info) -> str | None:
        return await _job_name(info, self.job_id)

    @classmethod
    def from_model(cls, row: models.MaintenanceWindow) -> MaintenanceWindow:
        return cls(
            id=row.id,
            name=row.name,
            job_id=row.job_id,
            namespace=row.namespace,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            schedule=row.schedule,
            timezone=row.timezone,
            duration=row.duration,
            release_held=row.release_held,
            created_by=row.created_by,
        )


@strawberry.type(description="The alert rules of jobs whose manifests say nothing.")
class AlertDefaults:
    on_failure: bool
    consecutive_failures: int | None
    missed_run: bool
    endpoint_offline: bool
    drift: bool = strawberry.field(
        description="Alert when a synced endpoint's scheduler differs from Git (ENDPOINT_DRIFT)."
    )

    @classmethod
    def from_defaults(cls, defaults: TenantDefaults) -> AlertDefaults:
        return cls(
            on_failure=defaults.on_failure,
            consecutive_failures=defaults.consecutive_failures,
            missed_run=defaults.missed_run,
            endpoint_offline=defaults.endpoint_offline,
            drift=defaults.drift,
        )


@strawberry.input
class CreateChannelInput:
    name: str
    kind: ChannelKind
    config: JSON
    is_default: bool = True


@strawberry.input(description="Settings given are merged over the stored ones; null removes one.")
class UpdateChannelInput:
    id: uuid.UUID
    name: str | None = None
    config: JSON | None = None
    is_default: bool | None = None


@strawberry.input(description="Snooze a job (jobId), a namespace, or with neither the tenant.")
class CreateSnoozeInput:
    until: datetime
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    reason: str = ""


@strawberry.input(description="Either startsAt and endsAt, or schedule (cron) and duration.")
class CreateMaintenanceWindowInput:
    name: str
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    duration: int | None = None
    release_held: bool = True


@strawberry.input
class UpdateAlertDefaultsInput:
    on_failure: bool | None = None
    consecutive_failures: int | None = None
    clear_consecutive_failures: bool = False
    missed_run: bool | None = None
    endpoint_offline: bool | None = None
    drift: bool | None = None
