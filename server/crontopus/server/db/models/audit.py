"""What was done, by whom: the tenants' audit log, the operators' log and tenant exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from crontopus.server.db.models.base import Base
from crontopus.server.db.types import utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_time", "tenant_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorAuditEvent(Base):
    """What a platform operator did; kept after the tenant it names is deleted (no foreign key)."""

    __tablename__ = "operator_audit_events"
    __table_args__ = (Index("ix_operator_audit_events_time", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    actor_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[uuid.UUID | None]
    tenant_slug: Mapped[str | None] = mapped_column(String(63))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantExport(Base):
    """An archive of a tenant's repository and runs; outlives the tenant (no foreign key).

    `head_commit`, `runs` and `last_run_received_at` say what the archive holds, so deleting
    the tenant can check that nothing arrived since.
    """

    __tablename__ = "tenant_exports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    tenant_slug: Mapped[str] = mapped_column(String(63))
    file_name: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    runs: Mapped[int]
    head_commit: Mapped[str | None] = mapped_column(String(64))
    last_run_received_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
