"""Fan-out of tenant events to live subscribers.

`InProcessBroadcaster` serves one server process. Every subscriber gets a bounded queue:
a subscriber that falls behind is cut off with `SubscriberTooSlow` instead of slowing the
publisher, which is on the path of a commit or a check-in. `PostgresBroadcaster`
(`events/postgres.py`) carries events between processes and uses this one for its local
fan-out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from typing import Protocol

from crontopus.server.events.codec import encode_event
from crontopus.server.events.errors import (
    EventBusInterrupted,
    EventBusUnavailable,
    EventsLost,
    EventTooLarge,
    InvalidEvent,
    SubscriberTooSlow,
)
from crontopus.server.events.event import Event

__all__ = [
    "Broadcaster",
    "Event",
    "EventBusInterrupted",
    "EventBusUnavailable",
    "EventTooLarge",
    "EventsLost",
    "InProcessBroadcaster",
    "InvalidEvent",
    "SubscriberTooSlow",
]


class Broadcaster(Protocol):
    async def start(self) -> None:
        """Acquire what delivery needs (a database connection); called by the app lifespan."""

    async def stop(self) -> None:
        """End every subscriber's stream and release connections."""

    async def publish(self, event: Event) -> None:
        """Deliver `event` to every current subscriber of its tenant and topic, never blocking."""

    def subscribe(self, tenant_id: uuid.UUID, topic: str) -> AsyncIterator[Event]:
        """Yield the tenant's events of `topic` until the consumer stops."""

    def listened(self, tenant_id: uuid.UUID, topic: str) -> bool:
        """Tell whether an event of this tenant and topic could reach anyone now.

        A publisher of many events (ingest) skips building those nobody would receive.
        """

    def subscriber_count(self) -> int:
        """Return how many subscriptions this process holds now (the subscriptions gauge)."""


_END = None  # queue item that ends a stream cleanly (server shutting down)


class _Subscriber:
    def __init__(self, capacity: int, max_lag: float) -> None:
        # Unbounded underneath so a clean end can always be queued behind the backlog;
        # `offer` enforces the capacity.
        self.queue: asyncio.Queue[Event | EventsLost | None] = asyncio.Queue()
        self.queued_at: deque[float] = deque()  # when each waiting event was offered
        self.capacity = capacity
        self.max_lag = max_lag
        self.ended = False

    def offer(self, event: Event) -> None:
        if self.ended:
            return
        now = time.monotonic()
        if self.queue.qsize() >= self.capacity:
            problem = f"more than {self.capacity} {event.topic} events were waiting"
        elif self.queued_at and now - self.queued_at[0] > self.max_lag:
            # Behind in time though not in count: a server too busy to send (or a
            # client too slow to read) a trickle of events is just as stale.
            problem = f"{event.topic} events waited more than {self.max_lag:g} s"
        else:
            self.queue.put_nowait(event)
            self.queued_at.append(now)
            return
        self.end(
            SubscriberTooSlow(
                f"{problem} for this subscriber; resubscribe and reload the current state"
            )
        )

    def taken(self) -> None:
        self.queued_at.popleft()

    def end(self, reason: EventsLost | None) -> None:
        """End the stream: after the backlog when clean, at once (backlog dropped) on a loss."""
        if self.ended:
            return
        self.ended = True
        if reason is not None:
            # Drop the backlog (in place: the consumer may be waiting on this very queue).
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queued_at.clear()
        self.queue.put_nowait(reason)


class InProcessBroadcaster:
    """Subscribers of this process only; the default for a single server."""

    def __init__(self, capacity: int = 1000, max_lag: float = 10.0) -> None:
        self._capacity = capacity
        self._max_lag = max_lag
        self._subscribers: dict[tuple[uuid.UUID, str], set[_Subscriber]] = defaultdict(set)

    async def start(self) -> None:
        """Nothing to acquire: in-process delivery needs no connection."""

    async def stop(self) -> None:
        self.end_all(None)

    async def publish(self, event: Event) -> None:
        self.publish_nowait(event)

    def publish_nowait(self, event: Event) -> None:
        """Publish from synchronous code (a commit hook); same checks as `publish`."""
        encode_event(event)  # the PostgreSQL bus's limits hold here too, so tests catch them
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Offer `event` to local subscribers without checks (it was checked when published)."""
        for subscriber in list(self._subscribers.get((event.tenant_id, event.topic), ())):
            subscriber.offer(event)

    def end_all(self, reason: EventsLost | None) -> None:
        """End every current stream, with `reason` raised to the consumer (None: cleanly)."""
        for subscribers in list(self._subscribers.values()):
            for subscriber in list(subscribers):
                subscriber.end(reason)

    async def subscribe(self, tenant_id: uuid.UUID, topic: str) -> AsyncIterator[Event]:
        subscriber = _Subscriber(self._capacity, self._max_lag)
        key = (tenant_id, topic)
        self._subscribers[key].add(subscriber)
        try:
            while True:
                item = await subscriber.queue.get()
                if item is _END:
                    return
                if isinstance(item, EventsLost):
                    # A fresh instance per consumer: one reason may end many streams.
                    raise type(item)(*item.args)
                subscriber.taken()
                yield item
        finally:
            subscribers = self._subscribers.get(key)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[key]

    def listened(self, tenant_id: uuid.UUID, topic: str) -> bool:
        return (tenant_id, topic) in self._subscribers

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
