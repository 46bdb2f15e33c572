"""The health of the whole server, for its operators: one place that gathers what exists.

The database and Git store states are the dependency tracker's (availability.py), ingest
figures the ingest writer's metrics, the alert worker's lag its cursor in the database, the
event bus its own counters, and disk use the data directory as the OS and the files say.
These are this process's figures; in a cluster each server process answers for itself.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.availability import Dependency, DependencyTracker
from crontopus.server.db.models import AlertCursor, DeliveryStatus, Notification
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.security.principal import Principal
from crontopus.server.services.platform.disk import directory_bytes_off_loop
from crontopus.server.services.telemetry import ServiceMetrics
from crontopus.server.settings import Settings


@dataclass(frozen=True)
class DependencyHealth:
    name: str
    up: bool
    since: datetime | None
    reason: str | None


@dataclass(frozen=True)
class DatabaseHealth:
    backend: str
    up: bool
    latency_ms: float | None
    size_bytes: int | None
    error: str | None


@dataclass(frozen=True)
class IngestHealth:
    queue_depth: int
    queue_limit: int
    batches: int
    last_batch_seconds: float | None
    mean_batch_seconds: float | None


@dataclass(frozen=True)
class AlertHealth:
    in_process: bool
    evaluated_until: datetime | None
    lag_seconds: float | None
    pending_notifications: int
    oldest_due_seconds: float | None


@dataclass(frozen=True)
class EventBusHealth:
    kind: str
    connected: bool
    subscribers: int


@dataclass(frozen=True)
class DiskHealth:
    data_bytes: int
    git_bytes: int
    exports_bytes: int
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class SystemHealth:
    checked_at: datetime
    database: DatabaseHealth
    ingest: IngestHealth
    alerts: AlertHealth
    event_bus: EventBusHealth
    disk: DiskHealth
    dependencies: tuple[DependencyHealth, ...]


async def system_health(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    metrics: ServiceMetrics | None,
    dependencies: DependencyTracker | None,
    broadcaster: Broadcaster,
    queue_depth: int,
) -> SystemHealth:
    """Gather the server's health (operators only)."""
    principal.require_operator("Reading the system health")
    now = datetime.now(UTC)
    database = await _database(session)
    alerts = await _alerts(session, settings, now) if database.up else _no_alerts(settings)
    return SystemHealth(
        checked_at=now,
        database=database,
        ingest=_ingest(metrics, settings, queue_depth),
        alerts=alerts,
        event_bus=EventBusHealth(
            kind=type(broadcaster).__name__.removesuffix("Broadcaster").lower() or "memory",
            connected=bool(getattr(broadcaster, "connected", True)),
            subscribers=broadcaster.subscriber_count(),
        ),
        disk=await _disk(settings.data_dir),
        dependencies=_dependencies(dependencies),
    )


async def _database(session: AsyncSession) -> DatabaseHealth:
    backend = session.get_bind().dialect.name
    started = time.perf_counter()
    try:
        await session.execute(text("SELECT 1"))
        latency = (time.perf_counter() - started) * 1000
        if backend == "postgresql":
            size = await session.scalar(text("SELECT pg_database_size(current_database())"))
        else:
            size = await session.scalar(
                text("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
            )
    except Exception as error:  # any failure is the answer: the database is not serving
        return DatabaseHealth(backend, False, None, None, f"{type(error).__name__}: {error}")
    return DatabaseHealth(backend, True, round(latency, 2), int(size or 0), None)


def _ingest(metrics: ServiceMetrics | None, settings: Settings, depth: int) -> IngestHealth:
    batches = metrics.batches_stored if metrics is not None else 0
    return IngestHealth(
        queue_depth=depth,
        queue_limit=settings.ingest_queue_limit,
        batches=batches,
        last_batch_seconds=metrics.last_batch_seconds if metrics is not None else None,
        mean_batch_seconds=(
            metrics.batch_seconds_total / batches if metrics is not None and batches else None
        ),
    )


async def _alerts(session: AsyncSession, settings: Settings, now: datetime) -> AlertHealth:
    # The periodic evaluation's cursor is shared by every worker: its age is their lag.
    until = await session.scalar(select(func.min(AlertCursor.evaluated_until)))
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    pending = await session.scalar(
        select(func.count()).select_from(Notification).where(Notification.status.in_(waiting))
    )
    oldest = await session.scalar(
        select(func.min(Notification.next_attempt_at)).where(
            Notification.status == DeliveryStatus.PENDING, Notification.next_attempt_at <= now
        )
    )
    return AlertHealth(
        in_process=settings.in_process_worker,
        evaluated_until=until,
        lag_seconds=max(0.0, (now - until).total_seconds()) if until is not None else None,
        pending_notifications=int(pending or 0),
        oldest_due_seconds=(now - oldest).total_seconds() if oldest is not None else None,
    )


def _no_alerts(settings: Settings) -> AlertHealth:
    return AlertHealth(settings.in_process_worker, None, None, 0, None)


async def _disk(data_dir: Path) -> DiskHealth:
    try:
        usage = shutil.disk_usage(data_dir)
        free, total = usage.free, usage.total
    except OSError:
        free = total = 0
    return DiskHealth(
        data_bytes=await directory_bytes_off_loop(data_dir),
        git_bytes=await directory_bytes_off_loop(data_dir / "git"),
        exports_bytes=await directory_bytes_off_loop(data_dir / "exports"),
        free_bytes=free,
        total_bytes=total,
    )


def _dependencies(tracker: DependencyTracker | None) -> tuple[DependencyHealth, ...]:
    if tracker is None:
        return ()
    out = []
    for dependency in Dependency:
        state = tracker.state(dependency)
        out.append(
            DependencyHealth(
                dependency.value,
                state.up,
                state.changed_at,
                None if state.up else state.reason,
            )
        )
    return tuple(out)
