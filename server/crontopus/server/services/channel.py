"""The agent channel: what each connected agent is told, and which agents are connected here.

Every agent holds one WebSocket subscription (`agentEvents`) with its endpoint token. The
events travel on the tenant's `agents` topic of the event bus, so they reach an agent whichever
server process holds its socket; each subscription keeps only what concerns its endpoint:

- `repository_changed`: a commit changed jobs; `targets` lists the label sets those jobs
  target, before and after the change (null: every endpoint), so an agent none of them selects
  is not told and does not fetch;
- `run_requested`: run a job now on the listed endpoints (`runJobNow`);
- `revoked`: the listed endpoints were revoked; their agents stop using the token;
- `labels_changed`: an admin changed the listed endpoint's labels (`updateEndpoint`); its
  channel filters commits by the new ones from then on, and its agent heartbeats (which
  returns them) and syncs, since its jobs are chosen by label.

An open channel is the agent's presence: `AgentChannels` stamps `last_seen_at` of every
endpoint holding a channel on this process in one statement per interval, so agents need not
send a heartbeat mutation every interval while connected (docs/agent-protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import update

from crontopus.core.job import JobManifest
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import encode_event, to_event
from crontopus.server.events.errors import InvalidEvent
from crontopus.server.events.event import Event
from crontopus.server.events.topics import AgentEventKind, AgentNotice
from crontopus.server.gitstore import GitStore, JobChange, JobChangeKind

logger = logging.getLogger("crontopus.server.channel")

AGENT_EVENTS = AgentNotice.TOPIC
#: Label sets one announcement names; a commit touching more targets tells every endpoint.
MAX_TARGETS = 50
#: Endpoint ids per run request or revocation event (each id is ~40 bytes of the 8 KB limit).
IDS_PER_EVENT = 100
#: Endpoint ids per presence statement.
STAMP_CHUNK = 500


def _targets_of(manifests: Iterable[JobManifest | None]) -> list[dict[str, str]] | None:
    """The distinct label sets the manifests target; None when one targets every endpoint."""
    found: dict[frozenset[tuple[str, str]], dict[str, str]] = {}
    for manifest in manifests:
        if manifest is None or manifest.is_discovered:
            continue  # a discovered job is never installed by an agent
        labels = dict(manifest.targets.labels)
        if not labels:
            return None
        found[frozenset(labels.items())] = labels
        if len(found) > MAX_TARGETS:
            return None
    return list(found.values())


async def commit_notice(
    store: GitStore,
    tenant_id: uuid.UUID,
    tenant_slug: str,
    old: str | None,
    new: str,
    changes: Sequence[JobChange],
) -> Event | None:
    """The agent channel's announcement of a commit; None when no agent installs what changed."""
    if not changes:
        return None
    before: list[JobManifest | None] = []
    if old is not None and any(c.kind is not JobChangeKind.CREATED for c in changes):
        view = await store.snapshot(tenant_slug, old)
        for change in changes:
            entry = view.job(change.job_id)
            before.append(entry.manifest if entry is not None else None)
    manifests = [*before, *(change.manifest for change in changes)]
    if all(m is None or m.is_discovered for m in manifests):
        return None  # only discovered entries changed: no agent installs those
    targets = _targets_of(manifests)
    notice = AgentNotice(AgentEventKind.REPOSITORY_CHANGED, commit=new, targets=targets)
    event = to_event(tenant_id, notice)
    try:
        encode_event(event)
    except InvalidEvent:
        event = to_event(tenant_id, replace(notice, targets=None))  # too many: tell all
    return event


async def request_runs(
    broadcaster: Broadcaster,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    request_id: uuid.UUID,
    endpoint_ids: Sequence[uuid.UUID],
) -> None:
    """Ask the agents of `endpoint_ids` to run a job now."""
    for start in range(0, len(endpoint_ids), IDS_PER_EVENT):
        chunk = endpoint_ids[start : start + IDS_PER_EVENT]
        notice = AgentNotice(
            AgentEventKind.RUN_REQUESTED,
            job_id=job_id,
            request_id=request_id,
            endpoint_ids=list(chunk),
        )
        await broadcaster.publish(to_event(tenant_id, notice))


async def announce_revocation(
    broadcaster: Broadcaster, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> None:
    """Tell a revoked endpoint's agent at once, on whichever process holds its channel."""
    notice = AgentNotice(AgentEventKind.REVOKED, endpoint_ids=[endpoint_id])
    await broadcaster.publish(to_event(tenant_id, notice))


async def announce_labels(
    broadcaster: Broadcaster,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    labels: Mapping[str, str],
) -> None:
    """Tell an endpoint's channel its new labels, on whichever process holds it."""
    notice = AgentNotice(
        AgentEventKind.LABELS_CHANGED, endpoint_ids=[endpoint_id], labels=dict(labels)
    )
    await broadcaster.publish(to_event(tenant_id, notice))


def concerns(notice: AgentNotice, endpoint_id: uuid.UUID, labels: Mapping[str, str]) -> bool:
    """Tell whether an agent notice is for the endpoint with this id and these labels."""
    if notice.kind is AgentEventKind.REPOSITORY_CHANGED:
        if notice.targets is None:
            return True
        return any(all(labels.get(k) == v for k, v in t.items()) for t in notice.targets)
    return endpoint_id in (notice.endpoint_ids or ())


class AgentChannels:
    """The endpoints holding an agent channel on this process, kept present in bulk.

    Every `interval` seconds (with a little jitter, so processes started together do not
    write together) one UPDATE per 500 connected endpoints sets `last_seen_at`: presence costs
    the server a statement per interval, not a request per agent.
    """

    def __init__(self, session: SessionFactory, interval: float) -> None:
        self._session = session
        self._interval = interval
        self._connected: dict[uuid.UUID, int] = {}
        self._task: asyncio.Task[None] | None = None

    def opened(self, endpoint_id: uuid.UUID) -> None:
        self._connected[endpoint_id] = self._connected.get(endpoint_id, 0) + 1

    def closed(self, endpoint_id: uuid.UUID) -> None:
        left = self._connected.get(endpoint_id, 0) - 1
        if left > 0:
            self._connected[endpoint_id] = left
        else:
            self._connected.pop(endpoint_id, None)

    def count(self) -> int:
        """Return how many endpoints hold a channel on this process."""
        return len(self._connected)

    def is_connected(self, endpoint_id: uuid.UUID) -> bool:
        return endpoint_id in self._connected

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stamp(self, now: datetime | None = None) -> int:
        """Mark every connected endpoint as seen now; return how many rows were written."""
        ids = list(self._connected)
        now = now or utcnow()
        written = 0
        for start in range(0, len(ids), STAMP_CHUNK):
            chunk = ids[start : start + STAMP_CHUNK]
            async with self._session() as session:
                result = await session.execute(
                    update(Endpoint)
                    .where(Endpoint.id.in_(chunk), Endpoint.revoked_at.is_(None))
                    .values(last_seen_at=now)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
            written += int(getattr(result, "rowcount", 0) or 0)
        return written

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval * random.uniform(0.9, 1.0))  # noqa: S311 (not a secret)
            if not self._connected:
                continue
            try:
                await self.stamp()
            except Exception:
                # The database is away: the next interval tries again; agents stay online
                # until `offline_after`, which spans several intervals.
                logger.warning("recording the presence of connected agents failed", exc_info=True)
