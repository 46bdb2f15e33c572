"""A schema extension that counts and times GraphQL operations and labels their log lines."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from crontopus.server.observability.logging import operation_var, tenant_var
from crontopus.server.observability.metrics import Metrics

METRICS_KEY = "metrics"
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


def _name(extension: SchemaExtension) -> str:
    context = extension.execution_context
    name = context.operation_name
    if name is None:
        # No operationName in the request: the document's own operation name.
        operation = context._get_first_operation()
        name = operation.name.value if operation is not None and operation.name else None
    return operation_label(name)


class OperationMetrics(SchemaExtension):
    """Record each operation's name, type, latency and failure."""

    def on_execute(self) -> Iterator[None]:
        operation_var.set(_name(self))
        yield

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        principal = getattr(context, "principal", None)
        # Previous values, not tokens: a subscription's hooks may end in another context.
        tenant_before, operation_before = tenant_var.get(), operation_var.get()
        tenant_var.set(getattr(principal, "tenant_slug", None))
        operation_var.set(None)
        started = time.perf_counter()
        try:
            yield
        finally:
            extras = getattr(context, "extras", None) or {}
            metrics = extras.get(METRICS_KEY)
            name = _name(self)
            if isinstance(metrics, Metrics):
                try:
                    kind = self.execution_context.operation_type.value
                except RuntimeError:  # the document did not parse: no operation type
                    kind = "invalid"
                result = self.execution_context.result
                failed = bool(getattr(result, "errors", None))
                metrics.operation(name, kind, time.perf_counter() - started, failed)
            operation_var.set(operation_before)
            tenant_var.set(tenant_before)
