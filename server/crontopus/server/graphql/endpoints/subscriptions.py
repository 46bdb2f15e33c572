"""GraphQL subscription `endpointEvents`: endpoints enrolled, online, offline or revoked."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from crontopus.server.events.codec import read_event
from crontopus.server.events.topics import EndpointChanged
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.types import EndpointEvent
from crontopus.server.graphql.groups import SHARED


@strawberry.type
class EndpointSubscriptions:
    @strawberry.subscription(
        description="Endpoints as they enroll, come online, go offline or are revoked.",
        metadata=SHARED,
    )
    async def endpoint_events(self, info: Info) -> AsyncGenerator[EndpointEvent, None]:
        principal = info.context.require_principal()
        principal.require_read("Watching endpoints")
        events = info.context.broadcaster.subscribe(principal.tenant_id, EndpointChanged.TOPIC)
        async for event in events:
            changed = read_event(event, EndpointChanged)
            yield EndpointEvent(
                kind=changed.kind,
                endpoint_id=changed.endpoint_id,
                name=changed.name,
                occurred_at=changed.at,
            )
