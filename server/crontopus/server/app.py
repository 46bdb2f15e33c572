"""The ASGI application: `create_app(settings)` wires every part together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from crontopus.server.availability import (
    Dependency,
    DependencyTracker,
    unavailability,
    unavailable_handlers,
)
from crontopus.server.db.engine import create_engine, create_session_factory
from crontopus.server.errors import AuthenticationFailed
from crontopus.server.events.factory import create_broadcaster
from crontopus.server.gitstore import (
    ExternalGitStore,
    ExternalRemote,
    ManagedGitStore,
    make_git_http_app,
)
from crontopus.server.gitstore.local import LocalGitStore
from crontopus.server.gitstore.processes import ProcessSlots
from crontopus.server.graphql.channel.fanout import ChannelFanout
from crontopus.server.graphql.context import Context
from crontopus.server.graphql.credentials import EndpointWatches
from crontopus.server.graphql.groups import SubscriptionGroups
from crontopus.server.graphql.schema import create_schema
from crontopus.server.graphql.sockets import SocketLimits
from crontopus.server.graphql.websocket import GraphQLWSHandler, TransportWSHandler
from crontopus.server.health import database_probe, directory_probe, health, ready
from crontopus.server.mail.outbox import MailOutbox
from crontopus.server.observability.ingest import MeteredIngestWriter
from crontopus.server.observability.logging import RequestIdMiddleware
from crontopus.server.observability.logging import request_id_of as _request_id_of
from crontopus.server.observability.metrics import Metrics
from crontopus.server.observability.routes import metrics as metrics_route
from crontopus.server.routes.auth import refresh as refresh_route
from crontopus.server.routes.checkin import CheckInEndpoint
from crontopus.server.routes.checkin_lane import CheckInLane
from crontopus.server.routes.console import BrowserRedirect, console_routes
from crontopus.server.routes.git_hooks import git_hook
from crontopus.server.routes.install import install_routes
from crontopus.server.routes.oidc import callback as oidc_callback
from crontopus.server.routes.oidc import start as oidc_start
from crontopus.server.routes.operator import download_export
from crontopus.server.security.addresses import client_address
from crontopus.server.security.body_limit import BodyLimit, body_rules
from crontopus.server.security.headers import SecurityHeadersMiddleware
from crontopus.server.security.identity_cache import Identity, IdentityCache
from crontopus.server.security.proxies import trusted_proxies_middleware
from crontopus.server.security.ratelimit import create_rate_limiter
from crontopus.server.security.tokens import TokenKind, token_kind
from crontopus.server.services.alerts.engine.engine import AlertEngine
from crontopus.server.services.announcements import CommitAnnouncer
from crontopus.server.services.authentication import (
    EndpointLookups,
    authenticate,
    bearer_token,
    refuse_suspended,
)
from crontopus.server.services.channel import AgentChannels
from crontopus.server.services.job_directory import JobDirectory
from crontopus.server.services.mirror import MirrorSync
from crontopus.server.services.sessions import Device
from crontopus.server.settings import GitSettings, Settings
from crontopus.server.state import AppState as AppState  # where tests and tools import it from
from crontopus.server.storage.factory import create_run_store

logger = logging.getLogger("crontopus.server")


def request_id_of(headers_value: str | None) -> str:
    """Accept a caller's X-Request-ID when it is sane, else make one."""
    return _request_id_of(headers_value)


class CrontopusGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app with Crontopus authentication on HTTP and WebSocket."""

    # Subscribers with equal results share one execution (graphql/groups.py).
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = GraphQLWSHandler

    def __init__(self, state: AppState) -> None:
        schema = create_schema(state.settings.limits)
        limits = state.settings.transport
        super().__init__(
            schema,
            # The bundled offline playground replaces GraphiQL from a CDN (see routes/console.py).
            graphql_ide=None,
            allowed_origins=state.settings.cors_origins,
            connection_init_wait_timeout=timedelta(seconds=limits.websocket_init_seconds),
            # The handlers count operations themselves, to answer with a message that helps.
            max_subscriptions_per_connection=None,
        )
        self.state = state
        self.subscription_groups = SubscriptionGroups(schema)
        self.channel_fanout = ChannelFanout(schema)
        self.socket_limits = SocketLimits(limits)
        self.endpoint_watches = EndpointWatches(
            state.session, state.settings.auth_cache_seconds, identities=state.identities
        )
        self.endpoint_lookups = EndpointLookups(state.session)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = self.state
        context = Context(
            settings=state.settings,
            session=state.session,
            limiter=state.limiter,
            identities=state.identities,
            gitstore=state.gitstore,
            broadcaster=state.broadcaster,
            ingest=state.ingest,
            job_directory=state.job_directory,
            # The middleware chose the id (and echoes it); fall back for bare ASGI use.
            request_id=getattr(request.state, "request_id", None)
            or request_id_of(request.headers.get("x-request-id")),
            client_address=client_address(request),
            request=request,
            response=response,
            on_tenant_created=state.on_tenant_created,
            metrics=state.metrics,
            alerts=state.alerts,
            dependencies=state.dependencies,
            channels=state.channels,
        )
        await self._authenticate(context, request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        refusal = await self.authenticate_connection(context, context.connection_params or {})
        if context.unavailable is not None:
            # Not a refusal: the WebSocket handlers close with 1013 "try again later".
            raise context.unavailable
        if refusal is not None:
            raise ConnectionRejectionError({"message": refusal})
        self.socket_limits.admit(context)
        return await super().on_ws_connect(context)

    async def authenticate_connection(self, context: Context, params: dict[str, Any]) -> str | None:
        """Authenticate a socket from `connection_init` (or its upgrade request's header).

        Return why the credential is refused, or None: a socket with a refused credential is
        closed at once (4401) instead of failing each of its operations. A database that is
        away is no refusal: `context.unavailable` says so.
        """
        header = params.get("authorization") or params.get("Authorization")
        if header is not None:
            if not isinstance(header, str):
                return "authorization must be a string: `Bearer <token>`"
            await self._authenticate(context, header)
        return context.auth_error.message if context.auth_error is not None else None

    async def identify(self, token: str, device: Device | None = None) -> Identity:
        """Resolve a bearer token through the identity cache (the database when not fresh)."""
        identity = self.state.identities.get(token)
        if identity is None and token_kind(token) is TokenKind.ENDPOINT:
            # A fleet reconnecting at once: look-ups batched (services/authentication.py).
            identity = await self.state.identities.resolve(token, lambda: self._endpoint(token))
        elif identity is None:
            async with self.state.session() as session:
                identity = await authenticate(
                    session, self.state.settings, token, self.state.identities, device
                )
        # A cached identity too: the check-in route caches suspended tenants' credentials.
        return refuse_suspended(identity)

    async def _endpoint(self, token: str) -> tuple[Identity, float | None]:
        return await self.endpoint_lookups.identity(token), None

    async def _authenticate(self, context: Context, header: str | None) -> None:
        try:
            token = bearer_token(header)
            if token is None:
                return
            identity = await self.identify(token, device_of(context))
            context.identity = identity
            context.principal = identity.principal
            context.credential = token
            context.auth_error = None
        except AuthenticationFailed as error:
            context.principal = None
            context.identity = None
            context.credential = None
            context.auth_error = error
        except Exception as error:
            # The database is away: the operation fails with UNAVAILABLE, not a 500.
            problem = unavailability(error)
            if problem is None:
                raise
            self.state.dependencies.failed(problem)
            context.principal = None
            context.unavailable = problem


def device_of(context: Context) -> Device:
    """The device a request or socket comes from, as the session list shows it."""
    return Device(context.client_address, context.request.headers.get("user-agent", ""))


def create_gitstore(settings: Settings) -> LocalGitStore:
    """The managed store, or the external one with this process's mirrors (CRONTOPUS_GIT_STORE)."""
    git: GitSettings = settings.git
    if not git.external:
        return ManagedGitStore(settings.data_dir / "git")
    assert git.external_url is not None
    return ExternalGitStore(
        settings.data_dir / "git-mirrors",
        template=ExternalRemote(
            git.external_url, username=git.external_username, password=git.external_token
        ),
        fetch_interval=git.fetch_interval,
        mirror_served=True,
    )


def create_state(settings: Settings) -> AppState:
    """Build the process-wide objects (engine, session factory, rate limiter)."""
    engine = create_engine(settings.database_url, timeout=settings.database_timeout)
    session = create_session_factory(engine)
    broadcaster = create_broadcaster(settings)
    gitstore = create_gitstore(settings)
    metrics = Metrics()
    dependencies = DependencyTracker(
        {
            Dependency.DATABASE: database_probe(engine),
            Dependency.GIT_STORE: directory_probe(gitstore.root),
        },
        metrics,
        probe_timeout=settings.database_timeout + 5,
    )
    metrics.bind_subscriptions(broadcaster.subscriber_count)
    alerts = AlertEngine(
        settings, session, gitstore, broadcaster, metrics, dependencies=dependencies
    )
    state = AppState(
        settings=settings,
        engine=engine,
        session=session,
        limiter=create_rate_limiter(settings, engine),
        identities=IdentityCache(ttl=settings.auth_cache_seconds),
        gitstore=gitstore,
        broadcaster=broadcaster,
        ingest=MeteredIngestWriter(
            session,
            broadcaster,
            retention=settings.run_retention,
            on_stored=alerts.on_stored,
            runs=create_run_store(engine, session, settings.database_timeout),
            metrics=metrics,
            max_queue=settings.ingest_queue_limit,
            wait_timeout=settings.database_timeout,
            tracker=dependencies,
        ),
        job_directory=JobDirectory(gitstore),
        metrics=metrics,
        alerts=alerts,
        dependencies=dependencies,
        channels=AgentChannels(session, settings.heartbeat_interval),
        mail=MailOutbox(settings.mail, session),
    )
    if isinstance(gitstore, ExternalGitStore):
        # A remote tip is judged against the tenant's quota; every commit the mirror adopts
        # (its own too) is announced like a push, by one process of all that adopt it.
        gitstore.jobs_quota = state.jobs_quota
        state.announcer = CommitAnnouncer(gitstore, broadcaster, session, engine)
        gitstore.on_adopt = state.announcer.adopted
        state.mirror = MirrorSync(gitstore, session, settings.git.fetch_interval)
    return state


def create_app(settings: Settings, state: AppState | None = None) -> Starlette:
    """Create the Crontopus ASGI application."""
    state = state or create_state(settings)
    graphql_app = CrontopusGraphQL(state)
    groups = graphql_app.subscription_groups
    state.metrics.bind_subscription_groups(groups.group_count)
    bus_count = state.broadcaster.subscriber_count
    fanout = graphql_app.channel_fanout
    # A group holds one event-bus subscription for all its members: count the members.
    state.metrics.bind_subscriptions(
        lambda: (
            max(0, bus_count() - groups.group_count() - fanout.group_count())
            + groups.member_count()
            + fanout.member_count()
        )
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    # The router tries routes in order: the busiest paths come first.
    routes: list[BaseRoute] = [
        Route("/graphql", BrowserRedirect(graphql_app), methods=["GET", "POST"]),
        Route("/checkin/{job_id}/{event}", CheckInEndpoint(), methods=["POST"]),
        WebSocketRoute("/graphql", graphql_app),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
        Route("/auth/refresh", refresh_route, methods=["POST"]),
        Route("/auth/oidc/{provider}/start", oidc_start, methods=["GET"]),
        Route("/auth/oidc/{provider}/callback", oidc_callback, methods=["GET"]),
        Route("/operator/exports/{export_id}", download_export, methods=["GET"]),
    ]
    served = state.gitstore
    if isinstance(served, LocalGitStore):
        # The external store's mirrors are served too (read-only): agents fetch from here.
        limits = settings.transport
        git_app = make_git_http_app(
            served,
            state.git_access,
            state.on_push,
            state.dependencies.failed,
            max_body=limits.git_body,
            processes=ProcessSlots(limits.git_processes, limits.git_queue_seconds),
            max_jobs=settings.quotas.jobs,
        )
        routes.append(Mount("/git", app=git_app))
    routes.append(Route("/git-hooks/{tenant}", git_hook, methods=["POST"]))
    # Outermost first: the real client and scheme are known before anything else looks.
    checkin_body = settings.transport.checkin_body
    middleware = [
        *trusted_proxies_middleware(settings.trusted_proxies),
        # Plain check-ins skip the rest (routes/checkin_lane.py); browsers need CORS to see them.
        *([] if settings.cors_origins else [Middleware(CheckInLane, max_body=checkin_body)]),
        Middleware(SecurityHeadersMiddleware),
        Middleware(RequestIdMiddleware),
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
                max_age=600,
            )
        )
    # Inside CORS, so that a browser can read the 413 of a body that is too large.
    rules, other = body_rules(settings.transport)
    middleware.append(Middleware(BodyLimit, rules=rules, default=other))

    routes.extend(install_routes(settings))
    routes.extend(console_routes())  # last: its SPA fallback matches every other path
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        # A dependency that is away: 503 with Retry-After, not a 500 (availability.py).
        exception_handlers=unavailable_handlers(state.dependencies),
    )
    app.state.crontopus = state
    return app
