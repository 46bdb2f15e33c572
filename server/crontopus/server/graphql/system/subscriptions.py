"""GraphQL subscription `heartbeat`: lets live clients tell "connected" from "stalled"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import strawberry
from graphql import GraphQLError

from crontopus.server.graphql.context import Info


@strawberry.type
class SystemSubscriptions:
    @strawberry.subscription(
        description="The server's time, now and every `intervalSeconds` (1-300) after."
    )
    async def heartbeat(
        self, info: Info, interval_seconds: int = 15
    ) -> AsyncGenerator[datetime, None]:
        info.context.require_principal().require_read("Watching the server's heartbeat")
        if not 1 <= interval_seconds <= 300:
            raise GraphQLError(
                f"intervalSeconds: must be between 1 and 300 (got {interval_seconds})",
                extensions={"code": "BAD_USER_INPUT"},
            )
        while True:
            yield datetime.now(UTC)
            await asyncio.sleep(interval_seconds)
