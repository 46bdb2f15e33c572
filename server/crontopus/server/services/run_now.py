"""Run a job now: ask the agents of its endpoints, over their channels, to run it once.

The agent runs the job through its wrapper, as the scheduler would (the job's concurrency
policy holds), and marks the run `MANUAL`. A request reaches only agents that are online now;
an offline endpoint is named in the answer instead of being queued, so that a machine coming
back hours later does not run a job nobody is waiting for any more (docs/agent-protocol.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.errors import Conflict, NotFound, ValidationFailed
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.gitstore import GitStore
from crontopus.server.gitstore.model import JobEntry
from crontopus.server.security.principal import Principal
from crontopus.server.services.audit import record_audit
from crontopus.server.services.channel import request_runs
from crontopus.server.services.jobs import get_job
from crontopus.server.services.presence import is_online
from crontopus.server.settings import Settings

#: Endpoints one request may name (a job targeting more is run by leaving endpointIds out).
MAX_ENDPOINTS = 1000


@dataclass(frozen=True)
class RunRequest:
    """What `runJobNow` did: the agents asked, and the endpoints skipped as offline."""

    id: uuid.UUID
    job: JobEntry
    asked: Sequence[Endpoint]
    offline: Sequence[Endpoint]


async def run_job_now(
    session: AsyncSession,
    store: GitStore,
    broadcaster: Broadcaster,
    settings: Settings,
    principal: Principal,
    job_id: uuid.UUID,
    endpoint_ids: Sequence[uuid.UUID] | None = None,
) -> RunRequest:
    """Ask the online endpoints running a job (or those named) to run it now."""
    principal.require_write("Running a job now")
    entry = await get_job(store, principal, job_id)
    manifest = entry.manifest
    label = f"{manifest.namespace}/{manifest.name}"
    if manifest.is_discovered:
        raise ValidationFailed.single(
            "jobId",
            f"{label} is an entry found on a machine: adopt it into a namespace (adoptJob)"
            " before running it from Crontopus",
        )
    if not manifest.active:
        state = "disabled" if not manifest.enabled else "paused"
        action = "enable" if not manifest.enabled else "resume"
        raise ValidationFailed.single(
            "jobId", f"{label} is {state}, so no agent holds it: {action} it, then run it now"
        )
    targets = dict(manifest.targets.labels)
    if endpoint_ids is None:
        rows = await session.scalars(
            select(Endpoint)
            .where(Endpoint.tenant_id == principal.tenant_id, Endpoint.revoked_at.is_(None))
            .order_by(Endpoint.name, Endpoint.id)
        )
        chosen = [e for e in rows if manifest.targets.matches(e.labels)]
        if not chosen:
            raise ValidationFailed.single(
                "jobId",
                f"{label} targets no endpoint (its target labels {targets or '{}'} match none):"
                " enroll one or change the job's targets",
            )
    else:
        chosen = await _named(session, principal, endpoint_ids)
        for endpoint in chosen:
            if not manifest.targets.matches(endpoint.labels):
                raise ValidationFailed.single(
                    "endpointIds",
                    f"{label} does not run on {endpoint.name}: its target labels {targets}"
                    f" do not match the endpoint's labels {dict(endpoint.labels)}",
                )
    now = utcnow()
    online = [e for e in chosen if is_online(e.last_seen_at, now, settings.offline_after)]
    offline = [e for e in chosen if e not in online]
    if not online:
        names = ", ".join(e.name for e in offline[:10])
        raise Conflict(
            f"{label} was not run: every endpoint it would run on is offline ({names}); a run"
            " request is not kept for later, ask again once the agent is back online"
        )
    request_id = uuid.uuid4()
    record_audit(
        session,
        principal,
        "job.run",
        f"job:{label}",
        {
            "jobId": str(manifest.id),
            "requestId": str(request_id),
            "endpoints": [e.name for e in online],
            "offline": [e.name for e in offline],
        },
    )
    await session.commit()
    await request_runs(
        broadcaster, principal.tenant_id, manifest.id, request_id, [e.id for e in online]
    )
    return RunRequest(request_id, entry, online, offline)


async def _named(
    session: AsyncSession, principal: Principal, endpoint_ids: Sequence[uuid.UUID]
) -> list[Endpoint]:
    wanted = list(dict.fromkeys(endpoint_ids))
    if not wanted:
        raise ValidationFailed.single(
            "endpointIds",
            "is empty: name at least one endpoint, or leave it out to run the job"
            " on every endpoint it targets",
        )
    if len(wanted) > MAX_ENDPOINTS:
        raise ValidationFailed.single(
            "endpointIds",
            f"names {len(wanted)} endpoints, more than {MAX_ENDPOINTS}: leave it out to run the"
            " job on every endpoint it targets",
        )
    rows = await session.scalars(
        select(Endpoint).where(Endpoint.tenant_id == principal.tenant_id, Endpoint.id.in_(wanted))
    )
    found = {endpoint.id: endpoint for endpoint in rows}
    chosen = []
    for endpoint_id in wanted:
        endpoint = found.get(endpoint_id)
        if endpoint is None:
            raise NotFound(f"no endpoint with id {endpoint_id}")
        if endpoint.revoked_at is not None:
            raise ValidationFailed.single(
                "endpointIds", f"{endpoint.name} is revoked: its agent no longer runs jobs"
            )
        chosen.append(endpoint)
    return chosen
