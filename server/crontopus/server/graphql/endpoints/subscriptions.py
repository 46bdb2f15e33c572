"""GraphQL subscription `endpointEvents`: endpoints enrolled, online, offline or revoked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.types import EndpointEvent
from crontopus.server.graphql.groups import SHARED
from crontopus.server.services.endpoints import ENDPOINT_EVENTS, EndpointEventKind


@strawberry.type
class EndpointSubscriptions:
    @strawberry.subscription(
        description="Endpoints as they enroll, come online, go offline or are revoked.",
        metadata=SHARED,
    )
    async def endpoint_events(self, info: Info) -> AsyncGenerator[EndpointEvent, None]:
        principal = info.context.require_principal()
        principal.require_read("Watching endpoints")
        async for event in info.context.broadcaster.subscribe(principal.tenant_id, ENDPOINT_EVENTS):
            yield EndpointEvent(
                kind=EndpointEventKind(event.data["kind"]),
                endpoint_id=uuid.UUID(event.data["endpoint_id"]),
                name=event.data["name"],
                occurred_at=datetime.fromisoformat(event.data["at"]),
            )
