"""Operators' view of tenants: usage, suspension and per-tenant quotas.

Every function here checks the operator first. What it shows of a tenant is counts and
sizes, never a secret: no token hashes, channel settings or job environments.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, LargeBinary, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import (
    Endpoint,
    JobHealthDay,
    Membership,
    Run,
    Tenant,
    TenantExport,
)
from crontopus.server.errors import FieldProblem, NotFound, ValidationFailed
from crontopus.server.gitstore import GitStore, RepositoryNotFoundError
from crontopus.server.gitstore.local import LocalGitStore
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal
from crontopus.server.services.jobs import managed_job_count
from crontopus.server.services.platform.disk import directory_bytes_off_loop
from crontopus.server.services.platform.operators import record_operator_action
from crontopus.server.services.presence import online_condition
from crontopus.server.services.quotas import MAX_QUOTA, Quota, effective_quotas
from crontopus.server.settings import Quotas, Settings

#: How many days `runsPerDay` covers, today included.
RUN_DAYS = 7
MAX_SEARCH = 100
MAX_REASON = 500


@dataclass(frozen=True)
class TenantUsage:
    """One tenant as operators see it."""

    tenant: Tenant
    members: int = 0
    jobs: int = 0
    endpoints_online: int = 0
    endpoints_total: int = 0
    runs_stored: int = 0
    run_output_bytes: int = 0
    runs_per_day: tuple[tuple[date, int], ...] = ()
    git_bytes: int = 0
    quotas: Quotas = field(default_factory=Quotas)
    last_export: TenantExport | None = None

    @property
    def storage_bytes(self) -> int:
        """What the tenant takes: its Git repository and the run output it keeps."""
        return self.git_bytes + self.run_output_bytes


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant with id {tenant_id}")
    return tenant


async def list_tenants(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    store: GitStore,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
    search: str | None = None,
) -> Sequence[TenantUsage]:
    """Return up to `first` + 1 tenants, newest first, each with its usage."""
    principal.require_operator("Listing tenants")
    query = select(Tenant)
    if search:
        if len(search) > MAX_SEARCH:
            raise ValidationFailed.single("search", f"is longer than {MAX_SEARCH} characters")
        pattern = "%" + search.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(or_(Tenant.slug.like(pattern), func.lower(Tenant.name).like(pattern)))
    query = newest_first(query, Tenant.created_at, Tenant.id, first, after)
    tenants = list((await session.scalars(query)).all())
    return await usage_of(session, settings, store, tenants)


async def usage_of(
    session: AsyncSession, settings: Settings, store: GitStore, tenants: Sequence[Tenant]
) -> list[TenantUsage]:
    """Measure a page of tenants with a handful of grouped queries (not one per tenant)."""
    ids = [tenant.id for tenant in tenants]
    if not ids:
        return []
    now = datetime.now(UTC)
    members = dict(
        (
            await session.execute(
                select(Membership.tenant_id, func.count())
                .where(Membership.tenant_id.in_(ids))
                .group_by(Membership.tenant_id)
            )
        ).all()
    )
    online = func.sum(cast(online_condition(now, settings.offline_after), Integer))
    endpoints = {
        row[0]: (int(row[1]), int(row[2] or 0))
        for row in await session.execute(
            select(Endpoint.tenant_id, func.count(), online)
            .where(Endpoint.tenant_id.in_(ids), Endpoint.revoked_at.is_(None))
            .group_by(Endpoint.tenant_id)
        )
    }
    runs = {
        row[0]: (int(row[1]), int(row[2] or 0))
        for row in await session.execute(
            select(Run.tenant_id, func.count(), func.sum(_output_bytes(session)))
            .where(Run.tenant_id.in_(ids))
            .group_by(Run.tenant_id)
        )
    }
    first_day = datetime.combine(
        now.date() - timedelta(days=RUN_DAYS - 1), datetime.min.time(), UTC
    )
    daily: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    for tenant_id, day, count in await session.execute(
        select(JobHealthDay.tenant_id, JobHealthDay.day, func.sum(JobHealthDay.runs))
        .where(JobHealthDay.tenant_id.in_(ids), JobHealthDay.day >= first_day)
        .group_by(JobHealthDay.tenant_id, JobHealthDay.day)
    ):
        daily[tenant_id][day.date()] = int(count or 0)
    exports = await latest_exports(session, ids)
    days = [first_day.date() + timedelta(days=n) for n in range(RUN_DAYS)]
    result = []
    for tenant in tenants:
        total, live = endpoints.get(tenant.id, (0, 0))
        stored, output = runs.get(tenant.id, (0, 0))
        result.append(
            TenantUsage(
                tenant=tenant,
                members=int(members.get(tenant.id, 0)),
                jobs=await _job_count(store, tenant.slug),
                endpoints_online=live,
                endpoints_total=total,
                runs_stored=stored,
                run_output_bytes=output,
                runs_per_day=tuple((day, daily[tenant.id].get(day, 0)) for day in days),
                git_bytes=await repository_bytes(store, tenant.slug),
                quotas=effective_quotas(settings.quotas, tenant.quota_overrides),
                last_export=exports.get(tenant.id),
            )
        )
    return result


def _output_bytes(session: AsyncSession) -> ColumnElement[int]:
    # Bytes, not characters: SQLite counts a BLOB's bytes, PostgreSQL has octet_length.
    if session.get_bind().dialect.name == "postgresql":
        return func.octet_length(Run.output)
    return func.length(cast(Run.output, LargeBinary))


async def _job_count(store: GitStore, slug: str) -> int:
    try:
        return managed_job_count(await store.snapshot(slug))
    except RepositoryNotFoundError:
        return 0


async def repository_bytes(store: GitStore, slug: str) -> int:
    """The size of a tenant's repository on disk (0 for stores that keep none here)."""
    if not isinstance(store, LocalGitStore):
        return 0
    return await directory_bytes_off_loop(store.repo_path(slug))


