"""The schema extension: cached documents, request limits, metrics and error masking."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from crontopus.server.errors import ServiceError
from crontopus.server.graphql.documents import DocumentCache
from crontopus.server.observability.graphql import OperationObservation
from crontopus.server.settings import Limits

logger = logging.getLogger("crontopus.server.graphql")


class OperationLifecycle(SchemaExtension):
    """Everything Crontopus does around one GraphQL operation, in one hook.

    Strawberry builds a context manager for each hook of each extension on every request,
    which cost a cheap query like `me` about a fifth of its time with one extension per
    concern; so the concerns are plain objects called from this one `on_operation`.
    """

    def __init__(self, documents: DocumentCache) -> None:
        self.documents = documents

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        observation = OperationObservation(context)
        try:
            self.documents.prepare(context)
            observation.label()
            yield
        finally:
            observation.finish()
        mask_unexpected_errors(context)


def mask_unexpected_errors(context: ExecutionContext) -> None:
    """Hide internal failures behind a request id; keep validation and user errors visible."""
    result = context.result
    errors = getattr(result, "errors", None)
    if not errors:
        return
    request_id = getattr(context.context, "request_id", "unknown")
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


def build_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    """Return the schema's extension factories; one document cache serves every request."""
    documents = DocumentCache(limits)
    return [lambda: OperationLifecycle(documents)]
