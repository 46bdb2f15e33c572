"""Group-committed check-in ingest: one writer per process drains a queue into batches.

Each request enqueues its check-in and awaits the commit of the batch that holds it,
so a 2xx answer means the run is durably stored, while a busy server commits hundreds
of check-ins per transaction instead of one.

A batch mixes tenants, so one check-in the database refuses must not fail the others:
when a batch cannot be stored for a reason other than the database being unavailable
(`availability.unavailability`), the writer stores it again in halves until the refused
check-ins are alone, stores all the others, and fails only the refused ones
(`CheckInRefused`). What a client is told never carries the database's message (which may
quote other tenants' values), only what happened and the request id under which the
server logged the details.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from crontopus.server.availability import (
    Dependency,
    DependencyTracker,
    log_failure,
    unavailability,
)
from crontopus.server.db.engine import SessionFactory
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import to_event
from crontopus.server.events.topics import RunChanged, RunChangeKind
from crontopus.server.services.checkins import CheckIn, MergedBatch, RunKey, RunState
from crontopus.server.services.telemetry import request_id_var
from crontopus.server.storage.run_store import PartlyStored, RunStore, SessionRunStore

logger = logging.getLogger("crontopus.server.ingest")

RUN_EVENTS = RunChanged.TOPIC
# How long shutdown waits for queued check-ins; their senders get an error and retry.
DRAIN_TIMEOUT = 10.0


class IngestUnavailable(Exception):
    """The batch could not be stored (database down); the caller should retry later."""


class CheckInRefused(Exception):
    """The database refused this check-in on its own; retrying it will not help."""


@dataclass
class _Waiter:
    """One queued check-in, the request waiting for it, and that request's id for the log."""

    check_in: CheckIn
    future: asyncio.Future[RunState]
    request_id: str | None


@dataclass
class _Isolation:
    """What storing one batch in halves found out."""

    stored_any: bool = False
    refused: list[tuple[_Waiter, Exception]] = field(default_factory=list)


