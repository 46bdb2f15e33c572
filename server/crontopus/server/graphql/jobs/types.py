"""GraphQL types for jobs, namespaces, the repository and job history."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from crontopus.core.alerts import Alerts
from crontopus.core.describe import describe_schedule
from crontopus.core.enums import JobStatus as CoreJobStatus
from crontopus.core.manifest import JobManifest, Problem, SchedulerOptions
from crontopus.core.schedule import next_fire_times
from crontopus.server.gitstore import HistoryEntry, JobEntry, NamespaceInfo
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.keyvalues import KeyValue, KeyValueInput, key_values

if TYPE_CHECKING:
    from crontopus.server.graphql.endpoints.types import EndpointJob
    from crontopus.server.graphql.runs.types import Run

MAX_NEXT_RUNS = 100

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(
    CoreJobStatus,
    name="JobStatus",
    description="Whether a job is doing what its schedule says: NEW (never reported), UP, "
    "LATE (a fire time passed with no start, within its grace time), DOWN (a run was "
    "missed), FAILING (its last run failed or a failure alert is open), PAUSED.",
)
JobStatus = CoreJobStatus


@strawberry.enum(description="How overlapping runs of one job are handled.")
class Concurrency(enum.Enum):
    ALLOW = "allow"
    FORBID = "forbid"


@strawberry.type(description="One problem in one manifest: the file, the field path and the fix.")
class ManifestProblem:
    file: str | None
    path: str
    message: str

    @classmethod
    def from_problem(cls, problem: Problem) -> ManifestProblem:
        return cls(file=problem.file, path=problem.path, message=problem.message)


@strawberry.type(description="Alert when this share of a job's runs over a window failed.")
class FailureRateRule:
    percent: int
    window: int = strawberry.field(description="Seconds the share is taken over.")
    min_runs: int = strawberry.field(description="Fewer runs in the window never alert.")


@strawberry.type(
    description="A job's alert rules as its manifest states them; null takes the tenant default."
)
class JobAlerts:
    on_failure: bool | None
    consecutive_failures: int | None
    failure_rate: FailureRateRule | None
    missed_run: bool | None
    max_duration: int | None = strawberry.field(description="Seconds; a longer run alerts.")
    min_duration: int | None = strawberry.field(description="Seconds; a shorter run alerts.")
    channels: list[str] | None = strawberry.field(
        description="Channel names; null sends to the tenant's default channels."
    )

    @classmethod
    def from_alerts(cls, alerts: Alerts) -> JobAlerts:
        rate = alerts.failure_rate
        return cls(
            on_failure=alerts.on_failure,
            consecutive_failures=alerts.consecutive_failures,
            failure_rate=FailureRateRule(
                percent=rate.percent, window=rate.window, min_runs=rate.min_runs
            )
            if rate
            else None,
            missed_run=alerts.missed_run,
            max_duration=alerts.max_duration,
            min_duration=alerts.min_duration,
            channels=list(alerts.channels) if alerts.channels is not None else None,
        )


@strawberry.type(description="A job's choices about one native scheduler.")
class SchedulerChoices:
    accept_dst_differences: bool = strawberry.field(
        description="Install even where the scheduler's clock-change handling differs from cron's."
    )

    @classmethod
    def from_options(cls, options: SchedulerOptions) -> SchedulerChoices:
        return cls(accept_dst_differences=options.accept_dst_differences)


@strawberry.type(description="A job, read from its manifest in the tenant's Git repository.")
class Job:
    id: uuid.UUID
    name: str
    namespace: str
    labels: list[KeyValue]
    schedule: str
    timezone: str
    command: str
    args: list[str]
    env: list[KeyValue] = strawberry.field(description="Variables with their values as written.")
    secret_env: list[KeyValue] = strawberry.field(
        description="Variables whose values come from the secret store: key is the variable, "
        "value the secret's name (secretRef); the secret's value is never shown."
    )
    enabled: bool
    paused: bool
    timeout: int | None
    grace_time: int
    concurrency: Concurrency
    target_labels: list[KeyValue] = strawberry.field(
        description="Endpoints carrying all of these labels run the job (none: every endpoint)."
    )
    alerts: JobAlerts | None = strawberry.field(
        description="spec.alerts; null when the manifest has none (the tenant defaults apply)."
    )
    systemd: SchedulerChoices = strawberry.field(description="spec.systemd")
    task_scheduler: SchedulerChoices = strawberry.field(description="spec.taskScheduler")
    is_discovered: bool
    path: str = strawberry.field(description="Where the manifest lives in the repository.")
    yaml: str = strawberry.field(description="The manifest exactly as stored in Git.")
    blob_id: str = strawberry.field(
        description="Pass it back as expectedBlobId to update or delete this version."
    )
    manifest: strawberry.Private[JobManifest | None] = None

    @strawberry.field(description="Whether the job is doing what its schedule says.")
    async def status(self, info: Info) -> JobStatus:
        from crontopus.server.graphql.endpoints.loaders import fleet_loaders
        from crontopus.server.services.job_status import job_status

        assert self.manifest is not None
        facts, defaults = await fleet_loaders(info.context).job_facts.load(self.id)
        return job_status(self.manifest, facts, defaults, datetime.now(UTC))

    @strawberry.field(description="The latest run that started (a MISSED run never did).")
    async def last_run(
        self, info: Info
    ) -> Annotated[Run, strawberry.lazy("crontopus.server.graphql.runs.types")] | None:
        from crontopus.server.graphql.endpoints.loaders import fleet_loaders
        from crontopus.server.graphql.runs.types import Run

        facts, _ = await fleet_loaders(info.context).job_facts.load(self.id)
        return Run.from_model(facts.last_run, output=False) if facts.last_run else None

    @strawberry.field(description="When the job is next expected to run; null if paused or never.")
    def next_run_at(self) -> datetime | None:
        if not self.enabled or self.paused:
            return None
        upcoming = next_fire_times(self.schedule, self.timezone, datetime.now(UTC), 1)
        return upcoming[0] if upcoming else None

    @strawberry.field(description='The schedule in words: "at 02:30 every day, Europe/Berlin".')
    def schedule_description(self) -> str:
        return describe_schedule(self.schedule, self.timezone)

    @strawberry.field(
        description="Where a script reports this job's runs: POST <url>/start, then "
        "<url>/<exit code>, with ?rid=<run uuid> and a token that may check in."
    )
    def checkin_url(self, info: Info) -> str:
        context = info.context
        base = context.settings.public_url or str(context.request.base_url)
        return f"{base.rstrip('/')}/checkin/{self.id}"

    @strawberry.field(description="The next fire times in the job's time zone (at most 100).")
    def next_runs(self, count: int = 5) -> list[datetime]:
        count = max(1, min(count, MAX_NEXT_RUNS))
        return next_fire_times(self.schedule, self.timezone, datetime.now(UTC), count)

    @strawberry.field(
        description="Endpoints that hold this job or that its targets select, by name, with drift."
    )
    async def endpoints(
        self, info: Info, first: int = 100
    ) -> list[Annotated[EndpointJob, strawberry.lazy("crontopus.server.graphql.endpoints.types")]]:
        # Imported here: the endpoint types refer to Job, so a module-level import would cycle.
        from crontopus.server.graphql.endpoints.types import endpoints_of_job

        return await endpoints_of_job(info, self, first)

    @classmethod
    def from_entry(cls, entry: JobEntry) -> Job:
        job = cls.from_manifest(entry.manifest, entry.text)
        job.path, job.blob_id = entry.path, entry.blob_id
        return job

    @classmethod
    def from_manifest(cls, m: JobManifest, text: str = "") -> Job:
        return cls(
            id=m.id,
            name=m.name,
            namespace=m.namespace,
            labels=key_values(m.labels),
            schedule=m.schedule,
            timezone=m.timezone,
            command=m.command,
            args=list(m.args),
            env=key_values(m.env),
            secret_env=key_values(m.secret_env),
            enabled=m.enabled,
            paused=m.paused,
            timeout=m.timeout,
            grace_time=m.grace_time,
            concurrency=Concurrency(str(m.concurrency)),
            target_labels=key_values(m.targets.labels),
            alerts=JobAlerts.from_alerts(m.alerts) if m.alerts is not None else None,
            systemd=SchedulerChoices.from_options(m.systemd),
            task_scheduler=SchedulerChoices.from_options(m.task_scheduler),
            is_discovered=m.is_discovered,
            path=m.path,
            yaml=text,
            blob_id="",
            manifest=m,
        )


@strawberry.type(description="A namespace: a directory of the repository.")
class Namespace:
    name: str
    is_system: bool = strawberry.field(description="`default` and `discovered` always exist.")
    job_count: int

    @classmethod
    def from_info(cls, info: NamespaceInfo) -> Namespace:
        return cls(name=info.name, is_system=info.is_system, job_count=info.job_count)


@strawberry.type(description="The tenant's job repository.")
class Repository:
    clone_url: str = strawberry.field(
        description="Clone with any user name and an API or endpoint token as password."
    )
    head_commit: str | None = strawberry.field(
        description="The commit served to the console, the API and agents (null when empty)."
    )
    pending_commit: str | None = strawberry.field(
        default=None,
        description="A newer commit that is not served because of its problems (with an "
        "external Git store: the forge's tip, listed in repositoryProblems); null when the "
        "served commit is the latest.",
    )


@strawberry.type(description="One commit that touched a job, with the manifest it left.")
class JobRevision:
    commit_id: str
    author_name: str
    author_email: str
    time: datetime
    message: str
    path: str | None
    yaml: str | None = strawberry.field(description="None where this commit deleted the job.")

    @classmethod
    def from_entry(cls, entry: HistoryEntry) -> JobRevision:
        return cls(
            commit_id=entry.commit_id,
            author_name=entry.author_name,
            author_email=entry.author_email,
            time=entry.time,
            message=entry.message,
            path=entry.path,
            yaml=entry.manifest_text,
        )


@strawberry.type(description="The outcome of checking a manifest without saving it.")
class ManifestValidation:
    valid: bool
    problems: list[ManifestProblem]
    warnings: list[ManifestProblem] = strawberry.field(
        description="Allowed but likely wrong: a secret-looking variable with its value in the "
        "manifest, a secretRef to a secret that does not exist."
    )
    job: Job | None


@strawberry.input(description="A failure-rate rule: percent and window are required.")
class FailureRateInput:
    percent: int
    window: int
    min_runs: int | None = None


@strawberry.input(description="spec.alerts; a field left null takes the tenant's default.")
class JobAlertsInput:
    on_failure: bool | None = None
    consecutive_failures: int | None = None
    failure_rate: FailureRateInput | None = None
    missed_run: bool | None = None
    max_duration: int | None = None
    min_duration: int | None = None
    channels: list[str] | None = None


@strawberry.input(description="spec.systemd or spec.taskScheduler.")
class SchedulerChoicesInput:
    accept_dst_differences: bool = False


@strawberry.input(
    description="A job as the user wants it; the server assigns the id. alerts, systemd and "
    "taskScheduler left out keep what the manifest has on an update; null removes them."
)
class JobInput:
    name: str
    namespace: str = "default"
    schedule: str
    command: str
    timezone: str | None = None
    args: list[str] = strawberry.field(default_factory=list)
    env: list[KeyValueInput] = strawberry.field(default_factory=list)
    labels: list[KeyValueInput] = strawberry.field(default_factory=list)
    enabled: bool = True
    paused: bool = False
    timeout: int | None = None
    grace_time: int | None = None
    concurrency: Concurrency | None = None
    target_labels: list[KeyValueInput] = strawberry.field(default_factory=list)
    secret_env: list[KeyValueInput] | None = strawberry.field(
        default=None,
        description="Variables taken from secrets (key: variable, value: secret name); "
        "omitted, an update keeps the job's secret references as they are.",
    )
    alerts: JobAlertsInput | None = strawberry.UNSET
    systemd: SchedulerChoicesInput | None = strawberry.UNSET
    task_scheduler: SchedulerChoicesInput | None = strawberry.UNSET


@strawberry.enum
class JobEventKind(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@strawberry.type(description="A job was created, updated or deleted by a commit.")
class JobEvent:
    kind: JobEventKind
    job_id: uuid.UUID
    path: str
    commit_id: str


@strawberry.type
class DeleteJobPayload:
    job: Job


@strawberry.type
class DeleteNamespacePayload:
    namespace: Namespace
