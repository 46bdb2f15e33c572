"""Runs and their hourly and daily rollups."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.db.models.base import Base, enum_column
from crontopus.server.db.types import utcnow


class Run(Base):
    """One execution of a job on an endpoint; `id` is the wrapper's idempotency key."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_tenant_started", "tenant_id", "started_at", "id"),
        Index("ix_runs_tenant_job_started", "tenant_id", "job_id", "started_at", "id"),
        # Runs are only ever read by endpoint for one endpoint (`endpoint_id = …`): a run
        # without one (a check-in sent with an API token) needs no entry here.
        Index(
            "ix_runs_tenant_endpoint_started",
            "tenant_id",
            "endpoint_id",
            "started_at",
            "id",
            sqlite_where=text("endpoint_id IS NOT NULL"),
            postgresql_where=text("endpoint_id IS NOT NULL"),
        ),
        # The runs still going, few among many: the stuck-run check reads only these.
        Index(
            "ix_runs_running",
            "tenant_id",
            "started_at",
            sqlite_where=text("status = 'RUNNING'"),
            postgresql_where=text("status = 'RUNNING'"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID]
    job_name: Mapped[str | None] = mapped_column(String(63))
    namespace: Mapped[str | None] = mapped_column(String(63))
    endpoint_id: Mapped[uuid.UUID | None]
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus, "run_status"))
    started_at: Mapped[datetime]
    start_reported: Mapped[bool] = mapped_column(default=False)
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    exit_code: Mapped[int | None]
    output: Mapped[str] = mapped_column(default="")
    output_truncated: Mapped[bool] = mapped_column(default=False)
    commit_id: Mapped[str | None] = mapped_column(String(64))
    unknown_job: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    trigger: Mapped[RunTrigger] = mapped_column(
        enum_column(RunTrigger, "run_trigger"), default=RunTrigger.SCHEDULE
    )


class RunCounts:
    """Counters of finished runs shared by the hourly and daily rollup tables."""

    runs: Mapped[int] = mapped_column(default=0)
    successes: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    last_run_at: Mapped[datetime | None]


class JobHealthHour(RunCounts, Base):
    """Finished runs of one job in one hour, maintained on ingest."""

    __tablename__ = "job_health_hourly"
    __table_args__ = (Index("ix_job_health_hourly_tenant_hour", "tenant_id", "hour"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)


class EndpointHealthHour(RunCounts, Base):
    """Finished runs on one endpoint in one hour, maintained on ingest."""

    __tablename__ = "endpoint_health_hourly"
    __table_args__ = (Index("ix_endpoint_health_hourly_tenant_hour", "tenant_id", "hour"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)


class JobHealthDay(RunCounts, Base):
    """Finished runs of one job in one UTC day: long windows read 90 rows, not 2,160."""

    __tablename__ = "job_health_daily"
    __table_args__ = (Index("ix_job_health_daily_tenant_day", "tenant_id", "day"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)


class EndpointHealthDay(RunCounts, Base):
    """Finished runs on one endpoint in one UTC day."""

    __tablename__ = "endpoint_health_daily"
    __table_args__ = (Index("ix_endpoint_health_daily_tenant_day", "tenant_id", "day"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)
