"""One load per key at a time: concurrent callers asking for the same thing share its result.

Caches on the check-in path (credentials, a tenant's jobs, Git snapshots) expire while
dozens of requests are in flight; without this, each of them would repeat the same database
or Git read at the same moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Runs `load` for a key unless a load of that key is already running, then shares it."""

    def __init__(self) -> None:
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The result of the load of `key` in flight, or of `load()` run now.

        The load's error reaches every caller waiting on it. If the caller running it is
        cancelled, the callers waiting on it are not: one of them loads again.
        """
        while (pending := self._loading.get(key)) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling() or not pending.cancelled():
                    raise  # this caller was cancelled, not the load it waited for
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._loading[key] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        future.set_result(value)
        return value


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failed load's error as seen: its callers got it, and none may be waiting."""
    if not future.cancelled():
        future.exception()
