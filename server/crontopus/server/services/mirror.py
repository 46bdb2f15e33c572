"""Keep this process's mirrors of the tenants' external repositories fresh.

With `CRONTOPUS_GIT_STORE=external` each server process keeps its own mirror of every
tenant's repository (docs/git-store.md). Two things fetch besides reads: a periodic pass
over every tenant, every `CRONTOPUS_GIT_FETCH_INTERVAL` seconds give or take a fifth (so
that processes started together do not fetch together), a few tenants at a time; and the
forge's push webhook, which asks for one tenant's fetch at once. Each fetch validates a new
remote tip before the mirror adopts it; an adopted tip is announced through the store's
`on_adopt` (the server's `CommitAnnouncer`, which makes one process of all announce it), so
subscribers and agents learn of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
from collections.abc import Iterator, Mapping

from sqlalchemy import select

from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Tenant
from crontopus.server.gitstore import ExternalGitStore, RemoteError

log = logging.getLogger(__name__)

#: How many tenants one periodic pass fetches at once.
CONCURRENT_FETCHES = 4
#: How far the pause between two passes strays from the interval, either way.
JITTER = 0.2


class MirrorSync:
    """The periodic fetch of every tenant's remote, and fetches asked for by webhooks."""

    def __init__(
        self,
        store: ExternalGitStore,
        session: SessionFactory,
        interval: float,
        *,
        concurrency: int = CONCURRENT_FETCHES,
    ) -> None:
        self.store = store
        self.session = session
        self.interval = interval
        self.concurrency = concurrency
        self._loop_task: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def start(self) -> None:
        """Start the periodic fetch."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="git mirror fetch")

    async def stop(self) -> None:
        """Stop fetching; fetches in flight are cancelled (the next start fetches again)."""
        tasks = [t for t in (self._loop_task, *self._running.values()) if t is not None]
        self._loop_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def request(self, tenant: str) -> None:
        """Fetch one tenant now (a push webhook); a fetch already running is followed by one."""
        if tenant in self._running:
            # The running fetch may have started before the push: fetch once more after it.
            self._again.add(tenant)
            return
        task = asyncio.create_task(self._requested(tenant), name=f"git mirror fetch {tenant}")
        self._running[tenant] = task
        task.add_done_callback(lambda _: self._running.pop(tenant, None))

    async def _requested(self, tenant: str) -> None:
        while True:
            self._again.discard(tenant)
            await self.sync(tenant)
            if tenant not in self._again:
                return

    async def sync(self, tenant: str) -> None:
        """Fetch one tenant; a remote that is away is logged (its mirror stays readable)."""
        with _logged(tenant):
            await self.store.sync(tenant)

    async def sync_all(self) -> None:
        """Fetch every tenant that is not suspended, a few at a time."""
        async with self.session() as session:
            slugs = list(
                await session.scalars(select(Tenant.slug).where(Tenant.suspended_at.is_(None)))
            )
        gate = asyncio.Semaphore(self.concurrency)

        async def one(slug: str) -> None:
            async with gate:
                # A tenant a read or a webhook fetched a moment ago is not fetched again.
                with _logged(slug):
                    await self.store.fetch(slug, max_age=self.interval / 2)
                    if await self.store.head(slug) is None:
                        # Its repository was not on the forge when the tenant was created
                        # (or held nothing valid): give it default/ and discovered/ now.
                        await self.store.ensure_repository(slug)

        await asyncio.gather(*(one(slug) for slug in slugs))

    async def _loop(self) -> None:
        # The first pass comes after a random part of the interval: processes started
        # together spread out from the start.
        await asyncio.sleep(random.uniform(0, self.interval))  # noqa: S311 (not security)
        while True:
            try:
                await self.sync_all()
            except Exception:
                # The database being away skips a pass; reads still fetch on their own.
                log.warning("the periodic fetch of the tenants' repositories failed", exc_info=True)
            pause = self.interval * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            await asyncio.sleep(pause)


@contextlib.contextmanager
def _logged(tenant: str) -> Iterator[None]:
    """Log a failed fetch instead of raising: the mirror stays readable, the next one retries."""
    try:
        yield
    except RemoteError as error:
        log.warning("fetching %s's repository failed: %s", tenant, error)
    except Exception:
        log.exception("fetching %s's repository failed", tenant)


def webhook_signed(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Tell whether a push webhook carries the shared secret, the way some forge sends it.

    GitHub, Forgejo and Gitea sign the body with HMAC-SHA256 (`X-Hub-Signature-256:
    sha256=<hex>`, `X-Forgejo-Signature` and `X-Gitea-Signature: <hex>`); GitLab sends
    the secret itself (`X-Gitlab-Token`). Comparisons take constant time.
    """
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    github = headers.get("x-hub-signature-256")
    if github is not None:
        scheme, _, value = github.partition("=")
        return scheme == "sha256" and hmac.compare_digest(value.strip().lower(), expected)
    for name in ("x-forgejo-signature", "x-gitea-signature"):
        signature = headers.get(name)
        if signature is not None:
            return hmac.compare_digest(signature.strip().lower(), expected)
    token = headers.get("x-gitlab-token")
    if token is not None:
        return hmac.compare_digest(token.encode(), secret.encode())
    return False
