"""GraphQL types for enrollment tokens, endpoints, job instances and discovery."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from crontopus.core.enums import EndpointStatus as CoreEndpointStatus
from crontopus.core.enums import JobSource as CoreJobSource
from crontopus.server.db import models
from crontopus.server.db.types import utcnow
from crontopus.server.errors import FieldProblem, ValidationFailed
from crontopus.server.events import topics
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.loaders import fleet_loaders
from crontopus.server.graphql.jobs.types import Job
from crontopus.server.graphql.keyvalues import KeyValue, KeyValueInput, key_values
from crontopus.server.graphql.pagination import page_size
from crontopus.server.services import discovery, endpoints, instances, jobs
from crontopus.server.settings import Settings

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(
    CoreEndpointStatus,
    name="EndpointStatus",
    description="ONLINE: heartbeat within 3 intervals; OFFLINE: none since; REVOKED: token dead.",
)
EndpointStatus = CoreEndpointStatus
strawberry.enum(
    CoreJobSource, name="JobSource", description="Whether Crontopus manages a job or found it."
)
JobSource = CoreJobSource
strawberry.enum(
    instances.InstanceState,
    name="JobInstanceState",
    description="What an endpoint's scheduler does with a job it holds.",
)
InstanceState = instances.InstanceState
strawberry.enum(
    instances.DriftReason,
    name="DriftReason",
    description="Why what an endpoint holds differs from what Git says.",
)
DriftReason = instances.DriftReason
strawberry.enum(
    discovery.DiscoveryOutcome,
    name="DiscoveryOutcome",
    description="What the server did with one reported foreign entry.",
)
DiscoveryOutcome = discovery.DiscoveryOutcome
strawberry.enum(
    topics.EndpointEventKind,
    name="EndpointEventKind",
    description="What happened to an endpoint.",
)
EndpointEventKind = topics.EndpointEventKind


@strawberry.type(description="A token agents enroll with; the secret itself is never shown again.")
class EnrollmentToken:
    id: uuid.UUID
    name: str
    hint: str = strawberry.field(description="The last four characters, to tell tokens apart.")
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    max_uses: int | None = strawberry.field(description="null: any number of enrollments.")
    use_count: int
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, token: models.EnrollmentToken) -> EnrollmentToken:
        return cls(
            id=token.id,
            name=token.name,
            hint=token.hint,
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            max_uses=token.max_uses,
            use_count=token.use_count,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


@strawberry.type(description="A new enrollment token and its plaintext, shown this once only.")
class CreatedEnrollmentToken:
    token: EnrollmentToken
    plaintext: str


@strawberry.type(description="A machine running the Crontopus agent.")
class Endpoint:
    id: uuid.UUID
    name: str
    hostname: str
    platform: str
    machine_id: str
    agent_version: str
    driver: str | None = strawberry.field(description="The driver the agent reconciles with.")
    drivers: list[str] = strawberry.field(description="Drivers available on the machine.")
    labels: list[KeyValue] = strawberry.field(description="Jobs select endpoints by these.")
    status: EndpointStatus
    enrolled_at: datetime
    last_seen_at: datetime | None
    applied_commit: str | None = strawberry.field(
        description="The Git commit the agent last applied to the machine."
    )
    revoked_at: datetime | None
    row: strawberry.Private[models.Endpoint]

    @strawberry.field(
        description="Jobs the endpoint holds or that Git targets at it, by path, with drift."
    )
    async def jobs(self, info: Info, first: int = 100) -> list[EndpointJob]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        reported = await fleet_loaders(info.context).instances_by_endpoint.load(self.id)
        view = await jobs.snapshot(info.context.gitstore, principal)
        rows = instances.rows_for_endpoint(self.row, reported, view)[:first]
        result = []
        for row in rows:
            entry = view.job(row.job_id)
            job = Job.from_entry(entry) if entry is not None else None
            result.append(EndpointJob.from_row(row, self, job))
        return result

    @classmethod
    def from_model(
        cls, endpoint: models.Endpoint, settings: Settings, now: datetime | None = None
    ) -> Endpoint:
        return cls(
            id=endpoint.id,
            name=endpoint.name,
            hostname=endpoint.hostname,
            platform=endpoint.platform,
            machine_id=endpoint.machine_id,
            agent_version=endpoint.agent_version,
            driver=endpoint.driver,
            drivers=list(endpoint.drivers),
            labels=key_values(endpoint.labels),
            status=endpoints.endpoint_status(endpoint, settings, now or utcnow()),
            enrolled_at=endpoint.enrolled_at,
            last_seen_at=endpoint.last_seen_at,
            applied_commit=endpoint.applied_commit,
            revoked_at=endpoint.revoked_at,
            row=endpoint,
        )


@strawberry.type(
    description="One job on one endpoint: what the endpoint reports and whether Git agrees."
)
class EndpointJob:
    endpoint: Endpoint
    job_id: uuid.UUID
    job: Job | None = strawberry.field(description="null when no such job exists in Git at HEAD.")
    state: InstanceState | None = strawberry.field(
        description="null when the endpoint does not report the job."
    )
    driver: str | None
    source: JobSource | None
    reported_at: datetime | None
    drift: bool = strawberry.field(description="True when the endpoint and Git disagree.")
    drift_reason: DriftReason | None
    failure_reason: str | None = strawberry.field(
        default=None,
        description="Why the endpoint could not install the job (state FAILED), in the words "
        "of its scheduler driver, e.g. a time zone the machine's cron cannot run.",
    )

    @classmethod
    def from_row(
        cls, row: instances.EndpointJobRow, endpoint: Endpoint, job: Job | None
    ) -> EndpointJob:
        instance = row.instance
        return cls(
            endpoint=endpoint,
            job_id=row.job_id,
            job=job,
            state=instances.InstanceState(instance.state) if instance else None,
            driver=instance.driver if instance else None,
            source=CoreJobSource(instance.source) if instance else None,
            reported_at=instance.reported_at if instance else None,
            drift=row.drift is not None,
            drift_reason=row.drift,
            failure_reason=instance.failure_reason if instance else None,
        )


async def endpoints_of_job(info: Info, job: Job, first: int) -> list[EndpointJob]:
    """Resolve `Job.endpoints`: endpoints holding the job or targeted by it, by name."""
    principal = info.context.require_principal()
    first = page_size(first, info.context.settings.limits.max_page_size)
    loaders = fleet_loaders(info.context)
    reported = await loaders.instances_by_job.load(job.id)
    active = await loaders.active_endpoints.load(principal.tenant_id)
    view = await jobs.snapshot(info.context.gitstore, principal)
    entry = view.job(job.id)
    if principal.endpoint_id is not None:
        # An agent learns nothing of the other machines a job runs on.
        active = [e for e in active if e.id == principal.endpoint_id]
        reported = [i for i in reported if i.endpoint_id == principal.endpoint_id]
    rows = instances.rows_for_job(job.id, entry.manifest if entry else None, reported, active)
    now, settings = utcnow(), info.context.settings
    return [
        EndpointJob.from_row(row, Endpoint.from_model(row.endpoint, settings, now), job)
        for row in rows[:first]
    ]


@strawberry.type(description="The enrolled endpoint and its token, shown this once only.")
class EnrolledEndpoint:
    endpoint: Endpoint
    endpoint_token: str = strawberry.field(
        description="Send it as `Authorization: Bearer …`; store it with mode 0600."
    )
    reused: bool = strawberry.field(
        description="True when this machine id was enrolled before; its old token is dead now."
    )
    heartbeat_interval_seconds: int


@strawberry.type(
    description="This machine id was enrolled before and gave no proof (its endpoint's current "
    "token), or its endpoint was revoked: an admin must approve the request. The token starts "
    "working once they do."
)
class EnrollmentPending:
    id: uuid.UUID
    machine_id: str
    endpoint_token: str = strawberry.field(
        description="Keep it (mode 0600): it becomes the endpoint's token on approval."
    )
    message: str


@strawberry.type(description="A known machine enrolling again without proof, awaiting an admin.")
class PendingEnrollment:
    id: uuid.UUID
    endpoint: Endpoint = strawberry.field(description="The endpoint as it stands now.")
    machine_id: str
    name: str
    hostname: str
    platform: str
    agent_version: str
    labels: list[KeyValue]
    enrollment_token: str = strawberry.field(description="The name of the token it enrolled with.")
    requested_from: str = strawberry.field(description="The client address of the request.")
    requested_at: datetime

    @classmethod
    def from_model(
        cls, pending: models.PendingEnrollment, endpoint: models.Endpoint, settings: Settings
    ) -> PendingEnrollment:
        return cls(
            id=pending.id,
            endpoint=Endpoint.from_model(endpoint, settings),
            machine_id=pending.machine_id,
            name=pending.name,
            hostname=pending.hostname,
            platform=pending.platform,
            agent_version=pending.agent_version,
            labels=key_values(pending.labels),
            enrollment_token=pending.enrollment_token,
            requested_from=pending.requested_from,
            requested_at=pending.requested_at,
        )


def labels_of(items: list[KeyValueInput], path: tuple[str, ...]) -> dict[str, str]:
    """Turn key/value input into a mapping; a key given twice is a validation error."""
    result: dict[str, str] = {}
    for item in items:
        if item.key in result:
            raise ValidationFailed([FieldProblem(path, f"label {item.key!r} is given twice")])
        result[item.key] = item.value
    return result


@strawberry.input(description="Which endpoints to list; the fields combine with AND.")
class EndpointFilter:
    status: EndpointStatus | None = None
    platform: str | None = None
    search: str | None = strawberry.field(
        default=None, description="Part of the name or host name, any case."
    )
    label: list[KeyValueInput] = strawberry.field(
        default_factory=list,
        description="Endpoints carrying all of these labels (one object is accepted too).",
    )


@strawberry.input(description="What an agent reports with every heartbeat.")
class HeartbeatInput:
    agent_version: str
    driver: str | None = None
    applied_commit: str | None = None


@strawberry.input(description="One job the endpoint's scheduler holds.")
class JobInstanceInput:
    job_id: uuid.UUID
    driver: str
    state: InstanceState
    source: JobSource = CoreJobSource.MANAGED
    failure_reason: str | None = strawberry.field(
        default=None,
        description="For state FAILED: why the job could not be installed (the driver's "
        "refusal), at most 2,000 characters.",
    )


@strawberry.type(description="How a report changed what the endpoint is known to hold.")
class JobInstanceReport:
    added: int
    updated: int
    removed: int = strawberry.field(description="Held before, not reported now (drift).")
    total: int


@strawberry.input(description="A scheduler entry the agent found and does not manage.")
class DiscoveredJobInput:
    schedule: str
    command: str
    user: str
    driver: str
    fingerprint: str = strawberry.field(
        description="Stable hash of the entry (schedule, command, user); 8-64 characters."
    )
    timezone: str | None = strawberry.field(
        default=None, description="The zone the entry fires in (default UTC)."
    )


@strawberry.type(description="What became of one reported entry.")
class DiscoveredJobResult:
    fingerprint: str
    outcome: DiscoveryOutcome
    job_id: uuid.UUID | None
    path: str | None
    message: str | None = strawberry.field(description="Why the entry was skipped.")

    @classmethod
    def from_result(cls, result: discovery.DiscoveryResult) -> DiscoveredJobResult:
        return cls(
            fingerprint=result.fingerprint,
            outcome=result.outcome,
            job_id=result.job_id,
            path=result.path,
            message=result.message,
        )


@strawberry.type(description="The outcome of a discovery report, one result per entry.")
class DiscoveredJobsReport:
    results: list[DiscoveredJobResult]
    commit_id: str | None = strawberry.field(description="The commit that added new jobs.")


@strawberry.type(description="An endpoint enrolled, came online, went offline or was revoked.")
class EndpointEvent:
    kind: EndpointEventKind
    endpoint_id: uuid.UUID
    name: str
    occurred_at: datetime