async def latest_exports(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, TenantExport]:
    """The newest export of each tenant that has one."""
    newest = (
        select(TenantExport.tenant_id, func.max(TenantExport.created_at).label("at"))
        .where(TenantExport.tenant_id.in_(tenant_ids))
        .group_by(TenantExport.tenant_id)
        .subquery()
    )
    rows = await session.scalars(
        select(TenantExport).join(
            newest,
            (TenantExport.tenant_id == newest.c.tenant_id)
            & (TenantExport.created_at == newest.c.at),
        )
    )
    return {row.tenant_id: row for row in rows}


def _not_own(principal: Principal, tenant: Tenant, action: str) -> None:
    if tenant.id == principal.tenant_id:
        raise ValidationFailed.single(
            "id",
            f"is the tenant you are signed in to: {action} it would lock you out; "
            "sign in to another tenant first",
        )


async def suspend_tenant(
    session: AsyncSession,
    principal: Principal,
    identities: IdentityCache | None,
    tenant_id: uuid.UUID,
    reason: str | None = None,
) -> Tenant:
    """Suspend a tenant: its people, tokens and agents are refused until it is resumed."""
    principal.require_operator("Suspending a tenant")
    tenant = await get_tenant(session, tenant_id)
    _not_own(principal, tenant, "suspending")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise ValidationFailed.single("reason", f"is longer than {MAX_REASON} characters")
    if tenant.suspended_at is None:
        tenant.suspended_at = datetime.now(UTC)
    tenant.suspension_reason = reason
    record_operator_action(session, principal, "tenant.suspend", tenant, {"reason": reason})
    await session.commit()
    # At once in this process; other processes within CRONTOPUS_AUTH_CACHE_SECONDS.
    if identities is not None:
        identities.forget_tenant(tenant.id)
    return tenant


async def resume_tenant(
    session: AsyncSession,
    principal: Principal,
    identities: IdentityCache | None,
    tenant_id: uuid.UUID,
) -> Tenant:
    """Lift a suspension; the tenant's credentials work again."""
    principal.require_operator("Resuming a tenant")
    tenant = await get_tenant(session, tenant_id)
    was = tenant.suspended_at
    tenant.suspended_at = None
    tenant.suspension_reason = None
    record_operator_action(
        session,
        principal,
        "tenant.resume",
        tenant,
        {"suspendedAt": was.isoformat() if was is not None else None},
    )
    await session.commit()
    if identities is not None:
        identities.forget_tenant(tenant.id)
    return tenant


async def set_tenant_quotas(
    session: AsyncSession,
    principal: Principal,
    identities: IdentityCache | None,
    tenant_id: uuid.UUID,
    limits: Mapping[Quota, int | None],
) -> Tenant:
    """Override some of a tenant's quotas; a limit of None goes back to the server's default."""
    principal.require_operator("Setting a tenant's quotas")
    problems = [
        FieldProblem(
            ("quotas", quota.name),
            f"must be between 0 and {MAX_QUOTA} (null goes back to {quota.setting}); got {limit}",
        )
        for quota, limit in limits.items()
        if limit is not None and not 0 <= limit <= MAX_QUOTA
    ]
    if problems:
        raise ValidationFailed(problems)
    tenant = await get_tenant(session, tenant_id)
    before = dict(tenant.quota_overrides or {})
    after = dict(before)
    for quota, limit in limits.items():
        if limit is None:
            after.pop(quota.field, None)
        else:
            after[quota.field] = limit
    tenant.quota_overrides = after or None
    record_operator_action(
        session, principal, "tenant.quotas", tenant, {"before": before, "after": after}
    )
    await session.commit()
    if identities is not None:
        identities.forget_tenant(tenant.id)
    return tenant
