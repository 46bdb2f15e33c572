"""GraphQL mutations: set and delete secrets."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.secrets.types import DeleteSecretPayload, Secret
from crontopus.server.security.secret_box import secret_box
from crontopus.server.services import secrets

SetSecretResult = Annotated[Secret | UserErrors, strawberry.union("SetSecretResult")]
DeleteSecretResult = Annotated[
    DeleteSecretPayload | UserErrors, strawberry.union("DeleteSecretResult")
]


@strawberry.type
class SecretMutations:
    @strawberry.mutation(
        description="Create a secret or replace its value (at most 64 KiB); jobs get the new "
        "value on their next run.",
        extensions=[ServiceErrors()],
    )
    async def set_secret(self, info: Info, name: str, value: str) -> SetSecretResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            secret = await secrets.set_secret(
                session,
                principal,
                secret_box(context.settings),
                name,
                value,
                quotas=context.quotas,
            )
            return Secret.from_model(secret)

    @strawberry.mutation(
        description="Delete a secret; jobs still referencing it fail to run.",
        extensions=[ServiceErrors()],
    )
    async def delete_secret(self, info: Info, name: str) -> DeleteSecretResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            secret = await secrets.delete_secret(session, principal, name)
            return DeleteSecretPayload(secret=Secret.from_model(secret))
