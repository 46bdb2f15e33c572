"""Endpoints and what they hold: enrollment, endpoints, job instances and discovered jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crontopus.server.db.models.base import Base
from crontopus.server.db.types import utcnow


class EnrollmentToken(Base):
    """A token agents use once (or up to `max_uses` times) to enroll their machine."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None]
    use_count: Mapped[int] = mapped_column(default=0)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Endpoint(Base):
    """An enrolled machine running the agent; its token is stored hashed."""

    __tablename__ = "endpoints"
    __table_args__ = (UniqueConstraint("tenant_id", "machine_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(100))
    machine_id: Mapped[str] = mapped_column(String(128))
    agent_version: Mapped[str] = mapped_column(String(50))
    driver: Mapped[str | None] = mapped_column(String(50))
    drivers: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    applied_commit: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    #: When `token_hash`, `labels` or `revoked_at` last changed, by the database's clock: a
    #: trigger stamps it (migration 0016), so every writer is covered; nothing here writes it.
    #: Channel sockets' credential re-checks read only the rows changed since their last look.
    credentials_changed_at: Mapped[datetime | None] = mapped_column(index=True)


class PendingEnrollment(Base):
    """A known machine id enrolling again without proof: it waits for an admin's approval.

    `token_hash` is the endpoint token the request was given; approving makes it the
    endpoint's token, so the agent that asked (and only it) starts working.
    """

    __tablename__ = "pending_enrollments"
    __table_args__ = (UniqueConstraint("tenant_id", "machine_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    machine_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(100))
    agent_version: Mapped[str] = mapped_column(String(50))
    drivers: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrollment_token: Mapped[str] = mapped_column(String(100))
    requested_from: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobInstance(Base):
    """What an endpoint's scheduler holds for a job, as the agent last reported it."""

    __tablename__ = "job_instances"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    driver: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why the agent could not install the job (the driver's refusal); set only for FAILED.
    failure_reason: Mapped[str | None] = mapped_column(String(2000), default=None)


class DiscoveredJob(Base):
    """A foreign scheduler entry an agent reported, committed once to `discovered/`."""

    __tablename__ = "discovered_jobs"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[uuid.UUID]
    first_endpoint_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
