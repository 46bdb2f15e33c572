"""Login throttling: failed attempts per account and per client address."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Window:
    """At most `limit` failures within `seconds`."""

    limit: int
    seconds: int


ACCOUNT_WINDOW = Window(limit=10, seconds=15 * 60)
ADDRESS_WINDOW = Window(limit=10, seconds=60)
MAX_TRACKED_KEYS = 100_000


class LoginThrottle(Protocol):
    """Where failed logins are counted; in-process here, a shared store in a cluster."""

    async def retry_after(self, account: str, address: str) -> int | None:
        """Return seconds to wait when either key is over its limit, else None."""

    async def record_failure(self, account: str, address: str) -> None:
        """Count one failed attempt against both keys."""

    async def record_success(self, account: str) -> None:
        """Forget the account's failures after a successful login."""


class MemoryLoginThrottle:
    """Sliding-window counters in this process's memory."""

    def __init__(
        self,
        account: Window = ACCOUNT_WINDOW,
        address: Window = ADDRESS_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._windows = {"account": account, "address": address}
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._clock = clock

    def _wait(self, scope: str, key: str, now: float) -> int | None:
        window = self._windows[scope]
        failures = self._failures.get((scope, key))
        if not failures:
            return None
        while failures and failures[0] <= now - window.seconds:
            failures.popleft()
        if len(failures) < window.limit:
            return None
        return max(1, math.ceil(failures[0] + window.seconds - now))

    async def retry_after(self, account: str, address: str) -> int | None:
        now = self._clock()
        waits = [
            w
            for w in (self._wait("account", account, now), self._wait("address", address, now))
            if w is not None
        ]
        return max(waits) if waits else None

    async def record_failure(self, account: str, address: str) -> None:
        now = self._clock()
        if len(self._failures) > MAX_TRACKED_KEYS:
            self._forget_expired(now)
        self._failures[("account", account)].append(now)
        self._failures[("address", address)].append(now)

    def _forget_expired(self, now: float) -> None:
        # A flood of distinct usernames or addresses must not grow memory without bound.
        longest = max(window.seconds for window in self._windows.values())
        for key in [
            k for k, times in self._failures.items() if not times or times[-1] <= now - longest
        ]:
            del self._failures[key]

    async def record_success(self, account: str) -> None:
        self._failures.pop(("account", account), None)
