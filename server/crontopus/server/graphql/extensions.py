"""The schema extension: cached documents, request limits, metrics and error masking."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, StreamExecutionResult

from crontopus.server.availability import (
    Dependency,
    DependencyTracker,
    Unavailable,
    unavailability,
    unavailable_extensions,
)
from crontopus.server.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceError,
    ValidationFailed,
)
from crontopus.server.events.errors import EventBusInterrupted
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

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Results over a WebSocket leave one by one, before `on_operation` ends: mask each.
        mask_result_errors(result, self.execution_context)
        yield


def mask_unexpected_errors(context: ExecutionContext) -> None:
    """Hide internal failures behind a request id; keep validation and user errors visible."""
    mask_result_errors(context.result, context)


def mask_result_errors(result: object, context: ExecutionContext) -> None:
    """Mask the unexpected errors of one result in place (see `mask_unexpected_errors`)."""
    errors = getattr(result, "errors", None)
    if not errors:
        return
    masked = mask_errors(errors, context.context)
    result.errors = masked  # type: ignore[attr-defined]
    retry_after = [
        e.extensions["retryAfterSeconds"]
        for e in masked
        if e.extensions and e.extensions.get("code") == "UNAVAILABLE"
    ]
    response = getattr(context.context, "response", None)
    if retry_after and isinstance(response, Response):
        response.headers["Retry-After"] = str(max(retry_after))


def mask_errors(errors: list[GraphQLError], context_value: object) -> list[GraphQLError]:
    """Return `errors` as a client may see them (also for results a shared stream sends)."""
    request_id = getattr(context_value, "request_id", "unknown")
    return [_mask(error, request_id, _tracker(context_value)) for error in errors]


#: The `extensions.code` a service error raised by a resolver carries, so clients can act on it.
SERVICE_ERROR_CODES: tuple[tuple[type[ServiceError], str], ...] = (
    (AuthenticationFailed, "UNAUTHENTICATED"),
    (PermissionDenied, "FORBIDDEN"),
    (NotFound, "NOT_FOUND"),
    (ValidationFailed, "BAD_USER_INPUT"),
    (RateLimited, "RATE_LIMITED"),
    (Conflict, "CONFLICT"),
)


def _expected(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: a syntax, validation or limit error raised by GraphQL itself.
    return original is None or isinstance(original, (GraphQLError, ServiceError))


def _mask(error: GraphQLError, request_id: str, tracker: DependencyTracker) -> GraphQLError:
    if _expected(error):
        original = error.original_error
        if isinstance(original, ServiceError) and not (error.extensions or {}).get("code"):
            for kind, code in SERVICE_ERROR_CODES:
                if isinstance(original, kind):
                    error.extensions = {**(error.extensions or {}), "code": code}
                    break
        return error
    if isinstance(error.original_error, EventBusInterrupted):
        # A live stream cut by the PostgreSQL listener: its reason, and "resubscribe"; the
        # event bus logs the outage once itself.
        return _unavailable(error, Unavailable(Dependency.DATABASE, str(error.original_error)))
    problem = unavailability(error.original_error) if error.original_error else None
    if problem is not None:
        # One warning per outage (the tracker's), not a traceback per request.
        tracker.failed(problem)
        return _unavailable(error, problem)
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


def _tracker(context_value: object) -> DependencyTracker:
    tracker = getattr(context_value, "dependencies", None)
    return tracker if isinstance(tracker, DependencyTracker) else _FALLBACK


# For schemas executed without a server state (schema export, unit tests).
_FALLBACK = DependencyTracker()


def _unavailable(error: GraphQLError, problem: Unavailable) -> GraphQLError:
    return GraphQLError(
        problem.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=unavailable_extensions(problem),
    )


def build_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    """Return the schema's extension factories; one document cache serves every request."""
    documents = DocumentCache(limits)
    return [lambda: OperationLifecycle(documents)]
