"""GraphQL queries: `me`, `members`, `invitations` and `sessions`."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from crontopus.server.errors import PermissionDenied
from crontopus.server.graphql.context import AuthenticationRequired, Info
from crontopus.server.graphql.identity.types import (
    IdentityProvider,
    Invitation,
    LoginSession,
    Me,
    Membership,
    Role,
    Tenant,
    User,
)
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_name_cursor,
    page_size,
    search_argument,
)
from crontopus.server.services.invitations import pending_invitations
from crontopus.server.services.members import list_members, page_members
from crontopus.server.services.sessions import list_sessions
from crontopus.server.sso.urls import server_base


@strawberry.type
class IdentityQueries:
    @strawberry.field(description="The caller, the active tenant and the caller's role there.")
    async def me(self, info: Info) -> Me:
        identity = info.context.require_identity()
        identity.principal.require_read("Reading your profile")
        if identity.user is None:
            raise AuthenticationRequired("`me` is for users and their tokens, not endpoints")
        return Me(
            user=User.from_model(identity.user),
            tenant=Tenant.from_model(identity.tenant),
            role=identity.principal.role,
            operator=identity.principal.operator,
            email_verification_pending=(
                info.context.settings.mail.verifies and not identity.user.email_verified
            ),
        )

    @strawberry.field(
        description="The single sign-on providers the login page offers (no login needed)."
    )
    def identity_providers(self, info: Info) -> list[IdentityProvider]:
        context = info.context
        base = server_base(context.request, context.settings)
        return [
            IdentityProvider(name=p.name, label=p.label, start_url=base + p.start_path)
            for p in context.settings.oidc_providers
        ]

    @strawberry.field(description="Members of the active tenant and their roles.")
    async def members(self, info: Info) -> list[Membership]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            return [Membership.from_model(m) for m in await list_members(session, principal)]

    @strawberry.field(
        description=(
            "Members of the active tenant by user name, a page at a time; `search` matches part "
            "of the user name or e-mail address, any case (`members` lists them all at once)."
        )
    )
    async def members_page(
        self,
        info: Info,
        search: str | None = None,
        role: Role | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Membership]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        text = search_argument(search, "search")
        async with info.context.session() as session:
            rows = await page_members(
                session, principal, first, decode_name_cursor(after), text, role
            )
        return build_connection(
            rows, first, Membership.from_model, lambda m: (m.user.username, str(m.id))
        )

    @strawberry.field(
        description="The active tenant's pending invitations (admins), newest first: not yet "
        "accepted, revoked or expired. Their tokens are never shown."
    )
    async def invitations(self, info: Info) -> list[Invitation]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                rows = await pending_invitations(session, principal)
            except PermissionDenied as error:
                raise GraphQLError(error.message, extensions={"code": "FORBIDDEN"}) from None
        return [Invitation.from_service(row) for row in rows]

    @strawberry.field(
        description="Your live login sessions in every tenant, most recently used first."
    )
    async def sessions(self, info: Info) -> list[LoginSession]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                rows = await list_sessions(session, principal)
            except PermissionDenied as error:
                raise GraphQLError(error.message, extensions={"code": "FORBIDDEN"}) from None
        return [LoginSession.from_model(row, principal.session_id) for row in rows]
