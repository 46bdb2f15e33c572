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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.enums import RunStatus
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import (
    EndpointHealthDay,
    EndpointHealthHour,
    JobHealthDay,
    JobHealthHour,
    Run,
)
from crontopus.server.events.broadcaster import Broadcaster, Event
from crontopus.server.services.checkins import CheckIn, RunState, merge, new_run

logger = logging.getLogger("crontopus.server.ingest")

RUN_EVENTS = "runs"
# How long shutdown waits for queued check-ins; their senders get an error and retry.
DRAIN_TIMEOUT = 10.0
_COLUMNS = [c.name for c in Run.__table__.columns]


class IngestUnavailable(Exception):
    """The batch could not be stored (database down); the caller should retry later."""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def run_state(row: Run) -> RunState:
    return RunState(**{name: getattr(row, name) for name in _COLUMNS})


def run_row(state: RunState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _COLUMNS}


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
    ) -> None:
        self._session = session
        self._broadcaster = broadcaster
        self._max_batch = max_batch
        self._retention = retention
        self._on_stored = on_stored
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

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, check_in: CheckIn) -> RunState:
        """Queue a check-in and wait until its batch is committed; return the stored run."""
        if self._task is None:
            raise IngestUnavailable("the ingest writer is not running")
        future: asyncio.Future[RunState] = asyncio.get_running_loop().create_future()
        await self._queue.put((check_in, future))
        return await future

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                stored = await self._store([item for item, _ in batch])
            except Exception as error:  # every waiter learns the batch failed; none is lost
                logger.exception("storing %d check-ins failed", len(batch))
                failure = IngestUnavailable(f"could not store the check-in: {error}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
            else:
                for check_in, future in batch:
                    if not future.done():
                        future.set_result(stored[(check_in.tenant_id, check_in.run_id)])
            finally:
                for _ in batch:
                    self._queue.task_done()
            try:
                await self._prune()
            except Exception:  # retention is best effort; the next batch tries again
                logger.exception("pruning old runs failed")

    async def _store(
        self, check_ins: Sequence[CheckIn]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], RunState]:
        keys = list(dict.fromkeys((c.tenant_id, c.run_id) for c in check_ins))
        async with self._session() as session, session.begin():
            existing = await _load(session, keys)
            before = {key: (state.finished, state) for key, state in existing.items()}
            states = dict(existing)
            for check_in in check_ins:
                key = (check_in.tenant_id, check_in.run_id)
                current = states.get(key)
                states[key] = new_run(check_in) if current is None else merge(current, check_in)
            inserts = [run_row(states[k]) for k in keys if k not in existing]
            updates = [
                run_row(states[k]) for k in keys if k in existing and states[k] != existing[k]
            ]
            # executemany with a cached statement: building one huge VALUES clause per
            # batch costs more in SQL compilation than the database spends storing it.
            if inserts:
                await session.execute(_insert(session, RUNS).on_conflict_do_nothing(), inserts)
            if updates:
                await session.execute(_UPDATE_RUN, [_update_params(row) for row in updates])
            finished = [
                states[k] for k in keys if states[k].finished and not before.get(k, (False,))[0]
            ]
            await _roll_up(session, finished)
        self._count_for_pruning(finished)
        for key in keys:
            state = states[key]
            was = before.get(key)
            if was is None or was[1] != state:
                kind = "finished" if state.finished else "started"
                await self._broadcaster.publish(
                    Event(state.tenant_id, RUN_EVENTS, run_event_data(state, kind))
                )
        if self._on_stored is not None:
            self._on_stored(list(states.values()))
        return states

    def _count_for_pruning(self, finished: Iterable[RunState]) -> None:
        for state in finished:
            self._since_prune[(state.tenant_id, state.job_id)] += 1

    async def _prune(self) -> None:
        due = [
            key for key, count in self._since_prune.items() if count >= self._retention // 10 + 1
        ]
        if not due:
            return
        async with self._session() as session, session.begin():
            for tenant_id, job_id in due[:50]:
                await prune_job(session, tenant_id, job_id, self._retention)
                del self._since_prune[(tenant_id, job_id)]


