"""GraphQL mutations: sign-up, login, refresh, logout, sessions, password and membership."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from starlette.responses import Response

from crontopus.server.errors import ValidationFailed
from crontopus.server.graphql.context import Context, Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors, to_graphql_error
from crontopus.server.graphql.identity.types import (
    AuthPayload,
    EndedSessions,
    LogoutPayload,
    Membership,
    PasswordChanged,
    RemoveMemberPayload,
    Role,
    Tenant,
    User,
    VerificationPending,
)
from crontopus.server.security.cookies import clear_refresh_cookie, set_refresh_cookie
from crontopus.server.services import accounts, members, sessions, single_sign_on
from crontopus.server.services.sessions import Device

AuthResult = Annotated[AuthPayload | UserErrors, strawberry.union("AuthResult")]
RegisterResult = Annotated[
    AuthPayload | VerificationPending | UserErrors, strawberry.union("RegisterResult")
]
LogoutResult = Annotated[LogoutPayload | UserErrors, strawberry.union("LogoutResult")]
MemberResult = Annotated[Membership | UserErrors, strawberry.union("MemberResult")]
RemoveMemberResult = Annotated[
    RemoveMemberPayload | UserErrors, strawberry.union("RemoveMemberResult")
]
EndSessionsResult = Annotated[EndedSessions | UserErrors, strawberry.union("EndSessionsResult")]
TenantResult = Annotated[Tenant | UserErrors, strawberry.union("TenantResult")]
ChangePasswordResult = Annotated[
    PasswordChanged | UserErrors, strawberry.union("ChangePasswordResult")
]

USE_COOKIE = (
    "Set the refresh token as an HttpOnly, SameSite=Strict cookie for `POST /auth/refresh` "
    "instead of returning it (what the web console does)."
)


def device_of(context: Context) -> Device:
    return Device(context.client_address, context.request.headers.get("user-agent", ""))


def answer(context: Context, result: accounts.Session, use_cookie: bool) -> AuthPayload:
    if not use_cookie:
        return AuthPayload.from_session(result)
    assert isinstance(context.response, Response)
    set_refresh_cookie(context.response, context.request, context.settings, result.refresh_token)
    return AuthPayload.from_session(result, with_refresh_token=False)


def cookie_refused(context: Context, use_cookie: bool) -> UserErrors | None:
    if use_cookie and not isinstance(context.response, Response):
        return to_graphql_error(
            ValidationFailed.single("useCookie", "needs an HTTP request (not a WebSocket)")
        )
    return None


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Create an account and a tenant you own, and log in; when the server "
        "requires verified addresses, the login waits for the mailed link (VerificationPending).",
        extensions=[ServiceErrors()],
    )
    async def register(
        self,
        info: Info,
        username: str,
        email: str,
        password: str,
        use_cookie: Annotated[bool, strawberry.argument(description=USE_COOKIE)] = False,
    ) -> RegisterResult:
        context = info.context
        if (refused := cookie_refused(context, use_cookie)) is not None:
            return refused
        async with context.session() as session:
            result = await accounts.register(
                session,
                context.settings,
                context.limiter,
                username,
                email,
                password,
                context.client_address,
                context.on_tenant_created,
                device_of(context),
            )
        if isinstance(result, accounts.VerificationPending):
            return VerificationPending(
                user=User.from_model(result.user),
                message=f"Follow the link sent to {accounts.mask_email(result.user.email)} to "
                "confirm your address, then sign in.",
            )
        return answer(context, result, use_cookie)

    @strawberry.mutation(
        description="Log in; `tenant` (a slug) picks the tenant to act in.",
        extensions=[ServiceErrors()],
    )
    async def login(
        self,
        info: Info,
        username: str,
        password: str,
        tenant: str | None = None,
        use_cookie: Annotated[bool, strawberry.argument(description=USE_COOKIE)] = False,
    ) -> AuthResult:
        context = info.context
        if (refused := cookie_refused(context, use_cookie)) is not None:
            return refused
        async with context.session() as session:
            result = await accounts.login(
                session,
                context.settings,
                context.limiter,
                username,
                password,
                context.client_address,
                tenant,
                user_agent=device_of(context).user_agent,
            )
        return answer(context, result, use_cookie)

    @strawberry.mutation(
        description="Trade a refresh token for new tokens; the old one stops working.",
        extensions=[ServiceErrors()],
    )
    async def refresh_token(self, info: Info, token: str) -> AuthResult:
        context = info.context
        async with context.session() as session:
            result = await accounts.refresh(
                session, context.settings, token, device_of(context), context.identities
            )
        return AuthPayload.from_session(result)

    @strawberry.mutation(
        description=(
            "End a session: the one `refreshToken` belongs to, else the caller's own. Its "
            "access tokens stop working too."
        ),
        extensions=[ServiceErrors()],
    )
    async def logout(self, info: Info, refresh_token: str | None = None) -> LogoutResult:
        context = info.context
        async with context.session() as session:
            await accounts.logout(session, refresh_token, context.principal, context.identities)
        if isinstance(context.response, Response):
            clear_refresh_cookie(context.response, context.request)
        return LogoutPayload(ok=True)

    @strawberry.mutation(
        description="End one of your sessions (see `sessions`).", extensions=[ServiceErrors()]
    )
    async def revoke_session(self, info: Info, id: uuid.UUID) -> EndSessionsResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            count = await sessions.revoke_session(session, principal, id, info.context.identities)
        return EndedSessions(count=count)

    @strawberry.mutation(
        description="End every session of yours, this one included.", extensions=[ServiceErrors()]
    )
    async def sign_out_everywhere(self, info: Info) -> EndSessionsResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            count = await sessions.sign_out_everywhere(session, principal, context.identities)
        if isinstance(context.response, Response):
            clear_refresh_cookie(context.response, context.request)
        return EndedSessions(count=count)

    @strawberry.mutation(
        description="Change your password; your other sessions end, this one stays.",
        extensions=[ServiceErrors()],
    )
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> ChangePasswordResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            ended = await accounts.change_password(
                session,
                context.settings,
                context.limiter,
                principal,
                current_password,
                new_password,
                context.client_address,
                context.identities,
            )
        return PasswordChanged(ended_sessions=ended)

    @strawberry.mutation(
        description="Add a registered user to the active tenant.", extensions=[ServiceErrors()]
    )
    async def add_member(
        self,
        info: Info,
        username: str,
        role: Role,
    ) -> MemberResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            membership = await members.add_member(session, principal, username, role)
        return Membership.from_model(membership)

    @strawberry.mutation(
        description="Give a member of the active tenant another role (admins; only owners make "
        "or unmake owners; the last owner stays). Effective on the member's next request.",
        extensions=[ServiceErrors()],
    )
    async def change_member_role(
        self,
        info: Info,
        user_id: uuid.UUID,
        role: Role,
    ) -> MemberResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            membership = await members.change_member_role(
                session, principal, user_id, role, info.context.identities
            )
        return Membership.from_model(membership)

    @strawberry.mutation(
        description="Remove a member from the active tenant.", extensions=[ServiceErrors()]
    )
    async def remove_member(self, info: Info, user_id: uuid.UUID) -> RemoveMemberResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            user = await members.remove_member(session, principal, user_id, info.context.identities)
        return RemoveMemberPayload(user=User.from_model(user))

    @strawberry.mutation(
        description="Make a tenant SSO-only: its members log in through `provider` alone "
        "(password logins are refused, sessions opened otherwise end); null (or none given) "
        "allows passwords again. Admins set it for the active tenant, from a session opened "
        "through that provider; platform operators for any tenant (`tenant`, an id).",
        extensions=[ServiceErrors()],
    )
    async def set_tenant_sso_only(
        self, info: Info, provider: str | None = None, tenant: uuid.UUID | None = None
    ) -> TenantResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            row = await single_sign_on.set_sso_only(
                session, context.settings, principal, context.identities, provider, tenant
            )
        return Tenant.from_model(row)
