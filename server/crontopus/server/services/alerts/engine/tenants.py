"""What an evaluation needs to know about one tenant: its jobs, defaults and quiet times."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import AlertDefaults, Tenant
from crontopus.server.gitstore import GitStore
from crontopus.server.services.alerts.engine.quiet import Quiet, load_quiet
from crontopus.server.services.alerts.engine.rules import TenantDefaults

#: Returns a tenant's jobs (by id) at its repository's HEAD.
JobSource = Callable[[str], Awaitable[Mapping[uuid.UUID, JobManifest]]]


@dataclass(frozen=True)
class TenantView:
    tenant_id: uuid.UUID
    slug: str
    jobs: Mapping[uuid.UUID, JobManifest]
    defaults: TenantDefaults
    quiet: Quiet


class GitJobs:
    """A `JobSource` over the Git store, re-reading a tenant only when its HEAD moved."""

    def __init__(self, store: GitStore) -> None:
        self._store = store
        self._cache: dict[str, tuple[str | None, Mapping[uuid.UUID, JobManifest]]] = {}

    async def __call__(self, slug: str) -> Mapping[uuid.UUID, JobManifest]:
        head = await self._store.head(slug)
        cached = self._cache.get(slug)
        if cached is not None and cached[0] == head:
            return cached[1]
        snapshot = await self._store.snapshot(slug, head) if head else None
        jobs = {} if snapshot is None else {i: e.manifest for i, e in snapshot.jobs.items()}
        self._cache[slug] = (head, jobs)
        return jobs


async def load_view(
    session: AsyncSession, jobs: JobSource, tenant_id: uuid.UUID, slug: str, now: datetime
) -> TenantView:
    """Gather a tenant's jobs, alert defaults, snoozes and maintenance windows."""
    defaults = TenantDefaults.from_row(await session.get(AlertDefaults, tenant_id))
    return TenantView(
        tenant_id=tenant_id,
        slug=slug,
        jobs=await jobs(slug),
        defaults=defaults,
        quiet=await load_quiet(session, tenant_id, now),
    )


async def tenant_slugs(session: AsyncSession) -> dict[uuid.UUID, str]:
    """Return the slug by id of every tenant that is not suspended.

    A suspended tenant's agents cannot heartbeat and its check-ins are only kept, so judging
    it would open incidents (offline endpoints, missed runs) that the suspension caused.
    """
    query = select(Tenant.id, Tenant.slug).where(Tenant.suspended_at.is_(None))
    return {row[0]: row[1] for row in await session.execute(query)}
