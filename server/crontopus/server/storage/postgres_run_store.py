"""The run store of PostgreSQL: new runs in one round trip, merges in four.

Through SQLAlchemy sessions a batch cost a round trip per statement and SQLAlchemy's
per-value processing of every row on the event loop, which left PostgreSQL check-ins at a
fraction of SQLite's rate. This store borrows a connection from the engine's pool and talks
to asyncpg directly: the batch's values travel as one array per column (asyncpg encodes them
in C), and after the runs are locked, loaded and merged in memory, one statement of
data-modifying CTEs inserts the new runs, updates the changed ones and adds to all four
counter tables. A batch is therefore BEGIN, the advisory locks, the load, the write and
COMMIT, whatever its size.

The locks stay a statement of their own: PostgreSQL takes a statement's snapshot when the
statement starts, so a load in the same statement as the lock it waited for could miss a run
another process inserted meanwhile (and the merge would then drop that process's report). They
travel with BEGIN, though, in one simple query (the keys are integers this module computes,
written into the text), so a batch is four round trips: BEGIN and the locks, the load, the
write, COMMIT. Every round trip costs the event loop a send and a wake-up, whatever the batch
holds.

Most check-ins name a run nobody stored yet (a start, or a finish reported alone): those are
first stored by one statement outside a transaction block (`_new_runs_statement`), which locks,
inserts, counts and commits in a single round trip. Only the runs that turn out to exist, and
reports of runs this process stored unfinished, take the four round trips above.

Pruning is one statement too: every due job's boundary (its `keep`-th newest run) and the
delete of what lies beyond it, where SQLAlchemy's sessions spent more time building and
checking an ORM delete per job than PostgreSQL spent deleting.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Column, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.ext.asyncio import AsyncEngine

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.types import UTCDateTime
from crontopus.server.services.checkins import CheckIn, MergedBatch, RunKey, RunState, merge_batch
from crontopus.server.services.rollups import ROLLUPS, rollup_rows
from crontopus.server.storage.run_store import PartlyStored, SessionRunStore
from crontopus.server.storage.statements import (
    KEY_COLUMNS,
    RUN_COLUMNS,
    RUNS,
    batch_keys,
)

COUNT_COLUMNS = ("runs", "successes", "failures", "last_run_at")
#: How many running runs a process remembers storing (a forgotten one costs its finish an
#: extra round trip, no more).
OPEN_RUNS = 100_000


def _sql_type(column: Column[Any]) -> str:
    """The PostgreSQL array element type that carries this column's values."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "timestamptz"
    if isinstance(kind, sqltypes.Uuid):
        return "uuid"
    if isinstance(kind, sqltypes.Boolean):
        return "boolean"
    if isinstance(kind, sqltypes.Integer):
        return "bigint"
    if isinstance(kind, (sqltypes.Enum, sqltypes.String)):
        return "text"  # enums are stored by name in VARCHAR columns (models/base.py)
    raise TypeError(f"no PostgreSQL array type for {column.table.name}.{column.name} ({kind!r})")


class _Arrays:
    """Numbered `unnest` parameters for a table's columns, appended to a shared list."""

    def __init__(self, parameters: list[str]) -> None:
        self._parameters = parameters

    def unnest(self, table: Table, columns: Sequence[str]) -> str:
        arrays = []
        for name in columns:
            self._parameters.append(name)
            arrays.append(f"${len(self._parameters)}::{_sql_type(table.c[name])}[]")
        return f"unnest({', '.join(arrays)}) AS u({', '.join(columns)})"


_ADD_COUNTS = (
    "runs = {name}.runs + excluded.runs, "
    "successes = {name}.successes + excluded.successes, "
    "failures = {name}.failures + excluded.failures, "
    # A row started by MISSED runs has no last run yet.
    "last_run_at = greatest(coalesce({name}.last_run_at, excluded.last_run_at), "
    "excluded.last_run_at)"
)


