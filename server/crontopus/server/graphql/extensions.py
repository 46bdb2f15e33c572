"""Schema extensions: caches, request limits and error masking."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from crontopus.server.errors import ServiceError
from crontopus.server.settings import Limits

logger = logging.getLogger("crontopus.server.graphql")


class MaskUnexpectedErrors(SchemaExtension):
    """Hide internal failures behind a request id; keep validation and user errors visible."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "unknown")
        result.errors = [_mask(error, request_id) for error in errors]  # type: ignore[union-attr]


def _expected(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: a syntax, validation or limit error raised by GraphQL itself.
    return original is None or isinstance(original, (GraphQLError, ServiceError))


def _mask(error: GraphQLError, request_id: str) -> GraphQLError:
    if _expected(error):
        return error
    logger.error(
        "unexpected error in GraphQL (request id %s)",
        request_id,
        exc_info=error.original_error,
    )
    return GraphQLError(
        f"Unexpected server error (request id {request_id}); the server log has the details",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def build_extensions(limits: Limits) -> list[type[SchemaExtension] | Callable[[], Any]]:
    """Return the extensions in the order they must run, as classes or factories."""
    # The limiters build their validation rule classes when constructed. The validation
    # cache is keyed by those classes, so they are built once here and shared by every
    # request; fresh ones per request would make every validation a cache miss.
    limit_rules = [
        *QueryDepthLimiter(max_depth=limits.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    ]
    return [
        lambda: ParserCache(maxsize=512),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules(limit_rules),
        lambda: ValidationCache(maxsize=512),
        MaskUnexpectedErrors,
    ]
