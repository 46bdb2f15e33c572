"""A cap on the `git` processes that smart HTTP runs at once.

Every clone, fetch and push runs a `git` process for as long as its request lasts; without
a cap, a burst of them could take the machine's memory and processes. A request over the cap
waits briefly for a slot (fetches are short), then is answered 503 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

#: What a request that found no free slot is told to wait before trying again, in seconds.
RETRY_AFTER = 5


class ProcessSlots:
    """At most `size` git processes at once; a request waits at most `wait` seconds for one."""

    def __init__(self, size: int = 8, wait: float = 5) -> None:
        self.size = size
        self.wait = wait
        self._free = asyncio.Semaphore(size)

    async def take(self) -> Callable[[], None] | None:
        """Take a slot and return its release, or None when none came free in time."""
        if self.wait <= 0 and self._free.locked():
            return None
        try:
            timeout = self.wait if self.wait > 0 else None
            await asyncio.wait_for(self._free.acquire(), timeout=timeout)
        except TimeoutError:
            return None
        released = False

        def release() -> None:
            nonlocal released
            if not released:  # every path out of a request releases; only the first counts
                released = True
                self._free.release()

        return release

    @property
    def retry_after(self) -> int:
        """The Retry-After of a 503: the queueing time, or a few seconds."""
        return max(RETRY_AFTER, math.ceil(self.wait))
