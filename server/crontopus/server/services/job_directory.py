"""Job id → (namespace, name), per tenant, for stamping runs at ingest without Git I/O."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crontopus.core.job import Targets
from crontopus.server.gitstore import GitStore
from crontopus.server.singleflight import SingleFlight


@dataclass(frozen=True)
class JobLabel:
    namespace: str
    name: str
    #: Which endpoints run the job; a discovered entry is run by no agent's wrapper.
    targets: Targets = field(default_factory=Targets)
    discovered: bool = False

    def runs_on(self, endpoint_labels: Mapping[str, str]) -> bool:
        """Tell whether an endpoint with these labels is meant to run the job."""
        return not self.discovered and self.targets.matches(endpoint_labels)


class JobDirectory:
    """The jobs of each tenant at a recent HEAD, refreshed at most every `max_age` seconds.

    Check-ins arrive thousands of times a second; reading HEAD for each would put Git
    on the hot path. A job created a moment ago may be missing for up to `max_age`:
    such runs are stored and flagged `unknownJob`, then stamped on their next check-in.
    When an entry expires, the check-ins in flight share one read of HEAD.
    """

    def __init__(
        self, store: GitStore, max_age: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._max_age = max_age
        self._clock = clock
        self._tenants: dict[str, tuple[float, dict[uuid.UUID, JobLabel]]] = {}
        self._reads: SingleFlight[str, tuple[float, dict[uuid.UUID, JobLabel]]] = SingleFlight()
        # Bumped by `forget`: a read that began before a commit must not be kept as fresh.
        self._generations: dict[str, int] = {}

    async def lookup(self, tenant_slug: str, job_id: uuid.UUID) -> JobLabel | None:
        """Return where a job lives, or None when HEAD has no such job."""
        cached = self._tenants.get(tenant_slug)
        now = self._clock()
        if (
            cached is None
            or now - cached[0] > self._max_age
            or (job_id not in cached[1] and now - cached[0] > 0.2)
        ):
            cached = await self._reads.run(tenant_slug, lambda: self._read(tenant_slug))
        return cached[1].get(job_id)

    async def _read(self, tenant_slug: str) -> tuple[float, dict[uuid.UUID, JobLabel]]:
        generation = self._generations.get(tenant_slug, 0)
        read_at = self._clock()
        snapshot = await self._store.snapshot(tenant_slug)
        jobs = {
            job_id: JobLabel(
                entry.manifest.namespace,
                entry.manifest.name,
                entry.manifest.targets,
                entry.manifest.is_discovered,
            )
            for job_id, entry in snapshot.jobs.items()
        }
        if self._generations.get(tenant_slug, 0) == generation:
            self._tenants[tenant_slug] = (read_at, jobs)
        return read_at, jobs

    def forget(self, tenant_slug: str) -> None:
        """Drop a tenant's entry after a commit so the next lookup reads the new HEAD."""
        self._tenants.pop(tenant_slug, None)
        self._generations[tenant_slug] = self._generations.get(tenant_slug, 0) + 1