def _write_statement() -> tuple[str, list[tuple[str, str]]]:
    """The one statement writing a merged batch, and which array fills each parameter."""
    slots: list[str] = []
    arrays = _Arrays(slots)
    sources: list[tuple[str, str]] = []
    names = ", ".join(RUN_COLUMNS)
    parts = []
    start = len(slots)
    parts.append(
        f"inserted AS (INSERT INTO runs ({names}) SELECT {names} FROM "
        f"{arrays.unnest(RUNS, RUN_COLUMNS)} ON CONFLICT DO NOTHING RETURNING 1)"
    )
    sources += [("insert", name) for name in slots[start:]]
    changed = [name for name in RUN_COLUMNS if name not in KEY_COLUMNS]
    start = len(slots)
    parts.append(
        "updated AS (UPDATE runs AS r SET "
        + ", ".join(f"{name} = u.{name}" for name in changed)
        + f" FROM {arrays.unnest(RUNS, RUN_COLUMNS)}"
        " WHERE r.tenant_id = u.tenant_id AND r.id = u.id RETURNING 1)"
    )
    sources += [("update", name) for name in slots[start:]]
    for index, rollup in enumerate(ROLLUPS):
        table = rollup.model.__table__
        key = ("tenant_id", rollup.owner, rollup.bucket)
        columns = (*key, *COUNT_COLUMNS)
        start = len(slots)
        name = table.name
        parts.append(
            f"counted_{index} AS (INSERT INTO {name} ({', '.join(columns)}) "
            f"SELECT {', '.join(columns)} FROM {arrays.unnest(table, columns)} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            f"{_ADD_COUNTS.format(name=name)} RETURNING 1)"
        )
        sources += [(f"rollup_{index}", column) for column in slots[start:]]
    counts = ", ".join(
        f"(SELECT count(*) FROM {cte})"
        for cte in ("inserted", "updated", *(f"counted_{i}" for i in range(len(ROLLUPS))))
    )
    return f"WITH {', '.join(parts)} SELECT {counts}", sources


_WRITE_SQL, _WRITE_SOURCES = _write_statement()
# Each job's boundary is found once, before the delete (MATERIALIZED): as a join, the planner
# may look the boundary up again for every run of the job it considers.
_PRUNE_SQL = """
WITH beyond AS MATERIALIZED (
    SELECT job.tenant_id, job.job_id, cut.started_at, cut.id
    FROM unnest($1::uuid[], $2::uuid[]) AS job(tenant_id, job_id)
    CROSS JOIN LATERAL (
        SELECT started_at, id FROM runs
        WHERE tenant_id = job.tenant_id AND job_id = job.job_id
        ORDER BY started_at DESC, id DESC OFFSET $3 LIMIT 1
    ) AS cut
)
DELETE FROM runs AS r USING beyond
WHERE r.tenant_id = beyond.tenant_id AND r.job_id = beyond.job_id
    AND (r.started_at, r.id) <= (beyond.started_at, beyond.id)
"""
_LOAD_SQL = (
    f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE (tenant_id, id) IN "
    "(SELECT * FROM unnest($1::uuid[], $2::uuid[])) FOR UPDATE"
)


def _new_runs_statement() -> str:
    """One statement storing runs none of whose reports this process has stored before.

    Outside a transaction block it is a transaction of its own: one round trip locks the
    runs, inserts them, adds the finished ones to the four counter tables and commits. A run
    that exists after all (stored by another process, or by this one before it forgot) is
    left alone by `ON CONFLICT DO NOTHING` and missing from the answer: its check-ins then
    take the locked load-merge-write path. Locks first, as there: the insert waits for
    them (its `WHERE` reads their CTE), and `ON CONFLICT` sees runs committed while it
    waited, whatever the statement's snapshot.
    """
    slots = ["lock_keys"]
    arrays = _Arrays(slots)
    names = ", ".join(RUN_COLUMNS)
    parts = [
        "locks AS MATERIALIZED (SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k)",
        f"inserted AS (INSERT INTO runs ({names}) SELECT {names} FROM "
        f"{arrays.unnest(RUNS, RUN_COLUMNS)} WHERE (SELECT count(*) FROM locks) >= 0 "
        "ON CONFLICT DO NOTHING "
        "RETURNING tenant_id, id, job_id, endpoint_id, status, started_at, finished_at)",
        # A run counts in the UTC hour and day of its start (rollups.rollup_rows).
        "finished AS (SELECT tenant_id, job_id, endpoint_id, status, finished_at, "
        "date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, "
        "date_trunc('day', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day "
        "FROM inserted WHERE status <> 'RUNNING' AND finished_at IS NOT NULL)",
    ]
    assert slots == ["lock_keys", *RUN_COLUMNS]
    for index, rollup in enumerate(ROLLUPS):
        name = rollup.model.__table__.name
        key = f"tenant_id, {rollup.owner}, {rollup.bucket}"
        parts.append(
            f"counted_{index} AS (INSERT INTO {name} ({key}, {', '.join(COUNT_COLUMNS)}) "
            f"SELECT {key}, count(*), count(*) FILTER (WHERE status = 'SUCCESS'), "
            "count(*) FILTER (WHERE status <> 'SUCCESS'), max(finished_at) FROM finished "
            # Counter rows are written in key order, as by every other batch (no deadlocks).
            f"WHERE {rollup.owner} IS NOT NULL GROUP BY {key} ORDER BY {key} "
            f"ON CONFLICT ({key}) DO UPDATE SET {_ADD_COUNTS.format(name=name)})"
        )
    return f"WITH {', '.join(parts)} SELECT tenant_id, id FROM inserted"