RUNS = cast(Table, Run.__table__)
_KEY_COLUMNS = ("tenant_id", "id")
_UPDATE_RUN = (
    update(RUNS)
    .where(RUNS.c.tenant_id == bindparam("key_tenant_id"), RUNS.c.id == bindparam("key_id"))
    .values({name: bindparam(name) for name in _COLUMNS if name not in _KEY_COLUMNS})
)


def _update_params(row: dict[str, Any]) -> dict[str, Any]:
    params = {name: value for name, value in row.items() if name not in _KEY_COLUMNS}
    params["key_tenant_id"], params["key_id"] = row["tenant_id"], row["id"]
    return params


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _load(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], RunState]:
    query = select(Run).where(tuple_(Run.tenant_id, Run.id).in_(keys))
    if session.get_bind().dialect.name == "postgresql":
        # Another server process may be merging the same run right now: take turns.
        query = query.with_for_update()
    rows = (await session.scalars(query)).all()
    result = {(row.tenant_id, row.id): run_state(row) for row in rows}
    session.expunge_all()
    return result


@dataclass
class _Bucket:
    last_run_at: datetime
    runs: int = 0
    successes: int = 0
    failures: int = 0

    def add(self, run: RunState) -> None:
        self.runs += 1
        if run.status is RunStatus.SUCCESS:
            self.successes += 1
        else:
            self.failures += 1
        assert run.finished_at is not None
        self.last_run_at = max(self.last_run_at, run.finished_at)


def day_of(moment: datetime) -> datetime:
    return hour_of(moment).replace(hour=0)


# (table, owner column, bucket column, bucket of a start time): each finished run is counted
# once per row kind, hourly for short windows and daily for long ones.
_ROLLUPS: tuple[tuple[Any, str, str, Callable[[datetime], datetime]], ...] = (
    (JobHealthHour, "job_id", "hour", hour_of),
    (EndpointHealthHour, "endpoint_id", "hour", hour_of),
    (JobHealthDay, "job_id", "day", day_of),
    (EndpointHealthDay, "endpoint_id", "day", day_of),
)


async def _roll_up(session: AsyncSession, finished: Sequence[RunState]) -> None:
    """Add newly finished runs to the hourly and daily per-job and per-endpoint counters."""
    if not finished:
        return
    for model, owner_column, bucket_column, bucket_of in _ROLLUPS:
        buckets: dict[tuple[uuid.UUID, uuid.UUID, datetime], _Bucket] = {}
        for run in finished:
            owner = run.job_id if owner_column == "job_id" else run.endpoint_id
            if owner is None:
                continue
            assert run.finished_at is not None
            key = (run.tenant_id, owner, bucket_of(run.started_at))
            buckets.setdefault(key, _Bucket(last_run_at=run.finished_at)).add(run)
        if not buckets:
            continue
        rows = [
            {
                "tenant_id": tenant_id,
                owner_column: owner,
                bucket_column: bucket,
                "runs": counts.runs,
                "successes": counts.successes,
                "failures": counts.failures,
                "last_run_at": counts.last_run_at,
            }
            for (tenant_id, owner, bucket), counts in buckets.items()
        ]
        table = model.__table__
        statement = _insert(session, table)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", owner_column, bucket_column],
            set_={
                "runs": table.c.runs + statement.excluded.runs,
                "successes": table.c.successes + statement.excluded.successes,
                "failures": table.c.failures + statement.excluded.failures,
                "last_run_at": func.max(table.c.last_run_at, statement.excluded.last_run_at)
                if session.get_bind().dialect.name == "sqlite"
                else func.greatest(table.c.last_run_at, statement.excluded.last_run_at),
            },
        )
        await session.execute(statement, rows)


async def prune_job(
    session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID, keep: int
) -> int:
    """Delete a job's runs beyond the newest `keep`; return how many went."""
    boundary = (
        await session.execute(
            select(Run.started_at, Run.id)
            .where(Run.tenant_id == tenant_id, Run.job_id == job_id)
            .order_by(Run.started_at.desc(), Run.id.desc())
            .offset(keep)
            .limit(1)
        )
    ).first()
    if boundary is None:
        return 0
    result = await session.execute(
        delete(Run).where(
            Run.tenant_id == tenant_id,
            Run.job_id == job_id,
            tuple_(Run.started_at, Run.id) <= tuple_(boundary[0], boundary[1]),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
