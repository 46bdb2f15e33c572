"""GraphQL mutations for operators: suspend, resume, quotas, export and delete a tenant."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.db.models import Tenant
from crontopus.server.graphql.context import Context, Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.operator.types import (
    DeletedTenant,
    OperatorTenant,
    QuotaOverrideInput,
    TenantExport,
)
from crontopus.server.services.platform import exports, tenants

OperatorTenantResult = Annotated[
    OperatorTenant | UserErrors, strawberry.union("OperatorTenantResult")
]
ExportTenantResult = Annotated[TenantExport | UserErrors, strawberry.union("ExportTenantResult")]
DeleteTenantResult = Annotated[DeletedTenant | UserErrors, strawberry.union("DeleteTenantResult")]


async def _overview(context: Context, tenant: Tenant) -> OperatorTenant:
    async with context.session() as session:
        [usage] = await tenants.usage_of(session, context.settings, context.gitstore, [tenant])
    return OperatorTenant.from_usage(usage, context.settings.quotas)


@strawberry.type
class OperatorMutations:
    @strawberry.mutation(
        description="Suspend a tenant: its logins, API calls, Git access and check-ins are "
        "answered 'suspended' (check-ins are still stored) until it is resumed.",
        extensions=[ServiceErrors()],
    )
    async def suspend_tenant(
        self, info: Info, id: uuid.UUID, reason: str | None = None
    ) -> OperatorTenantResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            tenant = await tenants.suspend_tenant(
                session, principal, context.identities, id, reason
            )
        return await _overview(context, tenant)

    @strawberry.mutation(description="Lift a tenant's suspension.", extensions=[ServiceErrors()])
    async def resume_tenant(self, info: Info, id: uuid.UUID) -> OperatorTenantResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            tenant = await tenants.resume_tenant(session, principal, context.identities, id)
        return await _overview(context, tenant)

    @strawberry.mutation(
        description="Set a tenant's own limits for some quotas (null: back to the default).",
        extensions=[ServiceErrors()],
    )
    async def set_tenant_quotas(
        self, info: Info, id: uuid.UUID, quotas: list[QuotaOverrideInput]
    ) -> OperatorTenantResult:
        context = info.context
        principal = context.require_principal()
        limits = {item.name.quota: item.limit for item in quotas}
        async with context.session() as session:
            tenant = await tenants.set_tenant_quotas(
                session, principal, context.identities, id, limits
            )
        return await _overview(context, tenant)

    @strawberry.mutation(
        description="Archive a tenant's Git repository and runs for download "
        "(`downloadPath`); a tenant is deleted only after an export that holds everything.",
        extensions=[ServiceErrors()],
    )
    async def export_tenant(self, info: Info, id: uuid.UUID) -> ExportTenantResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            export = await exports.export_tenant(
                session, principal, context.settings, context.gitstore, id
            )
        return TenantExport.from_model(export)

    @strawberry.mutation(
        description="Delete a suspended tenant whose latest export holds all its data.",
        extensions=[ServiceErrors()],
    )
    async def delete_tenant(self, info: Info, id: uuid.UUID) -> DeleteTenantResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            deleted = await exports.delete_tenant(
                session,
                principal,
                context.gitstore,
                context.identities,
                context.job_directory,
                id,
            )
        return DeletedTenant.from_row(deleted)
