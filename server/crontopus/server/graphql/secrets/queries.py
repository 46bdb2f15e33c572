"""GraphQL queries: `secrets` (names) and `jobSecrets` (values, for agents)."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.secrets.types import JobSecret, JobSecrets, Secret
from crontopus.server.security.secret_box import secret_box
from crontopus.server.services import secrets

JobSecretsResult = Annotated[JobSecrets | UserErrors, strawberry.union("JobSecretsResult")]


@strawberry.type
class SecretQueries:
    @strawberry.field(description="The tenant's secrets by name; values are never returned.")
    async def secrets(self, info: Info) -> list[Secret]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            return [Secret.from_model(s) for s in await secrets.list_secrets(session, principal)]

    @strawberry.field(
        description="For an agent about to run a job targeted at it: the values of the job's "
        "secretRefs (endpoint tokens only).",
        extensions=[ServiceErrors()],
    )
    async def job_secrets(self, info: Info, job_id: uuid.UUID) -> JobSecretsResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            items = await secrets.job_secrets(
                session, context.gitstore, principal, secret_box(context.settings), job_id
            )
        return JobSecrets(items=[JobSecret.from_value(item) for item in items])
