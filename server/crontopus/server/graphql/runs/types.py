"""GraphQL types for runs."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

import strawberry

from crontopus.core.enums import RunStatus as CoreRunStatus
from crontopus.core.enums import RunTrigger as CoreRunTrigger
from crontopus.server.db.models import Run as RunModel
from crontopus.server.events.topics import RunChanged
from crontopus.server.graphql.context import Info
from crontopus.server.services.checkins import RunState
from crontopus.server.services.stuck import is_stuck

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(CoreRunStatus, name="RunStatus", description="Where a run stands.")
RunStatus = CoreRunStatus
strawberry.enum(
    CoreRunTrigger,
    name="RunTrigger",
    description="What started a run: its schedule, or someone asking to run it now (runJobNow).",
)
RunTrigger = CoreRunTrigger


@strawberry.type(description="One execution of a job on an endpoint.")
class Run:
    id: uuid.UUID
    job_id: uuid.UUID
    job_name: str | None
    namespace: str | None
    endpoint_id: uuid.UUID | None
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    exit_code: int | None
    output: str | None = strawberry.field(
        description="The output's tail (at most 64 KiB); null in live events — query `run`."
    )
    output_truncated: bool
    commit_id: str | None
    unknown_job: bool = strawberry.field(
        description="No job with this id was in Git when the run arrived."
    )
    trigger: RunTrigger = strawberry.field(
        description="SCHEDULE, or MANUAL for a run someone asked for with runJobNow."
    )

    @strawberry.field(
        description="Still RUNNING well past what is normal for its job: its maxDuration or "
        "timeout, else the server's default, else a multiple of its recent p95 duration."
    )
    async def stuck(self, info: Info) -> bool:
        if self.status != CoreRunStatus.RUNNING.value:
            return False
        from crontopus.server.graphql.endpoints.loaders import fleet_loaders

        limit = await fleet_loaders(info.context).run_limits.load(self.job_id)
        return is_stuck(self.started_at, limit, datetime.now(UTC))

    @classmethod
    def from_model(cls, run: RunModel | RunState, *, output: bool = True) -> Run:
        return cls(
            id=run.id,
            job_id=run.job_id,
            job_name=run.job_name,
            namespace=run.namespace,
            endpoint_id=run.endpoint_id,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_ms=run.duration_ms,
            exit_code=run.exit_code,
            output=run.output if output else None,
            output_truncated=run.output_truncated,
            commit_id=run.commit_id,
            unknown_job=run.unknown_job,
            trigger=run.trigger,
        )

    @classmethod
    def from_event(cls, changed: RunChanged) -> Run:
        return cls(
            id=changed.id,
            job_id=changed.job_id,
            job_name=changed.job_name,
            namespace=changed.namespace,
            endpoint_id=changed.endpoint_id,
            status=changed.status,
            started_at=changed.started_at,
            finished_at=changed.finished_at,
            duration_ms=changed.duration_ms,
            exit_code=changed.exit_code,
            output=None,
            output_truncated=False,
            commit_id=None,
            unknown_job=changed.unknown_job,
            trigger=changed.trigger,
        )


@strawberry.input(description="Which runs to return; given fields combine with AND.")
class RunFilter:
    job_id: uuid.UUID | None = None
    namespace: str | None = None
    job_name: str | None = None
    job_name_contains: str | None = strawberry.field(
        default=None,
        description="Part of the job's name, any case: `back` finds backup-db and db-backup.",
    )
    endpoint_id: uuid.UUID | None = None
    status: RunStatus | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.enum(description="What a check-in reports.")
class CheckInEvent(enum.Enum):
    START = "start"
    SUCCESS = "success"
    FAILURE = "fail"
    TIMEOUT = "timeout"


@strawberry.input(description="A start or finish report of one run.")
class CheckInInput:
    run_id: uuid.UUID = strawberry.field(description="Made by the reporter; repeats are safe.")
    job_id: uuid.UUID
    event: CheckInEvent
    exit_code: int | None = None
    duration_ms: int | None = None
    output: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    commit_id: str | None = None


@strawberry.enum
class RunEventKind(enum.Enum):
    STARTED = "started"
    FINISHED = "finished"


@strawberry.type(description="A run started or finished.")
class RunEvent:
    kind: RunEventKind
    run: Run