_NEW_RUNS_SQL = _new_runs_statement()


def _lock_keys(keys: Iterable[RunKey]) -> list[int]:
    """The advisory lock keys of these runs, sorted: every batch takes its locks in the same
    order, so no two deadlock."""
    return sorted({lock_key(key) for key in keys})


def _begin_and_lock(keys: Sequence[RunKey]) -> str:
    """BEGIN and the batch's advisory locks as one simple query (no parameters there).

    Only integers computed here (`_lock_keys`) are written into the text.
    """
    numbers = ",".join(str(number) for number in _lock_keys(keys))
    return f"BEGIN; SELECT pg_advisory_xact_lock(k) FROM unnest('{{{numbers}}}'::bigint[]) AS k"


def lock_key(key: RunKey) -> int:
    """A 64-bit advisory lock key per run (a collision only makes two batches take turns)."""
    return int.from_bytes((key[0].int ^ key[1].int).to_bytes(16, "big")[:8], "big", signed=True)


def _encoder(column: Column[Any]) -> Callable[[Any], Any] | None:
    """How a run's value becomes an array element (None: as it is)."""
    if isinstance(column.type, sqltypes.Enum):
        return lambda value: None if value is None else value.name
    return None


_RUN_ENCODERS = {name: _encoder(RUNS.c[name]) for name in RUN_COLUMNS}


def _run_arrays(states: Sequence[RunState]) -> dict[str, list[Any]]:
    arrays = {}
    for name in RUN_COLUMNS:
        values = [getattr(state, name) for state in states]
        encode = _RUN_ENCODERS[name]
        arrays[name] = values if encode is None else [encode(value) for value in values]
    return arrays


def _decode(row: Any) -> RunState:
    values = dict(row)
    values["status"] = RunStatus[values["status"]]
    values["trigger"] = RunTrigger[values["trigger"]]
    return RunState(**values)


