"""The long-lived objects of one server process, and how a route reaches them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from crontopus.server.availability import DependencyTracker
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Tenant
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.gitstore import GitAccess, GitStore, RemoteError
from crontopus.server.mail.outbox import MailOutbox
from crontopus.server.observability.metrics import Metrics
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.ratelimit import RateLimiter
from crontopus.server.services.alerts.engine.engine import AlertEngine
from crontopus.server.services.announcements import CommitAnnouncer
from crontopus.server.services.channel import AgentChannels
from crontopus.server.services.git_access import git_access, tenant_by_slug
from crontopus.server.services.ingest import IngestWriter
from crontopus.server.services.job_directory import JobDirectory
from crontopus.server.services.jobs import publish_job_changes
from crontopus.server.services.mirror import MirrorSync
from crontopus.server.services.quotas import effective_quotas
from crontopus.server.settings import Settings
from crontopus.server.sso.client import OidcClient

logger = logging.getLogger("crontopus.server")
STOP_STEP_TIMEOUT = 20.0


@dataclass
class AppState:
    """The long-lived objects of one server process."""

    settings: Settings
    engine: AsyncEngine
    session: SessionFactory
    limiter: RateLimiter
    identities: IdentityCache
    gitstore: GitStore
    broadcaster: Broadcaster
    ingest: IngestWriter
    job_directory: JobDirectory
    metrics: Metrics
    alerts: AlertEngine
    dependencies: DependencyTracker
    channels: AgentChannels
    mail: MailOutbox
    oidc: OidcClient = field(default_factory=OidcClient)
    #: The external store's periodic fetch and webhook fetches (None: the managed store).
    mirror: MirrorSync | None = None
    #: Who announces the commits the external store adopts (None: the managed store).
    announcer: CommitAnnouncer | None = None

    async def start(self) -> None:
        """Start the background parts (the check-in writer, alerting)."""
        await self.broadcaster.start()
        self.ingest.start()
        await self.alerts.start(loops=self.settings.in_process_worker)
        if self.settings.in_process_worker:
            self.mail.start()
        self.channels.start()
        if self.mirror is not None:
            self.mirror.start()

    async def stop(self) -> None:
        """Drain queued check-ins, then release connections; no step may hang shutdown."""
        steps = (
            ("git mirror fetches", self._stop_mirror),
            ("commit announcements", self._stop_announcer),
            ("agent channels", self.channels.stop),
            ("ingest", self.ingest.stop),
            ("alerts", self.alerts.stop),
            ("mail outbox", self.mail.stop),
            ("event bus", self.broadcaster.stop),
            ("dependency probes", self.dependencies.stop),
            ("single sign-on client", self.oidc.close),
            ("database", self.engine.dispose),
        )
        for name, step in steps:
            task = asyncio.ensure_future(step())
            done, _ = await asyncio.wait({task}, timeout=STOP_STEP_TIMEOUT)
            if not done:
                # A peer that stopped answering must not keep the process from exiting; the
                # task is cancelled without waiting, as its cancellation could hang too.
                task.cancel()
                logger.error("stopping the %s took over %.0f s; moving on", name, STOP_STEP_TIMEOUT)
            elif task.exception() is not None:
                logger.error("stopping the %s failed", name, exc_info=task.exception())

    async def _stop_mirror(self) -> None:
        if self.mirror is not None:
            await self.mirror.stop()

    async def _stop_announcer(self) -> None:
        if self.announcer is not None:
            await self.announcer.stop()

    async def on_tenant_created(self, tenant: Tenant) -> None:
        """Give every new tenant its job repository."""
        try:
            await self.gitstore.ensure_repository(tenant.slug)
        except RemoteError as error:
            # A forge that is away, or has no repository for the tenant yet, must not stop
            # a sign-up: the periodic fetch sets the repository up once it can.
            logger.warning(
                "tenant %s: its repository on the forge is not ready: %s", tenant.slug, error
            )

    async def git_access(self, tenant_slug: str, password: str) -> GitAccess | None:
        async with self.session() as session:
            return await git_access(session, self.settings, self.identities, tenant_slug, password)

    async def jobs_quota(self, tenant_slug: str) -> int | None:
        """The tenant's jobs quota, which a remote tip must hold to be adopted."""
        async with self.session() as session:
            tenant = await tenant_by_slug(session, tenant_slug)
        if tenant is None:
            return self.settings.quotas.jobs
        return effective_quotas(self.settings.quotas, tenant.quota_overrides).jobs

    async def on_push(self, tenant_slug: str, old: str | None, new: str) -> None:
        """Announce the jobs a `git push` to a managed repository changed."""
        async with self.session() as session:
            tenant = await tenant_by_slug(session, tenant_slug)
        if tenant is not None:
            await publish_job_changes(
                self.gitstore, self.broadcaster, tenant.id, tenant_slug, old, new
            )


def app_state(connection: HTTPConnection) -> AppState:
    """Return the state `create_app` attached to the application serving `connection`."""
    state = connection.app.state.crontopus
    assert isinstance(state, AppState), "create_app attaches the AppState"
    return state
