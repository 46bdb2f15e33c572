"""GraphQL subscription `jobEvents`: every commit's job changes, API and `git push` alike."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from crontopus.server.events.codec import read_event
from crontopus.server.events.topics import JobChanged
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.groups import SHARED
from crontopus.server.graphql.jobs.types import JobEvent, JobEventKind


@strawberry.type
class JobSubscriptions:
    @strawberry.subscription(
        description="Jobs created, updated or deleted, as commits land.", metadata=SHARED
    )
    async def job_events(self, info: Info) -> AsyncGenerator[JobEvent, None]:
        principal = info.context.require_principal()
        principal.require_read("Watching jobs")
        events = info.context.broadcaster.subscribe(principal.tenant_id, JobChanged.TOPIC)
        async for event in events:
            changed = read_event(event, JobChanged)
            yield JobEvent(
                kind=JobEventKind(changed.kind.value),
                job_id=changed.job_id,
                path=changed.path,
                commit_id=changed.commit_id,
            )
