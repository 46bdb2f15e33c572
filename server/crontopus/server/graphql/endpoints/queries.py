"""GraphQL queries: `enrollmentTokens`, `endpoints` and `endpoint`."""

from __future__ import annotations

import uuid

import strawberry
from graphql import GraphQLError

from crontopus.server.db import models
from crontopus.server.db.types import utcnow
from crontopus.server.errors import NotFound, PermissionDenied, ValidationFailed
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.endpoints.types import (
    Endpoint,
    EndpointFilter,
    EnrollmentToken,
    PendingEnrollment,
    labels_of,
)
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_cursor,
    page_size,
)
from crontopus.server.services import endpoints, enrollment, reenrollment


def _forbidden(error: PermissionDenied) -> GraphQLError:
    return GraphQLError(error.message, extensions={"code": "FORBIDDEN"})


def _position(after: str | None) -> tuple[str, uuid.UUID] | None:
    parts = decode_cursor(after, 2)
    if parts is None:
        return None
    try:
        return parts[0], uuid.UUID(parts[1])
    except ValueError:
        raise GraphQLError(
            f"after: {after!r} is not a cursor from this API (pass a pageInfo.endCursor)",
            extensions={"code": "BAD_USER_INPUT"},
        ) from None


def _service_filter(wanted: EndpointFilter | None) -> endpoints.EndpointFilter:
    if wanted is None:
        return endpoints.EndpointFilter()
    return endpoints.EndpointFilter(
        status=wanted.status,
        platform=wanted.platform,
        search=wanted.search,
        labels=labels_of(wanted.label, ("filter", "label")),
    )


@strawberry.type
class EndpointQueries:
    @strawberry.field(description="The tenant's enrollment tokens, newest first (admins).")
    async def enrollment_tokens(self, info: Info) -> list[EnrollmentToken]:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                rows = await enrollment.list_enrollment_tokens(session, principal)
            except PermissionDenied as error:
                raise _forbidden(error) from None
        return [EnrollmentToken.from_model(t) for t in rows]

    @strawberry.field(
        description="Known machines that enrolled again without proof, awaiting approval (admins)."
    )
    async def pending_enrollments(self, info: Info) -> list[PendingEnrollment]:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            try:
                rows = await reenrollment.list_pending(session, principal)
            except PermissionDenied as error:
                raise _forbidden(error) from None
            result = []
            for row in rows:
                endpoint = await session.get_one(models.Endpoint, row.endpoint_id)
                result.append(PendingEnrollment.from_model(row, endpoint, context.settings))
        return result

    @strawberry.field(description="Enrolled endpoints by name; filters combine with AND.")
    async def endpoints(
        self,
        info: Info,
        filter: EndpointFilter | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> Connection[Endpoint]:
        context = info.context
        principal = context.require_principal()
        first = page_size(first, context.settings.limits.max_page_size)
        try:
            wanted = _service_filter(filter)
        except ValidationFailed as error:
            raise GraphQLError(error.message, extensions={"code": "BAD_USER_INPUT"}) from None
        async with context.session() as session:
            try:
                rows = await endpoints.list_endpoints(
                    session, principal, context.settings, wanted, first, _position(after)
                )
            except PermissionDenied as error:
                raise _forbidden(error) from None
        now = utcnow()
        return build_connection(
            rows,
            first,
            lambda row: Endpoint.from_model(row, context.settings, now),
            lambda row: (row.name, str(row.id)),
        )

    @strawberry.field(description="One endpoint by id (an agent may read only itself).")
    async def endpoint(self, info: Info, id: uuid.UUID) -> Endpoint | None:
        principal = info.context.require_principal()
        async with info.context.session() as session:
            try:
                row = await endpoints.get_endpoint(session, principal, id)
            except NotFound:
                return None
            except PermissionDenied as error:
                raise _forbidden(error) from None
        return Endpoint.from_model(row, info.context.settings)
