"""GraphQL mutations: sign-up, login, refresh, logout and membership."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.errors import ServiceError
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import UserErrors, to_graphql_error
from crontopus.server.graphql.identity.types import (
    AuthPayload,
    LogoutPayload,
    Membership,
    RemoveMemberPayload,
    Role,
    User,
)
from crontopus.server.services import accounts, members

AuthResult = Annotated[AuthPayload | UserErrors, strawberry.union("AuthResult")]
LogoutResult = Annotated[LogoutPayload | UserErrors, strawberry.union("LogoutResult")]
MemberResult = Annotated[Membership | UserErrors, strawberry.union("MemberResult")]
RemoveMemberResult = Annotated[
    RemoveMemberPayload | UserErrors, strawberry.union("RemoveMemberResult")
]


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(description="Create an account and a tenant you own, and log in.")
    async def register(self, info: Info, username: str, email: str, password: str) -> AuthResult:
        context = info.context
        async with context.session() as session:
            try:
                result = await accounts.register(
                    session,
                    context.settings,
                    context.limiter,
                    username,
                    email,
                    password,
                    context.client_address,
                    context.on_tenant_created,
                )
            except ServiceError as error:
                return to_graphql_error(error)
        return AuthPayload.from_session(result)

    @strawberry.mutation(description="Log in; `tenant` (a slug) picks the tenant to act in.")
    async def login(
        self, info: Info, username: str, password: str, tenant: str | None = None
    ) -> AuthResult:
        context = info.context
        async with context.session() as session:
            try:
                result = await accounts.login(
                    session,
                    context.settings,
                    context.limiter,
                    username,
                    password,
                    context.client_address,
                    tenant,
                )
            except ServiceError as error:
                return to_graphql_error(error)
        return AuthPayload.from_session(result)

    @strawberry.mutation(
        description="Trade a refresh token for new tokens; the old one stops working."
    )
    async def refresh_token(self, info: Info, token: str) -> AuthResult:
        async with info.context.session() as session:
            try:
                result = await accounts.refresh(session, info.context.settings, token)
            except ServiceError as error:
                return to_graphql_error(error)
        return AuthPayload.from_session(result)

    @strawberry.mutation(description="End the session a refresh token belongs to.")
    async def logout(self, info: Info, refresh_token: str) -> LogoutResult:
        async with info.context.session() as session:
            try:
                await accounts.logout(session, refresh_token)
            except ServiceError as error:
                return to_graphql_error(error)
        return LogoutPayload(ok=True)

    @strawberry.mutation(description="Add a registered user to the active tenant.")
    async def add_member(
        self,
        info: Info,
        username: str,
        role: Role,  # type: ignore[valid-type]
    ) -> MemberResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                membership = await members.add_member(session, principal, username, role)
            except ServiceError as error:
                return to_graphql_error(error)
        return Membership.from_model(membership)

    @strawberry.mutation(description="Remove a member from the active tenant.")
    async def remove_member(self, info: Info, user_id: uuid.UUID) -> RemoveMemberResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                user = await members.remove_member(
                    session, principal, user_id, info.context.identities
                )
            except ServiceError as error:
                return to_graphql_error(error)
        return RemoveMemberPayload(user=User.from_model(user))