def run_changed(state: RunState) -> RunChanged:
    """What subscribers hear of a stored run (its output stays in the database)."""
    return RunChanged(
        kind=RunChangeKind.FINISHED if state.finished else RunChangeKind.STARTED,
        id=state.id,
        job_id=state.job_id,
        job_name=state.job_name,
        namespace=state.namespace,
        endpoint_id=state.endpoint_id,
        status=state.status,
        started_at=state.started_at,
        finished_at=state.finished_at,
        duration_ms=state.duration_ms,
        exit_code=state.exit_code,
        unknown_job=state.unknown_job,
        trigger=state.trigger,
    )


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
        self._queue: asyncio.Queue[_Waiter] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # New finished runs per job since it was last pruned; pruning is amortised.
        self._since_prune: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
        # A store whose prune has a connection of its own prunes while the next batch is
        # stored, not between batches (one prune at a time).
        self._prune_alongside = getattr(self._runs, "prunes_alongside", False)
        self._pruning: asyncio.Task[None] | None = None

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
        if self._pruning is not None:
            # A prune logs its own failure; one the database holds up is not waited for long.
            done, _ = await asyncio.wait([self._pruning], timeout=DRAIN_TIMEOUT)
            if not done:
                self._pruning.cancel()
                await asyncio.wait([self._pruning])
            self._pruning = None
        while not self._queue.empty():
            future = self._queue.get_nowait().future
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
        # Bounded above: never waits.
        self._queue.put_nowait(_Waiter(check_in, future, request_id_var.get()))
        if self._wait_timeout is None:
            return await future
        # A timer that fails the future, not `wait_for(shield(...))`: on the path of every
        # check-in, that pair costs twice as much as the check-in's own queueing.
        timer = asyncio.get_running_loop().call_later(
            self._wait_timeout, _expire, future, self._wait_timeout
        )
        try:
            return await future
        finally:
            timer.cancel()

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._store_isolating(batch)
            except Exception:  # a bug here must not lose waiters or stop the writer
                logger.exception("storing %d check-ins failed", len(batch))
                _fail(batch, IngestUnavailable("could not store the check-in"))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if not self._prune_alongside:
                await self._prune_logged()
            elif self._pruning is None or self._pruning.done():
                self._pruning = asyncio.get_running_loop().create_task(
                    self._prune_logged(), name="ingest-prune"
                )

    async def _prune_logged(self) -> None:
        # Runs stored while a prune ran alongside may make their jobs due again: prune until no
        # job is, so an idle writer leaves no job more than the amortised margin over its limit.
        while True:
            try:
                await self._prune()
            except Exception as error:  # retention is best effort; the next batch tries again
                self._failed(error, "pruning old runs failed")
                return
            if not self._prune_alongside or not self._due():
                return

    async def pruned(self) -> None:
        """Wait until no prune runs (one running alongside the writer finishes)."""
        if self._pruning is not None:
            await asyncio.wait([self._pruning])

    def _failed(self, error: Exception, message: str, *args: object) -> None:
        log_failure(logger, self._tracker, error, message, *args)

    async def _store_isolating(self, batch: list[_Waiter]) -> None:
        """Store `batch`; if the database refuses it, store it in halves to isolate the cause."""
        round_ = _Isolation()
        await self._store_halves(batch, round_)
        for waiter, error in round_.refused:
            if round_.stored_any:
                _refuse(waiter, error)
            else:
                # Nothing at all could be stored, so nothing shows this check-in is the
                # cause: its sender retries, and it is judged again among others.
                logger.error("storing a check-in failed; nothing else was stored", exc_info=error)
                _fail([waiter], IngestUnavailable("could not store the check-in"))

    async def _store_halves(
        self, batch: list[_Waiter], round_: _Isolation, *, retried: bool = False
    ) -> None:
        try:
            stored = await self._store([waiter.check_in for waiter in batch])
        except PartlyStored as partial:
            # Some runs are committed (and announced): answer their senders, go on with the rest.
            self._stored_answer(batch, partial.merged.states, round_)
            rest = [w for w in batch if _key(w.check_in) not in partial.merged.states]
            cause = partial.__cause__
            await self._not_stored(
                rest, round_, cause if isinstance(cause, Exception) else partial, retried
            )
            return
        except Exception as error:
            await self._not_stored(batch, round_, error, retried)
            return
        self._stored_answer(batch, stored, round_)

    async def _not_stored(
        self, batch: list[_Waiter], round_: _Isolation, error: Exception, retried: bool
    ) -> None:
        if (problem := unavailability(error)) is not None:
            self._failed(error, "storing %d check-ins failed", len(batch))
            _fail(batch, IngestUnavailable(problem.reason))
        elif len(batch) > 1:
            logger.warning(
                "the database refused a batch of %d check-ins (%s); storing it in halves",
                len(batch),
                type(error).__name__,
            )
            middle = len(batch) // 2
            await self._store_halves(batch[:middle], round_)
            await self._store_halves(batch[middle:], round_)
        elif not retried:
            # Alone once more, so a passing failure does not refuse a good check-in.
            await self._store_halves(batch, round_, retried=True)
        else:
            round_.refused.append((batch[0], error))

    def _stored_answer(
        self, batch: list[_Waiter], stored: dict[RunKey, RunState], round_: _Isolation
    ) -> None:
        round_.stored_any = True
        if self._tracker is not None:
            self._tracker.succeeded(Dependency.DATABASE)
        for waiter in batch:
            state = stored.get(_key(waiter.check_in))
            if state is not None and not waiter.future.done():
                waiter.future.set_result(state)

    async def _store(self, check_ins: Sequence[CheckIn]) -> dict[RunKey, RunState]:
        """Commit a batch (raising if nothing was stored), then tell subscribers and alerting."""
        try:
            merged = await self._runs.store(check_ins)
        except PartlyStored as partial:
            await self._committed(partial.merged)
            raise
        await self._committed(merged)
        return merged.states

    async def _committed(self, merged: MergedBatch) -> None:
        # New runs, not finished ones: runs that only ever start (their wrapper was killed,
        # or a client sends starts alone) must be pruned like the others.
        self._count_for_pruning(merged.inserts)
        try:
            await self._announce(merged.changed)
            if self._on_stored is not None:
                self._on_stored(list(merged.states.values()))
        except Exception:  # the runs are stored: their senders must hear so, not retry
            logger.exception("announcing %d stored runs failed", len(merged.changed))

    async def _announce(self, changed: Sequence[RunState]) -> None:
        listened: dict[uuid.UUID, bool] = {}
        for state in changed:
            tenant_id = state.tenant_id
            if tenant_id not in listened:
                listened[tenant_id] = self._broadcaster.listened(tenant_id, RUN_EVENTS)
            if listened[tenant_id]:
                await self._broadcaster.publish(to_event(tenant_id, run_changed(state)))

    def _count_for_pruning(self, created: Iterable[RunState]) -> None:
        for state in created:
            self._since_prune[(state.tenant_id, state.job_id)] += 1

    def _due(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Return the jobs with enough new runs since their last prune to prune them now."""
        threshold = self._retention // 10 + 1
        return [key for key, count in self._since_prune.items() if count >= threshold]

    async def _prune(self) -> None:
        due = self._due()[:50]
        if not due:
            return
        counted = {key: self._since_prune[key] for key in due}
        await self._runs.prune(due, self._retention)
        for key, count in counted.items():
            # Runs stored while the prune ran count towards the next one.
            left = self._since_prune[key] - count
            if left > 0:
                self._since_prune[key] = left
            else:
                del self._since_prune[key]


def _expire(future: asyncio.Future[RunState], timeout: float) -> None:
    """Answer a check-in the database has not stored in time; the writer stores it later."""
    if not future.done():
        future.set_exception(
            IngestUnavailable(
                f"the database did not store the check-in within {timeout:g} s;"
                " retry with the same rid (it is never counted twice)"
            )
        )


def _key(check_in: CheckIn) -> RunKey:
    return (check_in.tenant_id, check_in.run_id)


def _fail(batch: Sequence[_Waiter], error: Exception) -> None:
    for waiter in batch:
        if not waiter.future.done():
            waiter.future.set_exception(error)


def _refuse(waiter: _Waiter, error: Exception) -> None:
    """Fail one check-in the database refused; the details go to the log under its request id."""
    check_in = waiter.check_in
    token = request_id_var.set(waiter.request_id)
    try:
        logger.error(
            "the database refused the check-in of run %s (tenant %s, job %s); it was not stored",
            check_in.run_id,
            check_in.tenant_id,
            check_in.job_id,
            exc_info=error,
        )
    finally:
        request_id_var.reset(token)
    reference = f" (request id {waiter.request_id})" if waiter.request_id else ""
    _fail(
        [waiter],
        CheckInRefused(
            f"the server could not store this check-in{reference}; it was not stored and "
            "sending it again will not help: the server log has the details"
        ),
    )