class PostgresRunStore(SessionRunStore):
    """A batch per pooled connection, through asyncpg, with its runs locked."""

    #: A prune borrows a pooled connection of its own: the ingest writer need not wait for it.
    prunes_alongside = True

    def __init__(self, engine: AsyncEngine, session: SessionFactory) -> None:
        super().__init__(session)
        self._engine = engine
        # Runs this process stored as still running, by id, oldest first: their next
        # reports are merges, not inserts. (Only a guess: a wrong one costs a round trip.)
        self._open: dict[uuid.UUID, None] = {}

    @contextlib.asynccontextmanager
    async def _driver(self) -> AsyncIterator[Any]:
        """A pooled connection's asyncpg connection, left in the pool only when it is sound."""
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            try:
                yield driver
            except BaseException as error:
                # SQLAlchemy only sees errors raised through it: a connection that broke
                # here, or is left inside a transaction, must not go back to the pool as it is.
                if driver.is_closed() or not isinstance(error, asyncpg.PostgresError):
                    with contextlib.suppress(Exception):
                        await connection.invalidate()
                elif driver.is_in_transaction():
                    try:
                        await driver.execute("ROLLBACK")
                    except Exception:
                        with contextlib.suppress(Exception):
                            await connection.invalidate()
                raise

    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        # Reports of runs this process stored unfinished (mostly finishes after their start)
        # go straight to the locked merge; all others first try the one-statement insert.
        known = [c for c in check_ins if c.run_id in self._open]
        fresh = [c for c in check_ins if c.run_id not in self._open]
        merged = await self._insert_new(fresh) if fresh else None
        if merged is not None:
            self._remember(merged.inserts)
            known += [c for c in fresh if (c.tenant_id, c.run_id) not in merged.states]
        if not known:
            assert merged is not None
            return merged
        try:
            rest = await self._merge(known)
        except Exception as error:
            if merged is not None and merged.states:
                raise PartlyStored(merged) from error
            raise
        self._remember(rest.changed)
        if merged is None:
            return rest
        return MergedBatch(
            {**merged.states, **rest.states},
            merged.inserts + rest.inserts,
            rest.updates,
            merged.finished + rest.finished,
        )

    async def _insert_new(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        """Insert the runs of `check_ins` that do not exist yet, in one round trip."""
        candidates = merge_batch({}, check_ins).inserts
        arrays = _run_arrays(candidates)
        keys = _lock_keys((state.tenant_id, state.id) for state in candidates)
        async with self._driver() as driver:
            rows = await driver.fetch(_NEW_RUNS_SQL, keys, *(arrays[n] for n in RUN_COLUMNS))
        stored = {(row[0], row[1]) for row in rows}
        inserts = [state for state in candidates if (state.tenant_id, state.id) in stored]
        return MergedBatch(
            {(state.tenant_id, state.id): state for state in inserts},
            inserts,
            [],
            [state for state in inserts if state.finished],
        )

    async def _merge(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        """Lock, load, merge and write the runs of `check_ins`, in four round trips."""
        keys = batch_keys(check_ins)
        async with self._driver() as driver:
            # Another server process may be merging the same runs right now, or inserting
            # one this batch has not seen yet (FOR UPDATE cannot lock a row that does not
            # exist): take turns per run.
            await driver.execute(_begin_and_lock(keys))
            rows = await driver.fetch(_LOAD_SQL, [k[0] for k in keys], [k[1] for k in keys])
            existing: dict[RunKey, RunState] = {}
            for row in rows:
                state = _decode(row)
                existing[(state.tenant_id, state.id)] = state
            merged = merge_batch(existing, check_ins)
            await driver.execute(_WRITE_SQL, *_parameters(merged))
            await driver.execute("COMMIT")
        return merged

    def _remember(self, states: Iterable[RunState]) -> None:
        """Note which runs this process stored unfinished (the oldest forgotten past a bound)."""
        for state in states:
            if state.finished:
                self._open.pop(state.id, None)
            else:
                self._open[state.id] = None
                if len(self._open) > OPEN_RUNS:
                    del self._open[next(iter(self._open))]

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        async with self._driver() as driver:
            status = await driver.execute(
                _PRUNE_SQL, [job[0] for job in jobs], [job[1] for job in jobs], keep
            )
        return int(status.rsplit(" ", 1)[1])  # "DELETE <count>"


def _parameters(merged: MergedBatch) -> list[list[Any]]:
    """Every array of the write statement, in its parameters' order."""
    arrays: dict[str, dict[str, list[Any]]] = {
        "insert": _run_arrays(merged.inserts),
        "update": _run_arrays(merged.updates),
    }
    for index, (rollup, rows) in enumerate(zip(ROLLUPS, rollup_rows(merged.finished), strict=True)):
        # Counter rows are written in key order, as by every other batch (no deadlocks).
        rows.sort(key=lambda row: (row["tenant_id"], row[rollup.owner], row[rollup.bucket]))
        columns = ("tenant_id", rollup.owner, rollup.bucket, *COUNT_COLUMNS)
        arrays[f"rollup_{index}"] = {name: [row[name] for row in rows] for name in columns}
    return [arrays[source][column] for source, column in _WRITE_SOURCES]
