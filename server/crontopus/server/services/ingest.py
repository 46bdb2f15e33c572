"""Group-committed check-in ingest: one writer per process drains a queue into batches.

Each request enqueues its check-in and awaits the commit of the batch that holds it,
so a 2xx answer means the run is durably stored, while a busy server commits hundreds
of check-ins per transaction instead of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from crontopus.server.availability import Dependency, DependencyTracker, unavailability
from crontopus.server.db.engine import SessionFactory
from crontopus.server.events.broadcaster import Broadcaster, Event
from crontopus.server.services.checkins import CheckIn, RunKey, RunState
from crontopus.server.services.run_store import RunStore, SessionRunStore

logger = logging.getLogger("crontopus.server.ingest")

RUN_EVENTS = "runs"
# How long shutdown waits for queued check-ins; their senders get an error and retry.
DRAIN_TIMEOUT = 10.0


class IngestUnavailable(Exception):
    """The batch could not be stored (database down); the caller should retry later."""


def run_event_data(state: RunState, kind: str) -> dict[str, Any]:
    """A compact description of a run for subscribers (the output stays in the database)."""
    return {
        "kind": kind,
        "id": str(state.id),
        "job_id": str(state.job_id),
        "job_name": state.job_name,
        "namespace": state.namespace,
        "endpoint_id": str(state.endpoint_id) if state.endpoint_id else None,
        "status": state.status.value,
        "started_at": state.started_at.isoformat(),
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "duration_ms": state.duration_ms,
        "exit_code": state.exit_code,
        "unknown_job": state.unknown_job,
    }


def _retrieve(future: asyncio.Future[RunState]) -> None:
    if not future.cancelled():
        future.exception()


class IngestWriter:
    """The single writer of one server process."""

    def __init__(
        self,
        session: SessionFactory,
        broadcaster: Broadcaster,
        *,
        max_batch: int = 1000,
        retention: int = 1000,
        on_stored: Callable[[Sequence[RunState]], None] | None = None,
        runs: RunStore | None = None,
        max_queue: int = 10_000,
        wait_timeout: float | None = None,
        tracker: DependencyTracker | None = None,
    ) -> None:
        self._session = session
        self._runs = runs or SessionRunStore(session)
        self._broadcaster = broadcaster
        self._max_batch = max_batch
        self._retention = retention
        self._on_stored = on_stored
        # Both bounds keep a stuck database from holding requests and memory without end:
        # past them a check-in is answered 503 and the sender retries (same rid, no double).
        self._max_queue = max_queue
        self._wait_timeout = wait_timeout
        self._tracker = tracker
        self._queue: asyncio.Queue[tuple[CheckIn, asyncio.Future[RunState]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # New finished runs per job since it was last pruned; pruning is amortised.
        self._since_prune: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="ingest")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        if not self._task.done():
            try:
                await asyncio.wait_for(self._queue.join(), timeout=DRAIN_TIMEOUT)
            except TimeoutError:
                logger.error("stopping with %d check-ins still queued", self._queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(IngestUnavailable("the server is shutting down; retry"))
        await self._runs.close()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, check_in: CheckIn) -> RunState:
        """Queue a check-in and wait until its batch is committed; return the stored run."""
        if self._task is None:
            raise IngestUnavailable("the ingest writer is not running")
        if self._queue.qsize() >= self._max_queue:
            raise IngestUnavailable(
                f"{self._queue.qsize()} check-ins are already waiting for the database; retry"
            )
        future: asyncio.Future[RunState] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((check_in, future))  # bounded above: never waits
        if self._wait_timeout is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._wait_timeout)
        except TimeoutError:
            # Nobody awaits the outcome any more; retrieve it so it is not logged as lost.
            future.add_done_callback(_retrieve)
            raise IngestUnavailable(
                f"the database did not store the check-in within {self._wait_timeout:g} s;"
                " retry with the same rid (it is never counted twice)"
            ) from None

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                stored = await self._store([item for item, _ in batch])
            except Exception as error:  # every waiter learns the batch failed; none is lost
                self._failed(error, "storing %d check-ins failed", len(batch))
                failure = IngestUnavailable(f"could not store the check-in: {error}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
            else:
                if self._tracker is not None:
                    self._tracker.succeeded(Dependency.DATABASE)
                for check_in, future in batch:
                    if not future.done():
                        future.set_result(stored[(check_in.tenant_id, check_in.run_id)])
            finally:
                for _ in batch:
                    self._queue.task_done()
            try:
                await self._prune()
            except Exception as error:  # retention is best effort; the next batch tries again
                self._failed(error, "pruning old runs failed")

    def _failed(self, error: Exception, message: str, *args: object) -> None:
        """Log a failure once per outage when the database is away, else with its traceback."""
        problem = unavailability(error)
        if problem is not None and self._tracker is not None:
            self._tracker.failed(problem)
        else:
            logger.error(message, *args, exc_info=error)

    async def _store(self, check_ins: Sequence[CheckIn]) -> dict[RunKey, RunState]:
        merged = await self._runs.store(check_ins)
        self._count_for_pruning(merged.finished)
        listened: dict[uuid.UUID, bool] = {}
        for state in merged.changed:
            tenant_id = state.tenant_id
            if tenant_id not in listened:
                listened[tenant_id] = self._broadcaster.listened(tenant_id, RUN_EVENTS)
            if listened[tenant_id]:
                kind = "finished" if state.finished else "started"
                data = run_event_data(state, kind)
                await self._broadcaster.publish(Event(tenant_id, RUN_EVENTS, data))
        if self._on_stored is not None:
            self._on_stored(list(merged.states.values()))
        return merged.states

    def _count_for_pruning(self, finished: Iterable[RunState]) -> None:
        for state in finished:
            self._since_prune[(state.tenant_id, state.job_id)] += 1

    async def _prune(self) -> None:
        threshold = self._retention // 10 + 1
        due = [key for key, count in self._since_prune.items() if count >= threshold][:50]
        if not due:
            return
        await self._runs.prune(due, self._retention)
        for key in due:
            del self._since_prune[key]
