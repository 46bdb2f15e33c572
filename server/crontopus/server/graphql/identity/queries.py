"""GraphQL queries: `me` and `members`."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from crontopus.server.db import models
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.identity.types import Me, Membership, Tenant, User
from crontopus.server.services.members import list_members


@strawberry.type
class IdentityQueries:
    @strawberry.field(description="The caller, the active tenant and the caller's role there.")
    async def me(self, info: Info) -> Me:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            memberships = (
                await session.scalars(
                    select(models.Membership)
                    .where(models.Membership.user_id == principal.user_id)
                    .order_by(models.Membership.created_at)
                )
            ).all()
        current = next(m for m in memberships if m.tenant_id == principal.tenant_id)
        return Me(
            user=User.from_model(current.user),
            tenant=Tenant.from_model(current.tenant),
            role=current.role,
            tenants=[Membership.from_model(m) for m in memberships],
        )

    @strawberry.field(description="Members of the active tenant and their roles.")
    async def members(self, info: Info) -> list[Membership]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            return [Membership.from_model(m) for m in await list_members(session, principal)]
