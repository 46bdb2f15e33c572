"""GraphQL subscription `incidentEvents`: incidents opening, acknowledged and resolving."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from crontopus.server.events.codec import read_event
from crontopus.server.events.topics import IncidentChanged
from crontopus.server.graphql.alerts.types import Incident, IncidentEvent, IncidentEventKind
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.groups import SHARED


@strawberry.type
class AlertSubscriptions:
    @strawberry.subscription(
        description="Incidents as they open, are acknowledged and resolve.", metadata=SHARED
    )
    async def incident_events(self, info: Info) -> AsyncGenerator[list[IncidentEvent], None]:
        principal = info.context.require_principal()
        principal.require_read("Watching incidents")
        source = info.context.broadcaster.subscribe(principal.tenant_id, IncidentChanged.TOPIC)
        async for batch in info.context.coalesce(source):
            changes = [read_event(event, IncidentChanged) for event in batch]
            yield [
                IncidentEvent(
                    kind=IncidentEventKind(changed.kind.value),
                    incident=Incident.from_event(changed),
                )
                for changed in changes
            ]
