"""GraphQL mutations: incidents, channels, snoozes, maintenance windows, alert defaults."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry

from crontopus.server.errors import ValidationFailed
from crontopus.server.graphql.alerts.engine import alert_engine
from crontopus.server.graphql.alerts.types import (
    AlertDefaults,
    Channel,
    CreateChannelInput,
    CreateMaintenanceWindowInput,
    CreateSnoozeInput,
    Incident,
    MaintenanceWindow,
    NotificationDelivery,
    Snooze,
    UpdateAlertDefaultsInput,
    UpdateChannelInput,
)
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.services.alerts.admin import channels as channel_admin
from crontopus.server.services.alerts.admin import incidents as incident_log
from crontopus.server.services.alerts.admin import quiet as quiet_admin

IncidentResult = Annotated[Incident | UserErrors, strawberry.union("IncidentResult")]
ChannelResult = Annotated[Channel | UserErrors, strawberry.union("ChannelResult")]
TestChannelResult = Annotated[
    NotificationDelivery | UserErrors, strawberry.union("TestChannelResult")
]
SnoozeResult = Annotated[Snooze | UserErrors, strawberry.union("SnoozeResult")]
MaintenanceWindowResult = Annotated[
    MaintenanceWindow | UserErrors, strawberry.union("MaintenanceWindowResult")
]
AlertDefaultsResult = Annotated[AlertDefaults | UserErrors, strawberry.union("AlertDefaultsResult")]


def _settings(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed.single(path, "must be an object of settings")
    return dict(value)


@strawberry.type
class AlertMutations:
    @strawberry.mutation(
        description="Say someone is on it; the incident stays open.", extensions=[ServiceErrors()]
    )
    async def acknowledge_incident(self, info: Info, id: uuid.UUID) -> IncidentResult:
        principal = info.context.require_principal()
        engine = alert_engine(info)
        async with info.context.session() as session, session.begin():
            incident = await incident_log.acknowledge(
                session, principal, id, engine.now(), engine.announcer
            )
            result = Incident.from_model(incident)
        return result

    @strawberry.mutation(
        description="Resolve an incident by hand; channels hear of it.",
        extensions=[ServiceErrors()],
    )
    async def resolve_incident(self, info: Info, id: uuid.UUID) -> IncidentResult:
        principal = info.context.require_principal()
        engine = alert_engine(info)
        async with info.context.session() as session, session.begin():
            incident = await incident_log.resolve(
                session, principal, id, engine.now(), engine.announcer
            )
            result = Incident.from_model(incident)
        engine.wake()
        return result

    @strawberry.mutation(
        description="Add a notification channel (its secrets stay here).",
        extensions=[ServiceErrors()],
    )
    async def create_channel(self, info: Info, input: CreateChannelInput) -> ChannelResult:
        principal = info.context.require_principal()
        now = alert_engine(info).now()
        async with info.context.session() as session, session.begin():
            channel = await channel_admin.create_channel(
                session,
                principal,
                input.name,
                input.kind,
                _settings(input.config, "input.config"),
                input.is_default,
                now,
                quotas=info.context.quotas,
                policy=info.context.settings.outbound,
                mail=info.context.settings.mail,
            )
            result = Channel.from_model(channel)
        return result

    @strawberry.mutation(
        description="Change a channel's name, settings or default flag.",
        extensions=[ServiceErrors()],
    )
    async def update_channel(self, info: Info, input: UpdateChannelInput) -> ChannelResult:
        principal = info.context.require_principal()
        now = alert_engine(info).now()
        config = None if input.config is None else _settings(input.config, "input.config")
        async with info.context.session() as session, session.begin():
            channel = await channel_admin.update_channel(
                session,
                principal,
                input.id,
                name=input.name,
                config=config,
                is_default=input.is_default,
                now=now,
                policy=info.context.settings.outbound,
                mail=info.context.settings.mail,
            )
            result = Channel.from_model(channel)
        return result

    @strawberry.mutation(
        description="Delete a channel; its delivery log stays.", extensions=[ServiceErrors()]
    )
    async def delete_channel(self, info: Info, id: uuid.UUID) -> ChannelResult:
        principal = info.context.require_principal()
        async with info.context.session() as session, session.begin():
            channel = await channel_admin.delete_channel(session, principal, id)
            result = Channel.from_model(channel)
        return result

    @strawberry.mutation(
        description="Send a test notification now; answers how it went.",
        extensions=[ServiceErrors()],
    )
    async def test_channel(self, info: Info, id: uuid.UUID) -> TestChannelResult:
        principal = info.context.require_principal()
        engine = alert_engine(info)
        async with info.context.session() as session, session.begin():
            row = await channel_admin.queue_test(session, principal, id, engine.now())
        return NotificationDelivery.from_model(await engine.dispatcher.deliver(row.id))

    @strawberry.mutation(
        description="Keep a job, a namespace or the tenant quiet until a time.",
        extensions=[ServiceErrors()],
    )
    async def create_snooze(self, info: Info, input: CreateSnoozeInput) -> SnoozeResult:
        principal = info.context.require_principal()
        now = alert_engine(info).now()
        async with info.context.session() as session, session.begin():
            snooze = await quiet_admin.create_snooze(
                session,
                principal,
                job_id=input.job_id,
                namespace=input.namespace,
                until=input.until,
                reason=input.reason,
                now=now,
            )
            result = Snooze.from_model(snooze)
        return result

    @strawberry.mutation(description="End a snooze now.", extensions=[ServiceErrors()])
    async def delete_snooze(self, info: Info, id: uuid.UUID) -> SnoozeResult:
        principal = info.context.require_principal()
        async with info.context.session() as session, session.begin():
            result = Snooze.from_model(await quiet_admin.delete_snooze(session, principal, id))
        return result

    @strawberry.mutation(
        description="Hold alerts during a time range or a recurring window.",
        extensions=[ServiceErrors()],
    )
    async def create_maintenance_window(
        self, info: Info, input: CreateMaintenanceWindowInput
    ) -> MaintenanceWindowResult:
        principal = info.context.require_principal()
        now = alert_engine(info).now()
        spec = quiet_admin.WindowSpec(
            name=input.name,
            job_id=input.job_id,
            namespace=input.namespace,
            starts_at=input.starts_at,
            ends_at=input.ends_at,
            schedule=input.schedule,
            timezone=input.timezone,
            duration=input.duration,
            release_held=input.release_held,
        )
        async with info.context.session() as session, session.begin():
            window = await quiet_admin.create_window(session, principal, spec, now)
            result = MaintenanceWindow.from_model(window)
        return result

    @strawberry.mutation(description="Delete a maintenance window.", extensions=[ServiceErrors()])
    async def delete_maintenance_window(self, info: Info, id: uuid.UUID) -> MaintenanceWindowResult:
        principal = info.context.require_principal()
        async with info.context.session() as session, session.begin():
            window = await quiet_admin.delete_window(session, principal, id)
            result = MaintenanceWindow.from_model(window)
        return result

    @strawberry.mutation(
        description="Change the alert rules of jobs whose manifests say nothing.",
        extensions=[ServiceErrors()],
    )
    async def update_alert_defaults(
        self, info: Info, input: UpdateAlertDefaultsInput
    ) -> AlertDefaultsResult:
        principal = info.context.require_principal()
        now = alert_engine(info).now()
        async with info.context.session() as session, session.begin():
            defaults = await quiet_admin.update_defaults(
                session,
                principal,
                on_failure=input.on_failure,
                consecutive_failures=input.consecutive_failures,
                clear_consecutive_failures=input.clear_consecutive_failures,
                missed_run=input.missed_run,
                endpoint_offline=input.endpoint_offline,
                drift=input.drift,
                now=now,
            )
        return AlertDefaults.from_defaults(defaults)
