"""Events between server processes over PostgreSQL LISTEN/NOTIFY.

Each process holds one dedicated asyncpg connection (outside SQLAlchemy's pool, which
would hand it to other work) that LISTENs on `crontopus_events` and also sends this
process's NOTIFYs. A published event reaches local subscribers only when its notification
comes back from PostgreSQL, so every process, the publisher's included, delivers it exactly
once and in the order PostgreSQL committed it.

When the connection drops, the supervisor reconnects with exponential backoff. Everything
other processes published meanwhile is gone (PostgreSQL keeps no notifications for a
session that is not listening), so local streams end with `EventBusInterrupted` to tell
clients to resubscribe and reload. See docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from crontopus.server.events.broadcaster import InProcessBroadcaster
from crontopus.server.events.codec import decode_event, encode_event, pack, peek_event, unpack
from crontopus.server.events.errors import EventBusInterrupted, EventBusUnavailable, InvalidEvent
from crontopus.server.events.event import Event

logger = logging.getLogger("crontopus.server.events")

CHANNEL = "crontopus_events"
# Shown in pg_stat_activity, so an operator can tell the listeners apart from the pool.
APPLICATION_NAME = "crontopus-events"
_NOTIFY_MANY = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"
_SEND_BATCH = 500


def dsn_of(database_url: str) -> str:
    """Turn SQLAlchemy's `postgresql+asyncpg://…` URL into the libpq form asyncpg takes."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PostgresBroadcaster:
    """Delivers every event to the subscribers of every process sharing one PostgreSQL."""

    def __init__(
        self,
        dsn: str,
        *,
        channel: str = CHANNEL,
        capacity: int = 1000,
        max_lag: float = 10.0,
        outbox_capacity: int = 10_000,
        reconnect_initial: float = 0.2,
        reconnect_max: float = 30.0,
        ping_interval: float = 10.0,
        query_timeout: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._local = InProcessBroadcaster(capacity, max_lag)
        self._outbox: deque[str] = deque()
        self._outbox_capacity = outbox_capacity
        self._wakeup = asyncio.Event()
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._ping_interval = ping_interval
        self._query_timeout = query_timeout
        self._connected = False
        self._connection: Any = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._prefix = secrets.token_hex(4)
        self._sequence = itertools.count()
        self._last_drop_log = 0.0
        self.reconnects = 0
        self.dropped = 0

    @property
    def channel(self) -> str:
        return self._channel

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self) -> None:
        """Connect and LISTEN before returning, so the server never serves a deaf bus."""
        if self._supervisor is not None:
            return
        self._stopping = False
        try:
            connection, lost = await self._open()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            raise EventBusUnavailable(
                f"event bus: cannot LISTEN on PostgreSQL ({type(error).__name__}: {error}); "
                "check CRONTOPUS_DATABASE_URL, or set CRONTOPUS_EVENT_BUS=inprocess for a "
                "single server"
            ) from None
        self._supervisor = asyncio.create_task(self._supervise(connection, lost))

    async def stop(self) -> None:
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        self._local.end_all(None)

    async def publish(self, event: Event) -> None:
        self.publish_nowait(event)

    def publish_nowait(self, event: Event) -> None:
        """Queue `event` for NOTIFY; drop it (counted, logged) when the outbox is full."""
        payload = self.encode(event)
        if len(self._outbox) >= self._outbox_capacity:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log > 60:
                self._last_drop_log = now
                logger.warning(
                    "event bus: outbox full (%d events waiting for PostgreSQL); dropped %d so far",
                    len(self._outbox),
                    self.dropped,
                )
            return
        self._outbox.append(payload)
        self._wakeup.set()

    def encode(self, event: Event) -> str:
        """Return the NOTIFY payload of `event`, unique per publication."""
        return encode_event(event, f"{self._prefix}.{next(self._sequence)}")

    async def subscribe(self, tenant_id: uuid.UUID, topic: str) -> AsyncIterator[Event]:
        # Checked and registered without an await between: no drop can slip in unseen.
        if not self._connected:
            raise EventBusInterrupted(
                "live events are unavailable: the server is reconnecting to PostgreSQL; "
                "retry in a few seconds"
            )
        stream = self._local.subscribe(tenant_id, topic)
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]  # unregister now, not at GC

    def listened(self, tenant_id: uuid.UUID, topic: str) -> bool:
        """Always: subscribers on other server processes are not known here."""
        return True

    def subscriber_count(self) -> int:
        return self._local.subscriber_count()

    def backend_pid(self) -> int | None:
        """The PostgreSQL process id of the listener connection (for operators and tests)."""
        connection = self._connection
        if connection is None or connection.is_closed():
            return None
        pid: int = connection.get_server_pid()
        return pid

    async def _open(self) -> tuple[Any, asyncio.Event]:
        lost = asyncio.Event()
        connection = await asyncio.wait_for(
            asyncpg.connect(self._dsn, server_settings={"application_name": APPLICATION_NAME}),
            self._query_timeout,
        )

        def on_terminated(_connection: Any) -> None:
            lost.set()
            self._wakeup.set()

        try:
            connection.add_termination_listener(on_terminated)
            await connection.add_listener(self._channel, self._on_notification)
        except BaseException:
            connection.terminate()
            raise
        self._connection = connection
        self._connected = True
        return connection, lost

    async def _supervise(self, connection: Any, lost: asyncio.Event) -> None:
        delay = self._reconnect_initial
        failing = False  # one warning per outage, not one per reconnect attempt
        while True:
            try:
                if connection is None:
                    connection, lost = await self._open()
                    self.reconnects += 1
                    logger.warning("event bus: listening on PostgreSQL again")
                    delay = self._reconnect_initial
                    failing = False
                await self._send_until_lost(connection, lost)
            except Exception as error:  # the supervisor must outlive any connection failure
                log = logger.debug if failing else logger.warning
                log("event bus: PostgreSQL connection failed: %s; reconnecting", error)
                failing = True
            finally:
                was_connected = self._connected
                self._connected = False
                self._connection = None
                if connection is not None:
                    connection.terminate()
                connection = None
                if was_connected and not self._stopping:
                    self._local.end_all(
                        EventBusInterrupted(
                            "live events were interrupted (the server lost its PostgreSQL "
                            "listener and some events may be missing); resubscribe and reload"
                        )
                    )
            # Jitter spreads the reconnects of many server processes after a failover.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (not a secret)
            delay = min(delay * 2, self._reconnect_max)

    async def _send_until_lost(self, connection: Any, lost: asyncio.Event) -> None:
        while not lost.is_set():
            if not self._outbox:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self._ping_interval)
                except TimeoutError:
                    # An idle connection can die silently (a NAT or a failover); probe it.
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), self._query_timeout)
                continue
            batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), _SEND_BATCH))]
            # If this fails the batch is dropped: PostgreSQL may or may not have sent it, and
            # sending twice would break exactly-once delivery for the other processes.
            await asyncio.wait_for(
                connection.execute(_NOTIFY_MANY, self._channel, pack(batch)), self._query_timeout
            )
        raise ConnectionError("listener connection closed")

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        for text in unpack(payload):
            self._receive(text)

    def _receive(self, text: str) -> None:
        head = peek_event(text)
        if head is not None and not self._local.listened(*head):
            return  # nobody here subscribes to it: not worth decoding
        try:
            tenant_id, topic, data = decode_event(text)
        except InvalidEvent as error:
            logger.warning("event bus: ignored a notification on %s: %s", self._channel, error)
            return
        self._local.deliver(Event(tenant_id, topic, data))
