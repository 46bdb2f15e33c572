"""Prometheus metrics of one server (or worker) process, in a registry of its own.

A registry per process state, not prometheus-client's global one, so several apps in one
test process do not collide and every gauge reads its own state. docs/operations.md lists
every metric.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from crontopus.server.services.checkins import CheckIn, CheckInKind

_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every metric Crontopus exports, created once per process state."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.checkins_received = Counter(
            "crontopus_checkins_received",
            "Check-ins received by this process, by kind (start or finish).",
            ["kind"],
            registry=registry,
        )
        self.checkins_stored = Counter(
            "crontopus_checkins_stored",
            "Check-ins whose batch was committed.",
            registry=registry,
        )
        self.ingest_batch_size = Histogram(
            "crontopus_ingest_batch_size",
            "Check-ins per group-committed ingest batch.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.ingest_commit_seconds = Histogram(
            "crontopus_ingest_commit_seconds",
            "Time to store and commit one ingest batch.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingest_queue_depth = Gauge(
            "crontopus_ingest_queue_depth",
            "Check-ins waiting for the ingest writer.",
            registry=registry,
        )
        self.graphql_operations = Counter(
            "crontopus_graphql_operations",
            "GraphQL operations executed, by operation name and type.",
            ["operation", "type"],
            registry=registry,
        )
        self.graphql_errors = Counter(
            "crontopus_graphql_errors",
            "GraphQL operations that ended with errors, by operation name.",
            ["operation"],
            registry=registry,
        )
        self.graphql_seconds = Histogram(
            "crontopus_graphql_operation_seconds",
            "GraphQL operation latency, by operation name.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._operation_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._received_children: dict[CheckInKind, Counter] = {}
        self.subscriptions_active = Gauge(
            "crontopus_subscriptions_active",
            "Live subscribers connected to this process.",
            registry=registry,
        )
        self.subscription_groups = Gauge(
            "crontopus_subscription_groups",
            "Shared subscription executions: subscribers with equal results share one.",
            registry=registry,
        )
        self.endpoints = Gauge(
            "crontopus_endpoints",
            "Enrolled endpoints by status (online, offline), across tenants.",
            ["status"],
            registry=registry,
        )
        self.incidents_opened = Counter(
            "crontopus_incidents_opened",
            "Incidents opened, by rule.",
            ["rule"],
            registry=registry,
        )
        self.incidents_resolved = Counter(
            "crontopus_incidents_resolved",
            "Incidents resolved, by rule.",
            ["rule"],
            registry=registry,
        )
        self.notifications_delivered = Counter(
            "crontopus_notification_deliveries",
            "Notifications delivered, by channel kind.",
            ["kind"],
            registry=registry,
        )
        self.notification_failures = Counter(
            "crontopus_notification_failures",
            "Notification attempts that failed, by channel kind and whether they will be retried.",
            ["kind", "retryable"],
            registry=registry,
        )
        self.alert_cycle_seconds = Histogram(
            "crontopus_alert_cycle_seconds",
            "Time of one periodic alert evaluation (missed runs, long runs, offline endpoints).",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

        self.dependency_up = Gauge(
            "crontopus_dependency_up",
            "1 while a dependency (database, gitStore) serves, 0 while it is unavailable.",
            ["dependency"],
            registry=registry,
        )
        self.unavailable_answers = Counter(
            "crontopus_unavailable_answers",
            "Requests answered 503 or UNAVAILABLE because a dependency was away, by dependency.",
            ["dependency"],
            registry=registry,
        )

        self.batches_stored = 0
        self.batch_seconds_total = 0.0
        self.last_batch_seconds: float | None = None

    def bind_queue_depth(self, depth: Callable[[], int]) -> None:
        """Read the ingest queue depth at scrape time."""
        self.ingest_queue_depth.set_function(lambda: float(depth()))

    def bind_subscriptions(self, count: Callable[[], int]) -> None:
        """Read the number of live subscribers at scrape time."""
        self.subscriptions_active.set_function(lambda: float(count()))

    def bind_subscription_groups(self, count: Callable[[], int]) -> None:
        """Read the number of shared subscription executions at scrape time."""
        self.subscription_groups.set_function(lambda: float(count()))

    def received(self, check_in: CheckIn) -> None:
        # Once per check-in: the child counter of each kind is looked up once (see operation).
        counter = self._received_children.get(check_in.kind)
        if counter is None:
            counter = self.checkins_received.labels(check_in.kind.value)
            self._received_children[check_in.kind] = counter
        counter.inc()

    def stored_batch(self, size: int, seconds: float) -> None:
        # Plain numbers beside the histogram, for the operators' system health.
        self.batches_stored += 1
        self.batch_seconds_total += seconds
        self.last_batch_seconds = seconds
        self.checkins_stored.inc(size)
        self.ingest_batch_size.observe(size)
        self.ingest_commit_seconds.observe(seconds)

    def operation(self, name: str, kind: str, seconds: float, failed: bool) -> None:
        # `labels()` takes a lock and builds its key on every call; the children of each
        # (name, type) are looked up once. Names are bounded (operation_label), so is this.
        key = (name, kind)
        children = self._operation_children.get(key)
        if children is None:
            children = self.graphql_operations.labels(*key), self.graphql_seconds.labels(name)
            self._operation_children[key] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)
        if failed:
            self.graphql_errors.labels(name).inc()

    def exposition(self) -> bytes:
        """Return the Prometheus text format of every metric."""
        return generate_latest(self.registry)


class Stopwatch:
    """Measure a duration with a monotonic clock."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started
