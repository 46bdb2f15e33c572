"""The per-request GraphQL context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from crontopus.server.availability import DependencyTracker, Unavailable, unavailable_extensions
from crontopus.server.db.engine import SessionFactory
from crontopus.server.errors import AuthenticationFailed, TenantSuspended
from crontopus.server.events.broadcaster import Broadcaster, Event
from crontopus.server.events.topics import AgentNotice
from crontopus.server.gitstore import GitStore
from crontopus.server.observability.metrics import Metrics
from crontopus.server.security.identity_cache import Identity, IdentityCache
from crontopus.server.security.principal import Principal
from crontopus.server.security.ratelimit import RateLimiter
from crontopus.server.services.alerts.engine.engine import AlertEngine
from crontopus.server.services.ingest import IngestWriter
from crontopus.server.services.job_directory import JobDirectory
from crontopus.server.services.tenants import TenantCreatedHook
from crontopus.server.settings import Quotas, Settings

if TYPE_CHECKING:
    from crontopus.server.graphql.endpoints.loaders import FleetLoaders
    from crontopus.server.services.channel import AgentChannels

COALESCE_WINDOW = 0.05
COALESCE_MAX_BATCH = 500


class AuthenticationRequired(GraphQLError):
    """Raised by resolvers that need a principal when none (or a bad one) was given."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class TenantSuspendedError(GraphQLError):
    """Raised for every operation of a suspended tenant's credential (code TENANT_SUSPENDED)."""

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message, extensions={"code": "TENANT_SUSPENDED", **extensions})


class DependencyUnavailable(GraphQLError):
    """Raised for an operation that needs a dependency which is away (code UNAVAILABLE)."""

    def __init__(self, problem: Unavailable) -> None:
        super().__init__(problem.message, extensions=unavailable_extensions(problem))
        self.problem = problem


@dataclass
class ChannelFeed:
    """How an agent channel runs when its subscribers share one execution (channel/fanout.py).

    `greeting`: yield only the CONNECTED event with the HEAD read now. Otherwise the run is
    the tenant's shared one: it yields every notice of the tenant's agents, and before each
    it sets `notice`, so the fan-out tells only the endpoints the notice concerns.
    """

    greeting: bool
    notice: AgentNotice | None = None


@dataclass
class Context:
    """What every resolver gets: a session *factory* (resolvers run concurrently), the caller."""

    settings: Settings
    session: SessionFactory
    limiter: RateLimiter
    identities: IdentityCache
    gitstore: GitStore
    broadcaster: Broadcaster
    ingest: IngestWriter
    job_directory: JobDirectory
    request_id: str
    client_address: str
    request: Request | WebSocket
    response: Response | WebSocket | None = None
    principal: Principal | None = None
    identity: Identity | None = None
    #: The bearer token the principal came from: a WebSocket checks it again while it lives.
    credential: str | None = None
    auth_error: AuthenticationFailed | None = None
    unavailable: Unavailable | None = None  # the credential could not be checked: retry
    on_tenant_created: TenantCreatedHook | None = None
    connection_params: dict[str, Any] | None = None
    # The process's parts that some resolvers and extensions need; None when a schema runs
    # without a server (schema export, unit tests).
    metrics: Metrics | None = None
    alerts: AlertEngine | None = None
    dependencies: DependencyTracker | None = None
    channels: AgentChannels | None = None
    # Per-request and per-socket state, filled on first use.
    fleet_loaders: FleetLoaders | None = None
    socket_key: str | None = None
    #: Set on the runs of an agent channel shared by its process's sockets.
    channel_feed: ChannelFeed | None = None

    def require_principal(self) -> Principal:
        """Return the authenticated principal or fail the field with UNAUTHENTICATED."""
        if self.principal is not None:
            return self.principal
        if self.unavailable is not None:
            raise DependencyUnavailable(self.unavailable)
        if isinstance(self.auth_error, TenantSuspended):
            raise TenantSuspendedError(self.auth_error.message)
        if self.auth_error is not None:
            raise AuthenticationRequired(self.auth_error.message)
        raise AuthenticationRequired(
            "authentication required: send `Authorization: Bearer <token>` (log in first)"
        )

    def coalesce(self, source: AsyncIterator[Event]) -> AsyncIterator[list[Event]]:
        """Batch a subscriber's events over a short window, so a burst is one delivery."""
        from crontopus.server.events.coalesce import coalesce

        return coalesce(source, window=COALESCE_WINDOW, max_batch=COALESCE_MAX_BATCH)

    @property
    def quotas(self) -> Quotas:
        """The server's quotas with the caller's tenant's overrides (cached with the credential)."""
        from crontopus.server.services.quotas import effective_quotas

        if self.identity is None:
            return self.settings.quotas
        return effective_quotas(self.settings.quotas, self.identity.tenant.quota_overrides)

    def require_identity(self) -> Identity:
        """Return the caller's identity (a user or token, never an endpoint)."""
        self.require_principal()
        assert self.identity is not None
        return self.identity


Info = strawberry.Info[Context, None]
