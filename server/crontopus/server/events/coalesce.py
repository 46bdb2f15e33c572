"""Batch a subscriber's events over a short window, so a burst costs one delivery.

A dashboard watching a fleet that reports a thousand runs a second cannot take a WebSocket
frame per run; it can take twenty lists of fifty. The window starts at the first event of a
batch, so a lone event waits at most `window` seconds and a quiet stream costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")

DEFAULT_WINDOW = 0.05
DEFAULT_MAX_BATCH = 100


async def coalesce(
    source: AsyncIterator[T], window: float = DEFAULT_WINDOW, max_batch: int = DEFAULT_MAX_BATCH
) -> AsyncIterator[list[T]]:
    """Yield lists of `source`'s items: each spans at most `window` seconds and `max_batch` items.

    An error from `source` (such as `SubscriberTooSlow`) is raised after the items that came
    before it have been yielded. Closing the result closes `source`.
    """
    if window < 0 or max_batch < 1:
        raise ValueError(f"coalesce: window ({window}) must be >= 0 and max_batch >= 1")
    # One reader task per stream and one timer per batch, not a task per item: a thousand
    # subscribers each reading a thousand events a second must not cost a million tasks.
    loop = asyncio.get_running_loop()
    buffer: deque[T] = deque()
    ended: list[BaseException | None] = []
    waiter: asyncio.Future[None] | None = None
    space: asyncio.Future[None] | None = None

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def make_room() -> None:
        if space is not None and not space.done():
            space.set_result(None)

    async def pump() -> None:
        nonlocal space
        try:
            async for item in source:
                buffer.append(item)
                if len(buffer) == 1 or len(buffer) >= max_batch:
                    wake()
                if len(buffer) >= max_batch:
                    # Hold at one full batch, so a consumer that stops reading lets the
                    # source's bounded queue fill and cut it off, instead of this buffer growing.
                    space = loop.create_future()
                    await space
        except Exception as error:
            ended.append(error)
        else:
            ended.append(None)
        finally:
            wake()

    reader = asyncio.create_task(pump())
    try:
        while True:
            if not buffer and not ended:
                waiter = loop.create_future()
                await waiter
            if buffer and len(buffer) < max_batch and not ended:
                # The window opens at the first item; `pump` ends it early on a full batch.
                waiter = loop.create_future()
                timer = loop.call_later(window, wake)
                try:
                    await waiter
                finally:
                    timer.cancel()
            if buffer:
                batch = [buffer.popleft() for _ in range(min(max_batch, len(buffer)))]
                make_room()
                yield batch
                continue
            if ended[0] is not None:
                raise ended[0]
            return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
