"""GraphQL queries: `apiTokens`."""

from __future__ import annotations

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.tokens.types import ApiToken
from crontopus.server.services.api_tokens import list_api_tokens


@strawberry.type
class TokenQueries:
    @strawberry.field(description="Your API tokens in the active tenant, newest first.")
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            return [ApiToken.from_model(t) for t in await list_api_tokens(session, principal)]
