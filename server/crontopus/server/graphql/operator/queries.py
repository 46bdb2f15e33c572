"""GraphQL queries for operators: `tenants`, `systemHealth`, `tenantExports`, audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from crontopus.server.errors import PermissionDenied, ValidationFailed
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.operator.types import (
    OperatorAuditEvent,
    OperatorTenant,
    SystemHealth,
    TenantExport,
)
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_time_cursor,
    page_size,
    time_key,
)
from crontopus.server.services.platform import exports, operators, system_health, tenants

T = TypeVar("T")


async def _refusals(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except PermissionDenied as error:
        raise GraphQLError(error.message, extensions={"code": "FORBIDDEN"}) from None
    except ValidationFailed as error:
        raise GraphQLError(error.message, extensions={"code": "BAD_USER_INPUT"}) from None


@strawberry.type
class OperatorQueries:
    @strawberry.field(description="Every tenant with its usage, newest first (operators only).")
    async def tenants(
        self, info: Info, first: int = 50, after: str | None = None, search: str | None = None
    ) -> Connection[OperatorTenant]:
        context = info.context
        principal = context.require_principal()
        first = page_size(first, context.settings.limits.max_page_size)
        cursor = decode_time_cursor(after)
        async with context.session() as session:
            rows = await _refusals(
                lambda: tenants.list_tenants(
                    session, principal, context.settings, context.gitstore, first, cursor, search
                )
            )
        defaults = context.settings.quotas
        return build_connection(
            rows,
            first,
            lambda usage: OperatorTenant.from_usage(usage, defaults),
            lambda usage: (usage.tenant.created_at.isoformat(), str(usage.tenant.id)),
        )

    @strawberry.field(description="The health of this server process and what it depends on.")
    async def system_health(self, info: Info) -> SystemHealth:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            report = await _refusals(
                lambda: system_health.system_health(
                    session,
                    principal,
                    context.settings,
                    metrics=context.metrics,
                    dependencies=context.dependencies,
                    broadcaster=context.broadcaster,
                    queue_depth=context.ingest.depth,
                )
            )
        return SystemHealth.from_report(report)

    @strawberry.field(description="Tenant exports, newest first, deleted tenants' included.")
    async def tenant_exports(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[TenantExport]:
        context = info.context
        principal = context.require_principal()
        first = page_size(first, context.settings.limits.max_page_size)
        cursor = decode_time_cursor(after)
        async with context.session() as session:
            rows = await _refusals(lambda: exports.list_exports(session, principal, first, cursor))
        return build_connection(rows, first, TenantExport.from_model, time_key("created_at"))

    @strawberry.field(description="What operators did, newest first (operators only).")
    async def operator_audit_events(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[OperatorAuditEvent]:
        context = info.context
        principal = context.require_principal()
        first = page_size(first, context.settings.limits.max_page_size)
        cursor = decode_time_cursor(after)
        async with context.session() as session:
            rows = await _refusals(
                lambda: operators.list_operator_audit(session, principal, first, cursor)
            )
        return build_connection(rows, first, OperatorAuditEvent.from_model, time_key("created_at"))
