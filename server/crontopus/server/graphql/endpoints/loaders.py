"""Per-request DataLoaders for the fleet, so lists of jobs or endpoints cost one query each."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from crontopus.core.manifest import JobManifest
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Endpoint, JobInstance
from crontopus.server.graphql.context import Context
from crontopus.server.services import jobs
from crontopus.server.services.alerts.engine.rules import TenantDefaults
from crontopus.server.services.endpoints import list_active_endpoints
from crontopus.server.services.job_status import JobFacts, load_job_facts, tenant_defaults
from crontopus.server.services.stuck import Limit, StuckPolicy, job_limits

#: Returns the tenant's jobs (by id) the caller may read.
Manifests = Callable[[], Awaitable[Mapping[uuid.UUID, JobManifest]]]


@dataclass
class FleetLoaders:
    """Batching loaders bound to one tenant and one request."""

    session: SessionFactory
    tenant_id: uuid.UUID
    manifests: Manifests | None = None
    stuck: StuckPolicy = field(default_factory=StuckPolicy)
    instances_by_job: DataLoader[uuid.UUID, list[JobInstance]] = field(init=False)
    instances_by_endpoint: DataLoader[uuid.UUID, list[JobInstance]] = field(init=False)
    active_endpoints: DataLoader[uuid.UUID, Sequence[Endpoint]] = field(init=False)
    #: Per job: what its status is derived from, with the tenant's alert defaults.
    job_facts: DataLoader[uuid.UUID, tuple[JobFacts, TenantDefaults]] = field(init=False)
    #: Per job: how long its runs may last before they count as stuck.
    run_limits: DataLoader[uuid.UUID, Limit | None] = field(init=False)

    def __post_init__(self) -> None:
        # No caching: a WebSocket connection keeps its context for many operations, and a
        # cache would serve one operation's rows to the next. Batching within one tick is
        # what removes the N+1 queries.
        self.instances_by_job = DataLoader(self._load_by_job, cache=False)
        self.instances_by_endpoint = DataLoader(self._load_by_endpoint, cache=False)
        self.active_endpoints = DataLoader(self._load_active, cache=False)
        self.job_facts = DataLoader(self._load_facts, cache=False)
        self.run_limits = DataLoader(self._load_limits, cache=False)

    async def _load_facts(self, keys: list[uuid.UUID]) -> list[tuple[JobFacts, TenantDefaults]]:
        async with self.session() as session:
            facts = await load_job_facts(session, self.tenant_id, keys)
            defaults = await tenant_defaults(session, self.tenant_id)
        return [(facts[key], defaults) for key in keys]

    async def _load_limits(self, keys: list[uuid.UUID]) -> list[Limit | None]:
        known = await self.manifests() if self.manifests is not None else {}
        wanted = {key: known.get(key) for key in keys}
        async with self.session() as session:
            defaults = await tenant_defaults(session, self.tenant_id)
            limits = await job_limits(session, self.tenant_id, wanted, defaults, self.stuck)
        return [limits.get(key) for key in keys]

    async def _load_active(self, keys: list[uuid.UUID]) -> list[Sequence[Endpoint]]:
        async with self.session() as session:
            endpoints = await list_active_endpoints(session, self.tenant_id)
        return [endpoints for _ in keys]

    async def _instances(
        self, column: str, keys: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[JobInstance]]:
        key_column = getattr(JobInstance, column)
        grouped: dict[uuid.UUID, list[JobInstance]] = defaultdict(list)
        async with self.session() as session:
            rows = await session.scalars(
                select(JobInstance).where(
                    JobInstance.tenant_id == self.tenant_id, key_column.in_(list(keys))
                )
            )
            for row in rows:
                grouped[getattr(row, column)].append(row)
        return grouped

    async def _load_by_job(self, keys: list[uuid.UUID]) -> list[list[JobInstance]]:
        grouped = await self._instances("job_id", keys)
        return [grouped.get(key, []) for key in keys]

    async def _load_by_endpoint(self, keys: list[uuid.UUID]) -> list[list[JobInstance]]:
        grouped = await self._instances("endpoint_id", keys)
        return [grouped.get(key, []) for key in keys]


def fleet_loaders(context: Context) -> FleetLoaders:
    """Return this request's fleet loaders, creating them on first use."""
    principal = context.require_principal()
    loaders = context.fleet_loaders
    if loaders is None:

        async def manifests() -> Mapping[uuid.UUID, JobManifest]:
            view = await jobs.readable_jobs(context.gitstore, principal)
            return {job_id: entry.manifest for job_id, entry in view.jobs.items()}

        loaders = FleetLoaders(
            context.session,
            principal.tenant_id,
            manifests,
            StuckPolicy.from_settings(context.settings),
        )
        context.fleet_loaders = loaders
    return loaders
