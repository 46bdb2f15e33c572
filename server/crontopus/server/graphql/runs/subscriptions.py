"""GraphQL subscription `runEvents`: runs as they start and finish, coalesced per subscriber."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from crontopus.server.events.codec import read_event
from crontopus.server.events.topics import RunChanged
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.groups import SHARED
from crontopus.server.graphql.runs.types import Run, RunEvent, RunEventKind, RunFilter


def _matches(run: Run, where: RunFilter | None) -> bool:
    if where is None:
        return True
    checks = (
        (where.job_id, run.job_id),
        (where.namespace, run.namespace),
        (where.job_name, run.job_name),
        (where.endpoint_id, run.endpoint_id),
        (where.status, run.status),
    )
    if where.job_name_contains and where.job_name_contains.casefold() not in (
        (run.job_name or "").casefold()
    ):
        return False
    return all(wanted is None or wanted == actual for wanted, actual in checks)


@strawberry.type
class RunSubscriptions:
    @strawberry.subscription(
        description="Runs starting and finishing, filtered like `runs`; bursts arrive together.",
        metadata=SHARED,
    )
    async def run_events(
        self, info: Info, filter: RunFilter | None = None
    ) -> AsyncGenerator[list[RunEvent], None]:
        principal = info.context.require_principal()
        principal.require_read("Watching runs")
        source = info.context.broadcaster.subscribe(principal.tenant_id, RunChanged.TOPIC)
        async for batch in info.context.coalesce(source):
            events = []
            for event in batch:
                changed = read_event(event, RunChanged)
                run = Run.from_event(changed)
                if _matches(run, filter):
                    events.append(RunEvent(kind=RunEventKind(changed.kind.value), run=run))
            if events:
                yield events
