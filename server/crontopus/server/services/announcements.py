"""Announcing the commits an external store's mirror adopts: once, among all server processes.

With `CRONTOPUS_GIT_STORE=external` every server process mirrors every tenant's repository
and adopts each new commit (docs/git-store.md): one process wrote it through the API, and
every process fetches it, by webhook or by its periodic fetch. The PostgreSQL event bus
carries one process's announcement to the `jobEvents` subscribers and agent channels of all
of them, so one announcement per commit is enough, and the first process to *claim* the
commit makes it.

A claim is a short transaction of its own (never the caller's, and never awaited by the
store's write path: `adopted` only queues the work) on PostgreSQL:

1. `pg_advisory_xact_lock` on the tenant, waiting at most `lock_timeout`;
2. read the commit announced last for the tenant: its `commit_announcements` row, by
   primary key;
3. that commit already: nothing to do. Else, if it is the commit this process's events were
   computed from (or there is none), upsert the row and NOTIFY the events in the same
   transaction, so the record and the announcement commit together or not at all. Else
   another process announced a commit this one has not: recompute the events from that
   commit (when the mirror has it), so that the announcements form one chain of diffs, and
   claim again.

A claim that fails or waits too long announces anyway, without a record: a repeat rather than
a loss. A process that did not announce has still moved its own mirror; only the
announcement is skipped. SQLite (one process) and the in-process bus announce every commit,
as there is nobody to repeat it for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import CommitAnnouncement
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.event import Event
from crontopus.server.events.postgres import PostgresBroadcaster
from crontopus.server.events.transaction import publish_all_in
from crontopus.server.gitstore import CommitNotFoundError, GitStore
from crontopus.server.services.git_access import tenant_by_slug
from crontopus.server.services.jobs import job_change_events

log = logging.getLogger(__name__)

#: How long a claim waits for another process's claim of the same tenant.
LOCK_TIMEOUT = 2.0
#: How long a whole claim may take (a connection from the pool included).
CLAIM_TIMEOUT = 10.0
#: Claims against a record that keeps moving before the events are announced regardless.
CLAIM_ATTEMPTS = 3

#: Salts the tenant's advisory lock key, apart from any other lock taken on a tenant's id.
_LOCK_SALT = b"announced"
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :timeout, true)")


@dataclass(frozen=True)
class Claim:
    """What a claim found: the commit announced last before it, and whether it announced."""

    recorded: str | None
    announced: bool


class CommitAnnouncer:
    """Announces the commits the external store adopts, in the background, one tenant's in order."""

    def __init__(
        self,
        store: GitStore,
        broadcaster: Broadcaster,
        session: SessionFactory,
        engine: AsyncEngine,
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        claim_timeout: float = CLAIM_TIMEOUT,
    ) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.session = session
        self.engine = engine
        self.lock_timeout = lock_timeout
        self.claim_timeout = claim_timeout
        # Only where one announcement reaches every process's subscribers are claims of use.
        self.claims = engine.dialect.name == "postgresql" and isinstance(
            broadcaster, PostgresBroadcaster
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}

    async def adopted(self, tenant_slug: str, old: str | None, new: str) -> None:
        """The store's `on_adopt`: queue the announcement and return at once.

        The store awaits this from whatever moved its mirror (a read, an API write, a
        sign-up's first commit), maybe while the caller's transaction is open: the claim runs
        later, on a connection of its own, so it never waits for its own caller.
        """
        previous = self._last.get(tenant_slug)
        task = asyncio.create_task(
            self._after(previous, tenant_slug, old, new), name=f"announce {tenant_slug} {new}"
        )
        self._tasks.add(task)
        self._last[tenant_slug] = task
        task.add_done_callback(lambda done: self._done(tenant_slug, done))

    def _done(self, tenant_slug: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(tenant_slug) is task:
            del self._last[tenant_slug]

    async def _after(
        self, previous: asyncio.Task[None] | None, tenant_slug: str, old: str | None, new: str
    ) -> None:
        if previous is not None:
            # A tenant's commits are announced in the order the mirror adopted them.
            await asyncio.wait({previous})
        try:
            await self.announce(tenant_slug, old, new)
        except Exception:
            log.exception("announcing %s's commit %s failed", tenant_slug, new)

    async def settled(self) -> None:
        """Wait until every queued announcement is made (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def stop(self) -> None:
        """Make the queued announcements, then stop (the event bus stops after)."""
        await self.settled()

    async def announce(self, tenant_slug: str, old: str | None, new: str) -> None:
        """Announce the move of the tenant's mirror from `old` to `new`, unless another
        process announced `new` already."""
        async with self.session() as session:
            tenant = await tenant_by_slug(session, tenant_slug)
        if tenant is None:
            return  # a tenant still signing up: its first commit holds no jobs
        expected = old
        events = await job_change_events(self.store, tenant.id, tenant_slug, old, new)
        if not self.claims:
            await self._publish(events)
            return
        for attempt in range(1, CLAIM_ATTEMPTS + 1):
            try:
                async with asyncio.timeout(self.claim_timeout):
                    claim = await self.claim(
                        tenant.id, new, expected, events, force=attempt == CLAIM_ATTEMPTS
                    )
            except Exception as error:
                # A repeat is harmless (agents compare commits, clients reload); a loss is not.
                log.warning(
                    "%s: could not claim the announcement of commit %s (%s); announcing it "
                    "anyway, other server processes may announce it too",
                    tenant_slug,
                    new,
                    error if str(error) else type(error).__name__,
                )
                await self._publish(events)
                return
            if claim.announced or claim.recorded == new:
                return
            # Another process announced a commit this one skipped or has not adopted yet:
            # announce what changed since that one, so every subscriber sees one chain.
            expected = claim.recorded
            try:
                events = await job_change_events(self.store, tenant.id, tenant_slug, expected, new)
            except CommitNotFoundError:
                # Not in this mirror (a force push replaced it): what changed since ours.
                events = await job_change_events(self.store, tenant.id, tenant_slug, old, new)

    async def claim(
        self,
        tenant_id: uuid.UUID,
        commit: str,
        expected: str | None,
        events: Sequence[Event],
        *,
        force: bool = False,
    ) -> Claim:
        """Record `commit` as the tenant's announced commit and NOTIFY `events`, in one
        transaction, if the record holds `expected` (or nothing; anything with `force`)."""
        async with self.engine.connect() as connection, connection.begin():
            await connection.execute(_LOCK_TIMEOUT, {"timeout": f"{self.lock_timeout * 1000:.0f}"})
            await connection.execute(_LOCK, {"key": claim_lock_key(tenant_id)})
            recorded = await _recorded(connection, tenant_id)
            if recorded == commit:
                return Claim(recorded, announced=False)
            if recorded is not None and recorded != expected and not force:
                return Claim(recorded, announced=False)
            record = insert(CommitAnnouncement).values(
                tenant_id=tenant_id, commit_id=commit, announced_at=func.now()
            )
            await connection.execute(
                record.on_conflict_do_update(
                    index_elements=[CommitAnnouncement.tenant_id],
                    set_={
                        "commit_id": record.excluded.commit_id,
                        "announced_at": record.excluded.announced_at,
                    },
                )
            )
            await publish_all_in(self.broadcaster, connection, events)
        return Claim(recorded, announced=True)

    async def _publish(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.broadcaster.publish(event)


def claim_lock_key(tenant_id: uuid.UUID) -> int:
    """The advisory lock that serialises the claims of one tenant's commits."""
    digest = hashlib.blake2b(tenant_id.bytes + _LOCK_SALT, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _recorded(connection: AsyncConnection, tenant_id: uuid.UUID) -> str | None:
    return await connection.scalar(
        select(CommitAnnouncement.commit_id).where(CommitAnnouncement.tenant_id == tenant_id)
    )
