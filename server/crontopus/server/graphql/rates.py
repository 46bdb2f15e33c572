"""The per-principal rate limit on GraphQL mutations, answered as `RateLimitedError` data."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver

from crontopus.server.errors import RateLimited
from crontopus.server.graphql.context import Context
from crontopus.server.graphql.errors import RateLimitedError
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.security.ratelimit import Limit

#: Limited by their own, per-tenant rate (`Limit.CHECKIN`), which agents need to be generous.
UNLIMITED_MUTATIONS = frozenset({"check_in"})


def principal_key(principal: Principal | None, client_address: str) -> str:
    """Who a mutation counts against: the user, token or endpoint; else the client address."""
    if principal is None:
        return f"address:{client_address}"
    if principal.kind is PrincipalKind.ENDPOINT:
        return f"endpoint:{principal.endpoint_id}"
    if principal.kind is PrincipalKind.API_TOKEN:
        return f"token:{principal.token_id}"
    return f"user:{principal.user_id}"


class MutationRateLimit(FieldExtension):
    """Spend a token of the caller's mutation budget before the mutation runs."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        context: Context = info.context
        try:
            await context.limiter.take(
                Limit.MUTATION, principal_key(context.principal, context.client_address)
            )
        except RateLimited as error:
            return RateLimitedError(message=error.message, retry_after_seconds=error.retry_after)
        return await next_(source, info, **kwargs)


def limit_mutations(mutation: type) -> None:
    """Put every mutation of `mutation` (but the check-in) behind the per-principal budget."""
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if field.python_name in UNLIMITED_MUTATIONS:
            continue
        if not any(isinstance(e, MutationRateLimit) for e in field.extensions):
            field.extensions.append(MutationRateLimit())
