"""GraphQL subscription `incidentEvents`: incidents opening, acknowledged and resolving."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from crontopus.server.graphql.alerts.types import Incident, IncidentEvent, IncidentEventKind
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.groups import SHARED
from crontopus.server.services.alerts.incidents import INCIDENT_EVENTS


@strawberry.type
class AlertSubscriptions:
    @strawberry.subscription(
        description="Incidents as they open, are acknowledged and resolve.", metadata=SHARED
    )
    async def incident_events(self, info: Info) -> AsyncGenerator[list[IncidentEvent], None]:
        principal = info.context.require_principal()
        principal.require_read("Watching incidents")
        source = info.context.broadcaster.subscribe(principal.tenant_id, INCIDENT_EVENTS)
        async for batch in info.context.coalesce(source):
            yield [
                IncidentEvent(
                    kind=IncidentEventKind(event.data["kind"]),
                    incident=Incident.from_event(event.data),
                )
                for event in batch
            ]
