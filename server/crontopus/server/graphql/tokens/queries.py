"""GraphQL queries: `apiTokens`."""

from __future__ import annotations

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_time_cursor,
    page_size,
    search_argument,
    time_key,
)
from crontopus.server.graphql.tokens.types import ApiToken
from crontopus.server.services.api_tokens import list_api_tokens, page_api_tokens


@strawberry.type
class TokenQueries:
    @strawberry.field(description="Your API tokens in the active tenant, newest first.")
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            return [ApiToken.from_model(t) for t in await list_api_tokens(session, principal)]

    @strawberry.field(
        description=(
            "Your API tokens in the active tenant, newest first, a page at a time; `search` "
            "matches part of a token's name, any case (`apiTokens` lists them all at once)."
        )
    )
    async def api_tokens_page(
        self, info: Info, search: str | None = None, first: int = 50, after: str | None = None
    ) -> Connection[ApiToken]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        text = search_argument(search, "search")
        async with info.context.session() as session:
            rows = await page_api_tokens(session, principal, first, decode_time_cursor(after), text)
        return build_connection(rows, first, ApiToken.from_model, time_key("created_at"))
