"""Batch a subscriber's events over a short window, so a burst costs one delivery.

A dashboard watching a fleet that reports a thousand runs a second cannot take a WebSocket
frame per run; it can take twenty lists of fifty. The window starts at the first event of a
batch, so a lone event waits at most `window` seconds and a quiet stream costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    loop = asyncio.get_running_loop()
    # The pending read survives a window's end: cancelling it would close `source`.
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            try:
                first = await pending
            except StopAsyncIteration:
                return
            finally:
                pending = None
            batch = [first]
            failure: BaseException | None = None
            deadline = loop.time() + window
            while len(batch) < max_batch:
                pending = asyncio.ensure_future(anext(source))
                remaining = deadline - loop.time()
                if remaining > 0:
                    await asyncio.wait([pending], timeout=remaining)
                elif window == 0:
                    await asyncio.sleep(0)  # let an item that is already waiting arrive
                if not pending.done():
                    break
                done, pending = pending, None
                if done.exception() is not None:
                    failure = done.exception()
                    break
                batch.append(done.result())
            yield batch
            if isinstance(failure, StopAsyncIteration):
                return
            if failure is not None:
                raise failure
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
