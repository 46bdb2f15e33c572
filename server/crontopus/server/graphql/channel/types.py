"""GraphQL types of the agent channel."""

from __future__ import annotations

import uuid

import strawberry

from crontopus.server.events.topics import AgentEventKind as CoreAgentEventKind
from crontopus.server.graphql.endpoints.types import Endpoint
from crontopus.server.graphql.jobs.types import Job

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(
    CoreAgentEventKind,
    name="AgentEventKind",
    description=(
        "CONNECTED (first, with the repository's HEAD), REPOSITORY_CHANGED (fetch `commitId`"
        " unless already applied), RUN_REQUESTED (run `jobId` now), REVOKED (stop using the"
        " token), LABELS_CHANGED (the endpoint's labels changed: heartbeat for them, then"
        " sync)."
    ),
)
AgentEventKind = CoreAgentEventKind


@strawberry.type(description="Something the agent of this endpoint is told over its channel.")
class AgentEvent:
    kind: AgentEventKind
    commit_id: str | None = strawberry.field(
        default=None, description="The repository's new HEAD (CONNECTED, REPOSITORY_CHANGED)."
    )
    job_id: uuid.UUID | None = strawberry.field(
        default=None, description="The job to run now (RUN_REQUESTED)."
    )
    request_id: uuid.UUID | None = strawberry.field(
        default=None, description="The runJobNow request, as the audit log names it."
    )


@strawberry.type(description="A runJobNow request: the endpoints asked, and those skipped.")
class RunJobNowPayload:
    request_id: uuid.UUID = strawberry.field(description="As the audit log's job.run names it.")
    job: Job
    endpoints: list[Endpoint] = strawberry.field(description="Asked to run the job now.")
    offline: list[Endpoint] = strawberry.field(
        description="Targeted but offline: not asked (a request is not kept for later)."
    )
