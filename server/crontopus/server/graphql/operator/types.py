"""GraphQL types operators see: tenants with their usage, exports, system health, audit.

Sizes in bytes are `Float`s: GraphQL's `Int` stops at 2 GiB.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from crontopus.server.db import models
from crontopus.server.services.platform import system_health as health
from crontopus.server.services.platform.exports import DeletedTenant as DeletedTenantRow
from crontopus.server.services.platform.tenants import TenantUsage as Usage
from crontopus.server.services.quotas import Quota
from crontopus.server.settings import Quotas


@strawberry.enum(name="QuotaName", description="A per-tenant quota (CRONTOPUS_QUOTA_<name>).")
class QuotaName(enum.Enum):
    JOBS = "JOBS"
    ENDPOINTS = "ENDPOINTS"
    ENROLLMENT_TOKENS = "ENROLLMENT_TOKENS"
    API_TOKENS = "API_TOKENS"
    CHANNELS = "CHANNELS"
    DISCOVERED_JOBS = "DISCOVERED_JOBS"
    SECRETS = "SECRETS"

    @property
    def quota(self) -> Quota:
        return Quota[self.value]


@strawberry.type(description="One quota of a tenant: the limit in force and where it comes from.")
class TenantQuota:
    name: QuotaName
    limit: int
    default: int = strawberry.field(description="The server's limit (its setting).")
    overridden: bool = strawberry.field(description="Whether an operator set this tenant's own.")
    setting: str


@strawberry.type(description="Finished runs of a tenant on one UTC day.")
class DailyRunCount:
    day: date
    runs: int


@strawberry.type(description="How much a tenant uses.")
class TenantUsage:
    members: int
    jobs: int = strawberry.field(description="Managed jobs at HEAD (discovered ones not counted).")
    endpoints_online: int
    endpoints_total: int = strawberry.field(description="Endpoints not revoked.")
    runs_stored: int
    runs_per_day: list[DailyRunCount] = strawberry.field(
        description="Finished runs per UTC day over the last 7 days, oldest first."
    )
    git_bytes: float = strawberry.field(description="The job repository's size on disk.")
    run_output_bytes: float = strawberry.field(description="The run output stored.")
    storage_bytes: float = strawberry.field(description="gitBytes + runOutputBytes.")


@strawberry.type(description="An archive of a tenant's repository and runs.")
class TenantExport:
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    size_bytes: float
    runs: int
    head_commit: str | None
    created_by: str
    created_at: datetime
    download_path: str = strawberry.field(
        description="GET it with an operator's access token (Authorization: Bearer …)."
    )

    @classmethod
    def from_model(cls, export: models.TenantExport) -> TenantExport:
        return cls(
            id=export.id,
            tenant_id=export.tenant_id,
            tenant_slug=export.tenant_slug,
            size_bytes=float(export.size_bytes),
            runs=export.runs,
            head_commit=export.head_commit,
            created_by=export.created_by,
            created_at=export.created_at,
            download_path=f"/operator/exports/{export.id}",
        )


def _quotas(quotas: Quotas, defaults: Quotas) -> list[TenantQuota]:
    return [
        TenantQuota(
            name=QuotaName(quota.name),
            limit=quota.limit(quotas),
            default=quota.limit(defaults),
            overridden=quota.field in quotas.overridden,
            setting=quota.setting,
        )
        for quota in Quota
    ]


@strawberry.type(description="A tenant as the server's operators see it (never its secrets).")
class OperatorTenant:
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime
    suspended: bool
    suspended_at: datetime | None
    suspension_reason: str | None
    usage: TenantUsage
    quotas: list[TenantQuota]
    last_export: TenantExport | None

    @classmethod
    def from_usage(cls, usage: Usage, defaults: Quotas) -> OperatorTenant:
        tenant = usage.tenant
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            created_at=tenant.created_at,
            suspended=tenant.suspended_at is not None,
            suspended_at=tenant.suspended_at,
            suspension_reason=tenant.suspension_reason,
            usage=TenantUsage(
                members=usage.members,
                jobs=usage.jobs,
                endpoints_online=usage.endpoints_online,
                endpoints_total=usage.endpoints_total,
                runs_stored=usage.runs_stored,
                runs_per_day=[DailyRunCount(day=d, runs=n) for d, n in usage.runs_per_day],
                git_bytes=float(usage.git_bytes),
                run_output_bytes=float(usage.run_output_bytes),
                storage_bytes=float(usage.storage_bytes),
            ),
            quotas=_quotas(usage.quotas, defaults),
            last_export=(TenantExport.from_model(usage.last_export) if usage.last_export else None),
        )


@strawberry.type(description="A tenant was deleted; its export stays downloadable.")
class DeletedTenant:
    id: uuid.UUID
    slug: str
    export: TenantExport
    deleted_users: list[str] = strawberry.field(
        description="People who belonged to no other tenant, deleted with it."
    )

    @classmethod
    def from_row(cls, row: DeletedTenantRow) -> DeletedTenant:
        return cls(
            id=row.id,
            slug=row.slug,
            export=TenantExport.from_model(row.export),
            deleted_users=list(row.deleted_users),
        )


@strawberry.input(description="A tenant's own limit for one quota; null goes back to the default.")
class QuotaOverrideInput:
    name: QuotaName
    limit: int | None


@strawberry.type(description="What an operator did, and when.")
class OperatorAuditEvent:
    id: uuid.UUID
    actor: str
    action: str
    tenant_id: uuid.UUID | None
    tenant_slug: str | None
    details: JSON
    created_at: datetime

    @classmethod
    def from_model(cls, event: models.OperatorAuditEvent) -> OperatorAuditEvent:
        return cls(
            id=event.id,
            actor=event.actor,
            action=event.action,
            tenant_id=event.tenant_id,
            tenant_slug=event.tenant_slug,
            details=JSON(event.details),
            created_at=event.created_at,
        )


@strawberry.type
class DependencyHealth:
    name: str
    up: bool
    since: datetime | None
    reason: str | None


@strawberry.type
class DatabaseHealth:
    backend: str
    up: bool
    latency_ms: float | None
    size_bytes: float | None
    error: str | None


@strawberry.type
class IngestHealth:
    queue_depth: int = strawberry.field(description="Check-ins waiting for the writer now.")
    queue_limit: int
    batches: int = strawberry.field(description="Batches committed since this process started.")
    last_batch_seconds: float | None
    mean_batch_seconds: float | None


@strawberry.type
class AlertHealth:
    in_process: bool = strawberry.field(description="Whether this process runs the alert worker.")
    evaluated_until: datetime | None
    lag_seconds: float | None = strawberry.field(
        description="How far the periodic evaluation is behind now."
    )
    pending_notifications: int
    oldest_due_seconds: float | None = strawberry.field(
        description="How long the oldest due notification has waited."
    )


@strawberry.type
class EventBusHealth:
    kind: str
    connected: bool
    subscribers: int


@strawberry.type
class DiskHealth:
    data_bytes: float
    git_bytes: float
    exports_bytes: float
    free_bytes: float
    total_bytes: float


@strawberry.type(description="This server process's view of the system's health.")
class SystemHealth:
    checked_at: datetime
    database: DatabaseHealth
    ingest: IngestHealth
    alerts: AlertHealth
    event_bus: EventBusHealth
    disk: DiskHealth
    dependencies: list[DependencyHealth]

    @classmethod
    def from_report(cls, report: health.SystemHealth) -> SystemHealth:
        db, disk = report.database, report.disk
        return cls(
            checked_at=report.checked_at,
            database=DatabaseHealth(
                backend=db.backend,
                up=db.up,
                latency_ms=db.latency_ms,
                size_bytes=float(db.size_bytes) if db.size_bytes is not None else None,
                error=db.error,
            ),
            ingest=IngestHealth(**vars(report.ingest)),
            alerts=AlertHealth(**vars(report.alerts)),
            event_bus=EventBusHealth(**vars(report.event_bus)),
            disk=DiskHealth(
                data_bytes=float(disk.data_bytes),
                git_bytes=float(disk.git_bytes),
                exports_bytes=float(disk.exports_bytes),
                free_bytes=float(disk.free_bytes),
                total_bytes=float(disk.total_bytes),
            ),
            dependencies=[DependencyHealth(**vars(d)) for d in report.dependencies],
        )
