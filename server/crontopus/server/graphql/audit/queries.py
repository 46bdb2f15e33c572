"""GraphQL queries: `auditEvents`."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from crontopus.server.errors import PermissionDenied
from crontopus.server.graphql.audit.types import AuditEvent
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_time_cursor,
    page_size,
    time_key,
)
from crontopus.server.services.audit import list_audit_events


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The tenant's audit log, newest first (owners and admins).")
    async def audit_events(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[AuditEvent]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        async with info.context.session() as session:
            try:
                rows = await list_audit_events(session, principal, first, decode_time_cursor(after))
            except PermissionDenied as error:
                raise GraphQLError(error.message, extensions={"code": "FORBIDDEN"}) from None
        return build_connection(rows, first, AuditEvent.from_model, time_key("created_at"))
