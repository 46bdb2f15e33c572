"""GraphQL queries: `auditEvents`."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from crontopus.server.errors import PermissionDenied
from crontopus.server.graphql.audit.types import AuditEvent, AuditFilter
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_time_cursor,
    page_size,
    search_argument,
    time_key,
)
from crontopus.server.services import audit


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The tenant's audit log, newest first (owners and admins).")
    async def audit_events(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        wanted = filter or AuditFilter()
        service_filter = audit.AuditFilter(
            action=search_argument(wanted.action, "filter.action"),
            actor=search_argument(wanted.actor, "filter.actor"),
            search=search_argument(wanted.search, "filter.search"),
        )
        async with info.context.session() as session:
            try:
                rows = await audit.list_audit_events(
                    session, principal, first, decode_time_cursor(after), service_filter
                )
            except PermissionDenied as error:
                raise GraphQLError(error.message, extensions={"code": "FORBIDDEN"}) from None
            # One look-up for the page's endpoints, not one per event.
            names = await audit.actor_names(session, principal.tenant_id, (r.actor for r in rows))
        return build_connection(
            rows,
            first,
            lambda row: AuditEvent.from_model(row, names[row.actor]),
            time_key("created_at"),
        )
