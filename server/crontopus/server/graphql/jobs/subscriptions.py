"""GraphQL subscription `jobEvents`: every commit's job changes, API and `git push` alike."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.groups import SHARED
from crontopus.server.graphql.jobs.types import JobEvent, JobEventKind
from crontopus.server.services.jobs import JOB_EVENTS


@strawberry.type
class JobSubscriptions:
    @strawberry.subscription(
        description="Jobs created, updated or deleted, as commits land.", metadata=SHARED
    )
    async def job_events(self, info: Info) -> AsyncGenerator[JobEvent, None]:
        principal = info.context.require_principal()
        principal.require_read("Watching jobs")
        async for event in info.context.broadcaster.subscribe(principal.tenant_id, JOB_EVENTS):
            yield JobEvent(
                kind=JobEventKind(event.data["kind"]),
                job_id=event.data["job_id"],
                path=event.data["path"],
                commit_id=event.data["commit_id"],
            )
