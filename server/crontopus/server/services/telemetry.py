"""What services report to, as protocols: the process's metrics and the request being served.

Services sit below the HTTP and observability layers, so they never import them. The
Prometheus metrics of `observability.metrics.Metrics` satisfy `ServiceMetrics` as they are;
tests and tools may pass anything else with the same shape.
"""

from __future__ import annotations

import contextvars
from typing import Protocol


class Increment(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class LabelledCounter(Protocol):
    def labels(self, *values: str) -> Increment: ...


class Observation(Protocol):
    def observe(self, amount: float) -> None: ...


class ServiceMetrics(Protocol):
    """The figures the alert engine, the dispatcher and the operator's health page use."""

    @property
    def incidents_opened(self) -> LabelledCounter: ...

    @property
    def incidents_resolved(self) -> LabelledCounter: ...

    @property
    def notifications_delivered(self) -> LabelledCounter: ...

    @property
    def notification_failures(self) -> LabelledCounter: ...

    @property
    def alert_cycle_seconds(self) -> Observation: ...

    @property
    def batches_stored(self) -> int: ...

    @property
    def batch_seconds_total(self) -> float: ...

    @property
    def last_batch_seconds(self) -> float | None: ...


# The id of the request being served, for log lines written on its behalf (the ingest writer
# logs a batch under the request ids of its check-ins). The logging layer reads it.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "crontopus_request_id", default=None
)
