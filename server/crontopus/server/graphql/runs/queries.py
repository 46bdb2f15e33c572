"""GraphQL queries: `runs` and `run`."""

from __future__ import annotations

import uuid

import strawberry

from crontopus.server.errors import NotFound
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_time_cursor,
    page_size,
    time_key,
)
from crontopus.server.graphql.runs.types import Run, RunFilter
from crontopus.server.services import runs


def to_filter(where: RunFilter | None) -> runs.RunFilter:
    if where is None:
        return runs.RunFilter()
    return runs.RunFilter(
        job_id=where.job_id,
        namespace=where.namespace,
        job_name=where.job_name,
        job_name_contains=where.job_name_contains,
        endpoint_id=where.endpoint_id,
        status=where.status,
        since=where.since,
        until=where.until,
    )


@strawberry.type
class RunQueries:
    @strawberry.field(description="Runs, newest first, paged with keyset cursors.")
    async def runs(
        self,
        info: Info,
        filter: RunFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Run]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        async with info.context.session() as session:
            rows = await runs.list_runs(
                session, principal, to_filter(filter), first, decode_time_cursor(after)
            )
        return build_connection(rows, first, Run.from_model, time_key("started_at"))

    @strawberry.field(description="One run with its output tail.")
    async def run(self, info: Info, id: uuid.UUID) -> Run | None:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                return Run.from_model(await runs.get_run(session, principal, id))
            except NotFound:
                return None
