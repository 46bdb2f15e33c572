"""GraphQL queries: `jobHealth`, `endpointHealth` and `dashboard`."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry
from sqlalchemy import func, select

from crontopus.core.enums import HealthStatus as CoreHealthStatus
from crontopus.core.manifest import JobManifest
from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.errors import ValidationFailed
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.loaders import fleet_loaders
from crontopus.server.graphql.jobs.types import Job, JobStatus
from crontopus.server.services import health as rollups
from crontopus.server.services import health_series as series
from crontopus.server.services import jobs
from crontopus.server.services.job_status import job_status, needing_attention
from crontopus.server.services.presence import online_condition

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


def _keep(
    where: JobHealthFilter, namespace: str | None, job_id: uuid.UUID, tally: rollups.Tally
) -> bool:
    wanted: CoreHealthStatus | None = where.health
    return (
        (where.namespace is None or namespace == where.namespace)
        and (where.job_id is None or job_id == where.job_id)
        and (wanted is None or tally.health is wanted)
    )


def _aggregate(tallies: list[rollups.Tally]) -> rollups.Tally:
    last = max((t.last_run_at for t in tallies if t.last_run_at), default=None)
    return rollups.Tally(
        uuid.UUID(int=0),
        sum(t.runs for t in tallies),
        sum(t.successes for t in tallies),
        sum(t.failures for t in tallies),
        last,
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
        async with info.context.session() as session:
            tallies = await rollups.job_tallies(session, principal, _window(window))
        names = {job_id: (e.manifest.name, e.manifest.namespace) for job_id, e in view.jobs.items()}
        result = []
        for job_id in sorted(set(names) | set(tallies), key=lambda i: names.get(i, ("~", "~"))):
            name, namespace = names.get(job_id, (None, None))
            tally = tallies.get(job_id) or rollups.empty_tally(job_id)
            if filter is not None and not _keep(filter, namespace, job_id, tally):
                continue
            figures = HealthFigures.from_tally(tally)
            entry = view.jobs.get(job_id)
            result.append(
                JobHealth(
                    job_id=job_id,
                    job_name=name,
                    namespace=namespace,
                    figures=figures,
                    manifest=entry.manifest if entry else None,
                )
            )
        return result

    @strawberry.field(description="Health of every endpoint's runs.")
    async def endpoint_health(
        self, info: Info, window: HealthWindow | None = None
    ) -> list[EndpointHealth]:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        async with info.context.session() as session:
            endpoints = (
                await session.execute(
                    select(Endpoint.id, Endpoint.name)
                    .where(Endpoint.tenant_id == principal.tenant_id)
                    .order_by(Endpoint.name)
                )
            ).all()
            tallies = await rollups.endpoint_tallies(session, principal, _window(window))
        return [
            EndpointHealth(
                endpoint_id=endpoint_id,
                name=name,
                figures=HealthFigures.from_tally(
                    tallies.get(endpoint_id) or rollups.empty_tally(endpoint_id)
                ),
            )
            for endpoint_id, name in endpoints
        ]

    @strawberry.field(description="Endpoints online and offline, runs and failing jobs.")
    async def dashboard(self, info: Info, window: HealthWindow | None = None) -> Dashboard:
        principal = info.context.require_principal()
        principal.require_read("Reading health")
        view = await jobs.snapshot(info.context.gitstore, principal)
        is_online = online_condition(utcnow(), info.context.settings.offline_after)
        async with info.context.session() as session:
            tallies = await rollups.job_tallies(session, principal, _window(window))
            alive = Endpoint.tenant_id == principal.tenant_id, Endpoint.revoked_at.is_(None)
            total = await session.scalar(select(func.count()).where(*alive))
            online = await session.scalar(select(func.count()).where(*alive, is_online))
            attention = await needing_attention(
                session,
                principal.tenant_id,
                [entry.manifest for entry in view.jobs.values()],
                utcnow(),
            )
        failing = [
            JobHealth(
                job_id=t.owner_id,
                job_name=view.jobs[t.owner_id].manifest.name if t.owner_id in view.jobs else None,
                namespace=(
                    view.jobs[t.owner_id].manifest.namespace if t.owner_id in view.jobs else None
                ),
                figures=HealthFigures.from_tally(t),
            )
            for t in sorted(tallies.values(), key=lambda t: t.success_rate or 0.0)
            if t.health is CoreHealthStatus.FAILING
        ]
        return Dashboard(
            endpoints_total=total or 0,
            endpoints_online=online or 0,
            endpoints_offline=(total or 0) - (online or 0),
            jobs_total=len(view.jobs),
            figures=HealthFigures.from_tally(_aggregate(list(tallies.values()))),
            failing_jobs=failing,
            needs_attention=[Job.from_entry(view.jobs[manifest.id]) for manifest, _ in attention],
        )
