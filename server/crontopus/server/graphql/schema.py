"""The Crontopus GraphQL schema, composed from one package per domain."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from crontopus.server.availability import unavailability
from crontopus.server.events.errors import EventBusInterrupted
from crontopus.server.graphql.alerts.mutations import AlertMutations
from crontopus.server.graphql.alerts.queries import AlertQueries
from crontopus.server.graphql.alerts.subscriptions import AlertSubscriptions
from crontopus.server.graphql.audit.queries import AuditQueries
from crontopus.server.graphql.channel.mutations import ChannelMutations
from crontopus.server.graphql.channel.subscriptions import ChannelSubscriptions
from crontopus.server.graphql.endpoints.mutations import EndpointMutations
from crontopus.server.graphql.endpoints.queries import EndpointQueries
from crontopus.server.graphql.endpoints.subscriptions import EndpointSubscriptions
from crontopus.server.graphql.extensions import build_extensions
from crontopus.server.graphql.health.queries import HealthQueries
from crontopus.server.graphql.identity.account_mail import AccountMailMutations
from crontopus.server.graphql.identity.mutations import IdentityMutations
from crontopus.server.graphql.identity.queries import IdentityQueries
from crontopus.server.graphql.jobs.mutations import JobMutations
from crontopus.server.graphql.jobs.queries import JobQueries
from crontopus.server.graphql.jobs.subscriptions import JobSubscriptions
from crontopus.server.graphql.operator.mutations import OperatorMutations
from crontopus.server.graphql.operator.queries import OperatorQueries
from crontopus.server.graphql.rates import limit_mutations
from crontopus.server.graphql.runs.mutations import RunMutations
from crontopus.server.graphql.runs.queries import RunQueries
from crontopus.server.graphql.runs.subscriptions import RunSubscriptions
from crontopus.server.graphql.schedules.queries import ScheduleQueries
from crontopus.server.graphql.secrets.mutations import SecretMutations
from crontopus.server.graphql.secrets.queries import SecretQueries
from crontopus.server.graphql.system.subscriptions import SystemSubscriptions
from crontopus.server.graphql.tokens.mutations import TokenMutations
from crontopus.server.graphql.tokens.queries import TokenQueries
from crontopus.server.settings import Limits


@strawberry.type
class Query(
    IdentityQueries,
    TokenQueries,
    AuditQueries,
    JobQueries,
    ScheduleQueries,
    RunQueries,
    HealthQueries,
    EndpointQueries,
    AlertQueries,
    SecretQueries,
    OperatorQueries,
):
    pass


@strawberry.type
class Mutation(
    IdentityMutations,
    AccountMailMutations,
    TokenMutations,
    JobMutations,
    RunMutations,
    EndpointMutations,
    AlertMutations,
    SecretMutations,
    ChannelMutations,
    OperatorMutations,
):
    pass


limit_mutations(Mutation)


@strawberry.type
class Subscription(
    SystemSubscriptions,
    JobSubscriptions,
    RunSubscriptions,
    EndpointSubscriptions,
    AlertSubscriptions,
    ChannelSubscriptions,
):
    pass


class CrontopusSchema(strawberry.Schema):
    """Strawberry's schema, minus an error log line per request while a dependency is away."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # The dependency tracker logs an outage once (availability.py); the rest as before.
        logged = [e for e in errors if not _unavailable(e)]
        if logged:
            super().process_errors(logged, execution_context)


def _unavailable(error: GraphQLError) -> bool:
    if (error.extensions or {}).get("code") == "UNAVAILABLE":
        return True
    original = error.original_error
    if isinstance(original, EventBusInterrupted):
        return True  # the event bus logged it once
    return original is not None and unavailability(original) is not None


def create_schema(limits: Limits | None = None) -> strawberry.Schema:
    """Build the schema with the request limits of `limits`."""
    return CrontopusSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=build_extensions(limits or Limits()),
    )


def schema_sdl() -> str:
    """Return the schema as SDL with types and fields sorted, as committed in docs/."""
    from graphql import lexicographic_sort_schema, print_schema

    return print_schema(lexicographic_sort_schema(create_schema()._schema)) + "\n"
