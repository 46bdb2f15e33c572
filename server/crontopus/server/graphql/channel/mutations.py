"""GraphQL mutation `runJobNow`: ask agents, over their channels, to run a job once now."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.db.types import utcnow
from crontopus.server.graphql.channel.types import RunJobNowPayload
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.types import Endpoint
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.jobs.types import Job
from crontopus.server.services.run_now import run_job_now

RunJobNowResult = Annotated[RunJobNowPayload | UserErrors, strawberry.union("RunJobNowResult")]


@strawberry.type
class ChannelMutations:
    @strawberry.mutation(
        description=(
            "Run a job once now on the endpoints it targets (or on `endpointIds`): each online"
            " agent runs it through its wrapper as a MANUAL run; offline endpoints are skipped."
        ),
        extensions=[ServiceErrors()],
    )
    async def run_job_now(
        self, info: Info, job_id: uuid.UUID, endpoint_ids: list[uuid.UUID] | None = None
    ) -> RunJobNowResult:
        context = info.context
        async with context.session() as session:
            request = await run_job_now(
                session,
                context.gitstore,
                context.broadcaster,
                context.settings,
                context.require_principal(),
                job_id,
                endpoint_ids,
            )
        now = utcnow()
        return RunJobNowPayload(
            request_id=request.id,
            job=Job.from_entry(request.job),
            endpoints=[Endpoint.from_model(e, context.settings, now) for e in request.asked],
            offline=[Endpoint.from_model(e, context.settings, now) for e in request.offline],
        )
