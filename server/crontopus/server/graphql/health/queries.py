"""GraphQL queries: `jobHealth`, `endpointHealth` and `dashboard`."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry

from crontopus.core.enums import HealthStatus as CoreHealthStatus
from crontopus.core.manifest import JobManifest
from crontopus.server.db.types import utcnow
from crontopus.server.errors import ValidationFailed
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.loaders import fleet_loaders
from crontopus.server.graphql.jobs.types import Job, JobStatus
from crontopus.server.services import health as rollups
from crontopus.server.services import health_series as series
from crontopus.server.services import jobs
from crontopus.server.services.job_status import job_status

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(CoreHealthStatus, name="HealthStatus")
HealthStatus = CoreHealthStatus


@strawberry.enum(description="How far back health looks.")
class HealthWindow(enum.Enum):
    H24 = "24h"
    D7 = "7d"
    D30 = "30d"
    D90 = "90d"


def _window(window: HealthWindow | None) -> rollups.Window:
    # Optional rather than defaulted: an enum default breaks the sorted SDL export.
    return rollups.Window[window.name] if window else rollups.Window.H24


@strawberry.enum(description="How long one point of a health series is.")
class HealthBucket(enum.Enum):
    HOUR = "hour"
    DAY = "day"


@strawberry.type(description="Finished runs that started in one bucket of a health series.")
class HealthPoint:
    at: datetime = strawberry.field(description="Where the bucket starts (UTC).")
    runs: int
    successes: int
    failures: int
    success_rate: float | None = strawberry.field(description="Null when nothing ran.")
    duration_p50_ms: int | None = strawberry.field(
        description="Median duration of the bucket's runs still kept; null when none are."
    )
    duration_p95_ms: int | None

    @classmethod
    def from_point(cls, point: series.Point) -> HealthPoint:
        return cls(
            at=point.at,
            runs=point.runs,
            successes=point.successes,
            failures=point.failures,
            success_rate=point.success_rate,
            duration_p50_ms=point.duration_p50_ms,
            duration_p95_ms=point.duration_p95_ms,
        )


@strawberry.type(description="Health over time, one point per bucket, oldest first.")
class HealthSeries:
    bucket: HealthBucket
    start: datetime
    points: list[HealthPoint]


@strawberry.type(description="The points of one job's or endpoint's series, for a sparkline.")
class HealthSparkline:
    id: uuid.UUID = strawberry.field(description="The job's or endpoint's id.")
    points: list[HealthPoint]


@strawberry.type(description="Finished runs in a window and what they say about health.")
class HealthFigures:
    runs: int
    successes: int
    failures: int
    success_rate: float | None
    last_run_at: datetime | None
    health: HealthStatus

    @classmethod
    def from_tally(cls, tally: rollups.Tally) -> HealthFigures:
        return cls(
            runs=tally.runs,
            successes=tally.successes,
            failures=tally.failures,
            success_rate=tally.success_rate,
            last_run_at=tally.last_run_at,
            health=tally.health,
        )


@strawberry.type
class JobHealth:
    job_id: uuid.UUID
    job_name: str | None
    namespace: str | None
    figures: HealthFigures
    manifest: strawberry.Private[JobManifest | None] = None

    @classmethod
    def from_row(cls, row: rollups.JobHealthRow) -> JobHealth:
        return cls(
            job_id=row.job_id,
            job_name=row.name,
            namespace=row.namespace,
            figures=HealthFigures.from_tally(row.tally),
            manifest=row.manifest,
        )

    @strawberry.field(description="The job's status now; null for a job no longer in Git.")
    async def status(self, info: Info) -> JobStatus | None:
        if self.manifest is None:
            return None
        facts, defaults = await fleet_loaders(info.context).job_facts.load(self.job_id)
        return job_status(self.manifest, facts, defaults, utcnow())


@strawberry.type
class EndpointHealth:
    endpoint_id: uuid.UUID
    name: str
    figures: HealthFigures


@strawberry.input
class JobHealthFilter:
    namespace: str | None = None
    job_id: uuid.UUID | None = None
    health: HealthStatus | None = None


@strawberry.type(description="Totals for the tenant's front page.")
class Dashboard:
    endpoints_total: int
    endpoints_online: int
    endpoints_offline: int
    jobs_total: int
    figures: HealthFigures
    failing_jobs: list[JobHealth]
    needs_attention: list[Job] = strawberry.field(
        description="Jobs DOWN, FAILING or LATE now, worst first."
    )


def _scope(job_id: uuid.UUID | None, endpoint_id: uuid.UUID | None, tenant: bool) -> series.Scope:
    given = [job_id is not None, endpoint_id is not None, tenant]
    if sum(given) != 1:
        raise ValidationFailed.single(
            "jobId", "give exactly one of jobId, endpointId or tenant: true"
        )
    return series.Scope(job_id=job_id, endpoint_id=endpoint_id)


@strawberry.type
class HealthQueries:
    @strawberry.field(
        description=(
            "Runs, failures, success rate and duration percentiles per hour or day, for one "
            "job, one endpoint or the whole tenant (exactly one of jobId, endpointId, tenant). "
            "Hourly buckets cover at most 7 days; the bucket defaults to HOUR for 24h, DAY "
            "otherwise."
        )
    )
    async def health_series(
        self,
        info: Info,
        job_id: uuid.UUID | None = None,
        endpoint_id: uuid.UUID | None = None,
        tenant: bool = False,
        window: HealthWindow | None = None,
        bucket: HealthBucket | None = None,
    ) -> HealthSeries:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        scope = _scope(job_id, endpoint_id, tenant)
        span = _window(window)
        size = series.Bucket[bucket.name] if bucket else series.default_bucket(span)
        series.check_bounds(span, size)
        async with info.context.session() as session:
            await series.check_scope(session, info.context.gitstore, principal, scope)
            result = await series.health_series(session, principal, scope, span, size)
        return HealthSeries(
            bucket=HealthBucket[result.bucket.name],
            start=result.start,
            points=[HealthPoint.from_point(p) for p in result.points],
        )

    @strawberry.field(
        description=(
            "Counts per bucket for many jobs or endpoints at once (a list's sparklines; at most "
            "200 ids, duration percentiles null). Pass jobIds or endpointIds."
        )
    )
    async def health_sparklines(
        self,
        info: Info,
        job_ids: list[uuid.UUID] | None = None,
        endpoint_ids: list[uuid.UUID] | None = None,
        window: HealthWindow | None = None,
        bucket: HealthBucket | None = None,
    ) -> list[HealthSparkline]:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        if (job_ids is None) == (endpoint_ids is None):
            raise ValidationFailed.single("jobIds", "give exactly one of jobIds or endpointIds")
        owner, ids = ("job_id", job_ids) if job_ids is not None else ("endpoint_id", endpoint_ids)
        span = _window(window)
        size = series.Bucket[bucket.name] if bucket else series.default_bucket(span)
        async with info.context.session() as session:
            found = await series.series_by_owner(
                session, principal, owner, list(dict.fromkeys(ids or [])), span, size
            )
        return [
            HealthSparkline(id=owner_id, points=[HealthPoint.from_point(p) for p in points])
            for owner_id, points in found.items()
        ]

    @strawberry.field(description="Health of every job (UNKNOWN when it has not run).")
    async def job_health(
        self,
        info: Info,
        window: HealthWindow | None = None,
        filter: JobHealthFilter | None = None,
    ) -> list[JobHealth]:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        view = await jobs.snapshot(info.context.gitstore, principal)
        where = None
        if filter is not None:
            where = rollups.JobHealthFilter(filter.namespace, filter.job_id, filter.health)
        async with info.context.session() as session:
            rows = await rollups.job_health(session, view, principal, _window(window), where)
        return [JobHealth.from_row(row) for row in rows]

    @strawberry.field(description="Health of every endpoint's runs.")
    async def endpoint_health(
        self, info: Info, window: HealthWindow | None = None
    ) -> list[EndpointHealth]:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        async with info.context.session() as session:
            rows = await rollups.endpoint_health(session, principal, _window(window))
        return [
            EndpointHealth(
                endpoint_id=endpoint_id, name=name, figures=HealthFigures.from_tally(tally)
            )
            for endpoint_id, name, tally in rows
        ]

    @strawberry.field(description="Endpoints online and offline, runs and failing jobs.")
    async def dashboard(self, info: Info, window: HealthWindow | None = None) -> Dashboard:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        view = await jobs.snapshot(info.context.gitstore, principal)
        offline_after = info.context.settings.offline_after
        async with info.context.session() as session:
            facts = await rollups.dashboard(
                session, view, principal, _window(window), offline_after
            )
        return Dashboard(
            endpoints_total=facts.endpoints_total,
            endpoints_online=facts.endpoints_online,
            endpoints_offline=facts.endpoints_total - facts.endpoints_online,
            jobs_total=facts.jobs_total,
            figures=HealthFigures.from_tally(facts.tally),
            failing_jobs=[JobHealth.from_row(row) for row in facts.failing],
            needs_attention=[Job.from_entry(view.jobs[m.id]) for m in facts.needs_attention],
        )
