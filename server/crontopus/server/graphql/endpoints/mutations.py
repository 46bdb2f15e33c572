"""GraphQL mutations: enrollment tokens, enrollment, heartbeats, revocation and agent reports."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.db import models
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.types import (
    CreatedEnrollmentToken,
    DiscoveredJobInput,
    DiscoveredJobResult,
    DiscoveredJobsReport,
    Endpoint,
    EnrolledEndpoint,
    EnrollmentPending,
    EnrollmentToken,
    HeartbeatInput,
    JobInstanceInput,
    JobInstanceReport,
    PendingEnrollment,
    labels_of,
)
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.keyvalues import KeyValueInput
from crontopus.server.security.ratelimit import Limit
from crontopus.server.services import (
    discovery,
    endpoints,
    enrollment,
    instances,
    jobs,
    reenrollment,
)

CreateEnrollmentTokenResult = Annotated[
    CreatedEnrollmentToken | UserErrors, strawberry.union("CreateEnrollmentTokenResult")
]
RevokeEnrollmentTokenResult = Annotated[
    EnrollmentToken | UserErrors, strawberry.union("RevokeEnrollmentTokenResult")
]
EnrollEndpointResult = Annotated[
    EnrolledEndpoint | EnrollmentPending | UserErrors, strawberry.union("EnrollEndpointResult")
]
ApproveEnrollmentResult = Annotated[
    Endpoint | UserErrors, strawberry.union("ApproveEnrollmentResult")
]
RejectEnrollmentResult = Annotated[
    PendingEnrollment | UserErrors, strawberry.union("RejectEnrollmentResult")
]
HeartbeatResult = Annotated[Endpoint | UserErrors, strawberry.union("HeartbeatResult")]
UpdateEndpointResult = Annotated[Endpoint | UserErrors, strawberry.union("UpdateEndpointResult")]
RevokeEndpointResult = Annotated[Endpoint | UserErrors, strawberry.union("RevokeEndpointResult")]
ReportJobInstancesResult = Annotated[
    JobInstanceReport | UserErrors, strawberry.union("ReportJobInstancesResult")
]
ReportDiscoveredJobsResult = Annotated[
    DiscoveredJobsReport | UserErrors, strawberry.union("ReportDiscoveredJobsResult")
]


@strawberry.type
class EndpointMutations:
    @strawberry.mutation(
        description="Create a token agents enroll with (admins); its plaintext is shown once. "
        "Without `expiresInDays` it expires after CRONTOPUS_ENROLLMENT_TOKEN_DAYS (7 by default).",
        extensions=[ServiceErrors()],
    )
    async def create_enrollment_token(
        self,
        info: Info,
        name: str,
        expires_in_days: int | None = None,
        max_uses: int | None = None,
    ) -> CreateEnrollmentTokenResult:
        principal = info.context.require_principal()
        default_days = info.context.settings.enrollment_token_days
        async with info.context.session() as session:
            token, plaintext = await enrollment.create_enrollment_token(
                session,
                principal,
                name,
                expires_in_days,
                max_uses,
                quotas=info.context.quotas,
                default_days=default_days,
            )
        return CreatedEnrollmentToken(token=EnrollmentToken.from_model(token), plaintext=plaintext)

    @strawberry.mutation(
        description="Revoke an enrollment token; enrolled endpoints keep working.",
        extensions=[ServiceErrors()],
    )
    async def revoke_enrollment_token(
        self, info: Info, id: uuid.UUID
    ) -> RevokeEnrollmentTokenResult:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            token = await enrollment.revoke_enrollment_token(session, principal, id)
        return EnrollmentToken.from_model(token)

    @strawberry.mutation(
        description="Enroll a machine with an enrollment token. A machineId enrolled before "
        "takes its endpoint over (new token; the old one stops working) only when "
        "`endpointToken` is the endpoint's current token; otherwise, or when the endpoint was "
        "revoked, the answer is EnrollmentPending until an admin approves.",
        extensions=[ServiceErrors()],
    )
    async def enroll_endpoint(
        self,
        info: Info,
        enrollment_token: str,
        name: str,
        hostname: str,
        platform: str,
        machine_id: str,
        agent_version: str,
        drivers: list[str] | None = None,
        labels: list[KeyValueInput] | None = None,
        endpoint_token: str | None = None,
    ) -> EnrollEndpointResult:
        context = info.context
        async with context.session() as session:
            await context.limiter.take(Limit.ENROLL, context.client_address)
            request = enrollment.Enrollment(
                name=name,
                hostname=hostname,
                platform=platform,
                machine_id=machine_id,
                agent_version=agent_version,
                drivers=tuple(drivers or ()),
                labels=labels_of(labels or [], ("labels",)),
            )
            enrolled = await enrollment.enroll_endpoint(
                session,
                context.broadcaster,
                context.identities,
                enrollment_token,
                request,
                quotas=context.quotas,
                proof=endpoint_token,
                address=context.client_address,
            )
        if enrolled.pending is not None:
            return EnrollmentPending(
                id=enrolled.pending.id,
                machine_id=enrolled.pending.machine_id,
                endpoint_token=enrolled.token,
                message=(
                    f"machine {machine_id} is enrolled already: an admin must approve this "
                    "enrollment (the console's Endpoints page), or enroll again with the "
                    "endpoint's current token"
                ),
            )
        return EnrolledEndpoint(
            endpoint=Endpoint.from_model(enrolled.endpoint, context.settings),
            endpoint_token=enrolled.token,
            reused=enrolled.reused,
            heartbeat_interval_seconds=context.settings.heartbeat_interval,
        )

    @strawberry.mutation(
        description="Let a waiting re-enrollment take its endpoint over (admins); the "
        "endpoint's old token stops working, and a revoked endpoint is reinstated.",
        extensions=[ServiceErrors()],
    )
    async def approve_enrollment(self, info: Info, id: uuid.UUID) -> ApproveEnrollmentResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            endpoint = await reenrollment.approve(
                session,
                context.broadcaster,
                context.identities,
                principal,
                id,
                quotas=context.quotas,
            )
        return Endpoint.from_model(endpoint, context.settings)

    @strawberry.mutation(
        description="Refuse a waiting re-enrollment (admins); the endpoint stays as it is.",
        extensions=[ServiceErrors()],
    )
    async def reject_enrollment(self, info: Info, id: uuid.UUID) -> RejectEnrollmentResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            pending = await reenrollment.reject(session, principal, id)
            endpoint = await session.get_one(models.Endpoint, pending.endpoint_id)
        return PendingEnrollment.from_model(pending, endpoint, context.settings)

    @strawberry.mutation(
        description="Tell the server the agent is alive (endpoint token), what it runs and "
        "which commit it applied.",
        extensions=[ServiceErrors()],
    )
    async def heartbeat(self, info: Info, input: HeartbeatInput) -> HeartbeatResult:
        context = info.context
        principal = context.require_principal()
        beat = endpoints.Heartbeat(input.agent_version, input.driver, input.applied_commit)
        async with context.session() as session:
            row = await endpoints.record_heartbeat(
                session, context.broadcaster, context.settings, principal, beat
            )
        return Endpoint.from_model(row, context.settings)

    @strawberry.mutation(
        description="Rename an endpoint or replace its labels (admins). Its agent picks the "
        "labels up on its next heartbeat and installs or removes the jobs they target; drift "
        "is judged against them at once. Omitted arguments keep their current values.",
        extensions=[ServiceErrors()],
    )
    async def update_endpoint(
        self,
        info: Info,
        id: uuid.UUID,
        name: str | None = None,
        labels: list[KeyValueInput] | None = None,
    ) -> UpdateEndpointResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            change = endpoints.EndpointChange(
                name=name,
                labels=None if labels is None else labels_of(labels, ("labels",)),
            )
            row = await endpoints.update_endpoint(
                session, context.broadcaster, principal, id, change
            )
        return Endpoint.from_model(row, context.settings)

    @strawberry.mutation(
        description="Revoke an endpoint (admins); its token stops working at once.",
        extensions=[ServiceErrors()],
    )
    async def revoke_endpoint(self, info: Info, id: uuid.UUID) -> RevokeEndpointResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            row = await endpoints.revoke_endpoint(
                session, context.broadcaster, context.identities, principal, id
            )
        return Endpoint.from_model(row, context.settings)

    @strawberry.mutation(
        description="Revoke the calling endpoint (endpoint token): the agent leaves the fleet "
        "and its token stops working at once.",
        extensions=[ServiceErrors()],
    )
    async def unenroll_endpoint(self, info: Info) -> RevokeEndpointResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            row = await endpoints.unenroll_endpoint(
                session, context.broadcaster, context.identities, principal
            )
        return Endpoint.from_model(row, context.settings)

    @strawberry.mutation(
        description="Report every job the endpoint's scheduler holds (endpoint token); "
        "jobs held before and not reported now are removed.",
        extensions=[ServiceErrors()],
    )
    async def report_job_instances(
        self, info: Info, items: list[JobInstanceInput]
    ) -> ReportJobInstancesResult:
        principal = info.context.require_principal()
        reports = [
            instances.InstanceReport(
                item.job_id, item.driver, item.state, item.source, item.failure_reason
            )
            for item in items
        ]
        async with info.context.session() as session:
            changes = await instances.report_job_instances(session, principal, reports)
        return JobInstanceReport(
            added=changes.added,
            updated=changes.updated,
            removed=changes.removed,
            total=changes.total,
        )

    @strawberry.mutation(
        description="Report scheduler entries Crontopus does not manage (endpoint token); each "
        "new one is committed once to discovered/.",
        extensions=[ServiceErrors()],
    )
    async def report_discovered_jobs(
        self, info: Info, items: list[DiscoveredJobInput]
    ) -> ReportDiscoveredJobsResult:
        context = info.context
        principal = context.require_principal()
        found = [
            discovery.ForeignJob(
                item.schedule, item.command, item.user, item.driver, item.fingerprint, item.timezone
            )
            for item in items
        ]
        async with context.session() as session:
            report = await discovery.report_discovered_jobs(
                session,
                context.gitstore,
                context.broadcaster,
                principal,
                jobs.author_of(context.require_identity()),
                found,
                quotas=context.quotas,
            )
        return DiscoveredJobsReport(
            results=[DiscoveredJobResult.from_result(r) for r in report.results],
            commit_id=report.commit_id,
        )
