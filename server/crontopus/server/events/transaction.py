"""Publish an event as part of a database transaction: delivered on commit, never on rollback.

On the PostgreSQL bus the NOTIFY is issued inside the writer's transaction, and PostgreSQL
itself delivers it only when that transaction commits. Elsewhere (SQLite, or the in-process
bus) the event is held until SQLAlchemy reports the commit, and forgotten on rollback.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import encode_event
from crontopus.server.events.event import Event
from crontopus.server.events.postgres import PostgresBroadcaster

# One statement for a whole batch: a group commit of a thousand runs costs one round trip.
_NOTIFY_ALL = text(
    "SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload"
)
# Events waiting for the commit of a session or connection, with the broadcaster to use.
_pending: weakref.WeakKeyDictionary[Any, list[tuple[Broadcaster, Event]]] = (
    weakref.WeakKeyDictionary()
)
_tasks: set[asyncio.Task[None]] = set()


async def publish_in(
    broadcaster: Broadcaster, target: AsyncSession | AsyncConnection, event: Event
) -> None:
    """Publish `event` when `target`'s current transaction commits; drop it if it rolls back."""
    await publish_all_in(broadcaster, target, [event])


async def publish_all_in(
    broadcaster: Broadcaster, target: AsyncSession | AsyncConnection, events: Sequence[Event]
) -> None:
    """Publish `events`, in order, when `target`'s transaction commits; none on rollback."""
    if not events:
        return
    if isinstance(broadcaster, PostgresBroadcaster) and _dialect(target) == "postgresql":
        payloads = [broadcaster.encode(event) for event in events]
        await target.execute(_NOTIFY_ALL, {"channel": broadcaster.channel, "payloads": payloads})
        return
    for event in events:
        if isinstance(target, AsyncSession):
            _hold(target.sync_session, "after_commit", "after_rollback", broadcaster, event)
        else:
            _hold(target.sync_connection, "commit", "rollback", broadcaster, event)


def _dialect(target: AsyncSession | AsyncConnection) -> str:
    bind = target.get_bind() if isinstance(target, AsyncSession) else target
    return bind.dialect.name


def _hold(
    owner: Session | Connection | None,
    commit: str,
    rollback: str,
    broadcaster: Broadcaster,
    event: Event,
) -> None:
    if owner is None:
        raise RuntimeError("publish_in: the connection is closed; publish inside a transaction")
    encode_event(event)  # refuse a bad event here, in the writer's code, not in a commit hook
    pending = _pending.get(owner)
    if pending is None:
        pending = _pending[owner] = []
        sa_event.listen(owner, commit, _release)
        sa_event.listen(owner, rollback, _forget)
    pending.append((broadcaster, event))


def _release(owner: Session | Connection) -> None:
    for broadcaster, event in _pending.pop(owner, []):
        publish_nowait = getattr(broadcaster, "publish_nowait", None)
        if publish_nowait is not None:
            publish_nowait(event)
        else:
            task = asyncio.get_running_loop().create_task(broadcaster.publish(event))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)
    # Listeners stay registered; the next transaction starts with an empty list.
    _pending[owner] = []


def _forget(owner: Session | Connection) -> None:
    if owner in _pending:
        _pending[owner] = []
