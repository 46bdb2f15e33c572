"""Fan-out of tenant events to live subscribers.

`InProcessBroadcaster` serves one server process. Every subscriber gets a bounded queue:
a subscriber that falls behind is cut off with `SubscriberTooSlow` instead of slowing the
publisher, which is on the path of a commit or a check-in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """Something that happened in one tenant; `topic` says what kind, `data` the details."""

    tenant_id: uuid.UUID
    topic: str
    data: dict[str, Any] = field(default_factory=dict)


class SubscriberTooSlow(Exception):
    """The subscriber's queue overflowed; it must reconnect and re-read current state."""


class Broadcaster(Protocol):
    async def publish(self, event: Event) -> None:
        """Deliver `event` to every current subscriber of its tenant and topic."""

    def subscribe(self, tenant_id: uuid.UUID, topic: str) -> AsyncIterator[Event]:
        """Yield the tenant's events of `topic` until the consumer stops."""


class _Subscriber:
    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=capacity)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            # Wake the consumer so it learns at once that it was cut off.
            self.queue = asyncio.Queue(maxsize=1)
            self.queue.put_nowait(None)


class InProcessBroadcaster:
    """Subscribers of this process only; the default for a single server."""

    def __init__(self, capacity: int = 1000) -> None:
        self._capacity = capacity
        self._subscribers: dict[tuple[uuid.UUID, str], set[_Subscriber]] = defaultdict(set)

    async def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers.get((event.tenant_id, event.topic), ())):
            subscriber.offer(event)

    async def subscribe(self, tenant_id: uuid.UUID, topic: str) -> AsyncIterator[Event]:
        subscriber = _Subscriber(self._capacity)
        key = (tenant_id, topic)
        self._subscribers[key].add(subscriber)
        try:
            while True:
                event = await subscriber.queue.get()
                if event is None:
                    raise SubscriberTooSlow(
                        f"too many {topic} events were waiting for this subscriber; "
                        "reconnect and reload the current state"
                    )
                yield event
        finally:
            self._subscribers[key].discard(subscriber)
            if not self._subscribers[key]:
                del self._subscribers[key]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
