"""Counting and timing GraphQL operations, and labelling their log lines."""

from __future__ import annotations

import re
import time

from strawberry.types import ExecutionContext

from crontopus.server.observability.logging import operation_var, tenant_var
from crontopus.server.observability.metrics import Metrics

#: Operation names are chosen by clients: bound the label values a client can create.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    """Return the metric label for an operation name (bounded in form and number)."""
    if not name:
        return "anonymous"
    if not _NAME.match(name):
        return "invalid"
    if name not in _seen:
        if len(_seen) >= MAX_OPERATION_NAMES:
            return "other"
        _seen.add(name)
    return name


def _label(context: ExecutionContext) -> str:
    name = context.operation_name
    if name is None:
        # No operationName in the request: the document's own operation name.
        operation = context._get_first_operation()
        name = operation.name.value if operation is not None and operation.name else None
    return operation_label(name)


class OperationObservation:
    """One operation's tenant and name in the logging context, its latency and failure."""

    __slots__ = ("context", "name", "operation_before", "started", "tenant_before")

    def __init__(self, context: ExecutionContext) -> None:
        self.context = context
        principal = getattr(context.context, "principal", None)
        # Previous values, not tokens: a subscription's hooks may end in another context.
        self.tenant_before, self.operation_before = tenant_var.get(), operation_var.get()
        tenant_var.set(getattr(principal, "tenant_slug", None))
        operation_var.set(None)
        self.name: str | None = None
        self.started = time.perf_counter()

    def label(self) -> None:
        """Name the operation in its log lines, once its document is known."""
        if self.context.graphql_document is not None:
            self.name = _label(self.context)
            operation_var.set(self.name)

    def finish(self) -> None:
        """Record the operation's metrics and restore the logging context."""
        context = self.context
        metrics = getattr(context.context, "metrics", None)
        if isinstance(metrics, Metrics):
            try:
                kind = context.operation_type.value
            except RuntimeError:  # the document did not parse: no operation type
                kind = "invalid"
            failed = bool(getattr(context.result, "errors", None))
            name = self.name or _label(context)
            metrics.operation(name, kind, time.perf_counter() - self.started, failed)
        operation_var.set(self.operation_before)
        tenant_var.set(self.tenant_before)
