"""GraphQL queries: incidents, channels, deliveries, snoozes, windows, defaults."""

from __future__ import annotations

import uuid

import strawberry

from crontopus.server.errors import NotFound
from crontopus.server.graphql.alerts.engine import alert_engine
from crontopus.server.graphql.alerts.types import (
    AlertDefaults,
    Channel,
    DeliveryStatus,
    Incident,
    IncidentFilter,
    MaintenanceWindow,
    NotificationDelivery,
    Snooze,
)
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_time_cursor,
    page_size,
    search_argument,
    time_key,
)
from crontopus.server.services.alerts.admin import channels as channel_admin
from crontopus.server.services.alerts.admin import incidents as incident_log
from crontopus.server.services.alerts.admin import quiet as quiet_admin


def to_filter(where: IncidentFilter | None) -> incident_log.IncidentFilter:
    if where is None:
        return incident_log.IncidentFilter()
    return incident_log.IncidentFilter(
        status=where.status,
        rule=where.rule,
        job_id=where.job_id,
        namespace=where.namespace,
        endpoint_id=where.endpoint_id,
        since=where.since,
        search=search_argument(where.search, "filter.search"),
    )


@strawberry.type
class AlertQueries:
    @strawberry.field(description="Incidents, newest first, paged with keyset cursors.")
    async def incidents(
        self,
        info: Info,
        filter: IncidentFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Incident]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        async with info.context.session() as session:
            rows = await incident_log.list_incidents(
                session, principal, to_filter(filter), first, decode_time_cursor(after)
            )
        return build_connection(rows, first, Incident.from_model, time_key("opened_at"))

    @strawberry.field(description="One incident.")
    async def incident(self, info: Info, id: uuid.UUID) -> Incident | None:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                return Incident.from_model(await incident_log.get_incident(session, principal, id))
            except NotFound:
                return None

    @strawberry.field(description="The delivery log: of one incident, or of every incident.")
    async def notification_deliveries(
        self,
        info: Info,
        incident_id: uuid.UUID | None = None,
        status: DeliveryStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[NotificationDelivery]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        async with info.context.session() as session:
            rows = await incident_log.list_deliveries(
                session, principal, incident_id, first, decode_time_cursor(after), status=status
            )
        return build_connection(
            rows,
            first,
            NotificationDelivery.from_model,
            time_key("created_at"),
        )

    @strawberry.field(description="The tenant's notification channels, by name.")
    async def channels(self, info: Info) -> list[Channel]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            rows = await channel_admin.list_channels(session, principal)
        return [Channel.from_model(row) for row in rows]

    @strawberry.field(description="Snoozes still in force, ending soonest first.")
    async def snoozes(self, info: Info) -> list[Snooze]:
        principal = info.context.require_principal()
        now = alert_engine(info).now()
        async with info.context.session() as session:
            rows = await quiet_admin.list_snoozes(session, principal, now)
        return [Snooze.from_model(row) for row in rows]

    @strawberry.field(description="Maintenance windows, by name.")
    async def maintenance_windows(self, info: Info) -> list[MaintenanceWindow]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            rows = await quiet_admin.list_windows(session, principal)
        return [MaintenanceWindow.from_model(row) for row in rows]

    @strawberry.field(description="The alert rules of jobs whose manifests say nothing.")
    async def alert_defaults(self, info: Info) -> AlertDefaults:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            return AlertDefaults.from_defaults(await quiet_admin.get_defaults(session, principal))
