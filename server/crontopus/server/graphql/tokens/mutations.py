"""GraphQL mutations: create and revoke API tokens."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.tokens.types import ApiToken, CreatedApiToken, TokenScope
from crontopus.server.services import api_tokens

CreateApiTokenResult = Annotated[
    CreatedApiToken | UserErrors, strawberry.union("CreateApiTokenResult")
]
RevokeApiTokenResult = Annotated[ApiToken | UserErrors, strawberry.union("RevokeApiTokenResult")]


@strawberry.type
class TokenMutations:
    @strawberry.mutation(
        description="Create a personal API token; its plaintext is shown once.",
        extensions=[ServiceErrors()],
    )
    async def create_api_token(
        self,
        info: Info,
        name: str,
        scopes: list[TokenScope],
        expires_in_days: int | None = None,
    ) -> CreateApiTokenResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            token, plaintext = await api_tokens.create_api_token(
                session,
                principal,
                name,
                scopes,
                expires_in_days,
                quotas=info.context.quotas,
            )
        return CreatedApiToken(token=ApiToken.from_model(token), plaintext=plaintext)

    @strawberry.mutation(
        description="Revoke an API token; it stops working at once.", extensions=[ServiceErrors()]
    )
    async def revoke_api_token(self, info: Info, id: uuid.UUID) -> RevokeApiTokenResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            token = await api_tokens.revoke_api_token(
                session, principal, id, info.context.identities
            )
        return ApiToken.from_model(token)
