"""The run store of the embedded SQLite database: a whole batch in one call on its own thread.

Going through the async engine costs a thread hop per statement and SQLAlchemy's per-value
processing of every row; at thousands of check-ins a second that, not SQLite, was the
limit. This store keeps one `sqlite3` connection on one thread and does a batch (load,
merge, insert, update, counters, commit) in a single call. Its SQL is compiled from the
same SQLAlchemy tables, and values are stored exactly as SQLAlchemy stores them (a test
reads rows written here through the ORM and back).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import operator
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Column, Table, bindparam, select
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import sqlite

from crontopus.server.db.dialect import insert_for
from crontopus.server.db.types import UTCDateTime
from crontopus.server.services.checkins import CheckIn, MergedBatch, RunKey, RunState, merge_batch
from crontopus.server.services.rollups import ROLLUPS, rollup_rows
from crontopus.server.storage.statements import (
    KEY_COLUMNS,
    RUN_COLUMNS,
    RUNS,
    UPDATE_RUN,
    batch_keys,
    keys_by_tenant,
    rollup_upsert,
)

T = TypeVar("T")
Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def _same(value: Any) -> Any:
    return value


def _encode_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given where a UTC timestamp is required")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # SQLAlchemy's SQLite format: always six fractional digits, so text order is time order.
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _decode_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _codec(column: Column[Any]) -> Codec:
    """How SQLAlchemy stores this column's values in SQLite, and reads them back."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _encode_time, _decode_time
    if isinstance(kind, sqltypes.Uuid):
        return (lambda value: value.hex), (lambda value: uuid.UUID(hex=value))
    if isinstance(kind, sqltypes.Enum) and kind.enum_class is not None:
        enum_class = kind.enum_class
        return (lambda value: value.name), (lambda value: enum_class[value])
    if isinstance(kind, sqltypes.Boolean):
        return int, bool
    if isinstance(kind, (sqltypes.String, sqltypes.Integer)):
        return _same, _same
    raise TypeError(f"no SQLite encoding for {column.table.name}.{column.name} ({kind!r})")


class _Encoder:
    """Turns a run (or a counters row) into the positional parameters of one statement."""

    def __init__(self, table: Table, names: Sequence[str], *, rows: bool = False) -> None:
        # `key_x` parameters (the WHERE of an update) name column x.
        columns = [name.removeprefix("key_") for name in names]
        self.columns = columns
        getter = operator.itemgetter if rows else operator.attrgetter
        self._get = getter(*columns)
        # Only the columns SQLite stores differently are converted; `encode` runs for
        # every row of a batch, so it touches nothing else.
        self._conversions = [
            (index, encode)
            for index, column in enumerate(columns)
            if (encode := _codec(table.c[column])[0]) is not _same
        ]

    def __call__(self, item: Any) -> list[Any]:
        values = list(self._get(item))
        for index, encode in self._conversions:
            if (value := values[index]) is not None:
                values[index] = encode(value)
        return values


def _compiled(
    statement: Any, table: Table, columns: Sequence[str], *, rows: bool = False
) -> tuple[str, _Encoder]:
    compiled = statement.compile(dialect=sqlite.dialect(), column_keys=list(columns))
    return str(compiled), _Encoder(table, compiled.positiontup, rows=rows)


_INSERT_SQL, _INSERT_PLAN = _compiled(
    insert_for("sqlite", RUNS).on_conflict_do_nothing(), RUNS, RUN_COLUMNS
)
_UPDATE_SQL, _UPDATE_PLAN = _compiled(
    UPDATE_RUN, RUNS, [name for name in RUN_COLUMNS if name not in KEY_COLUMNS]
)
_ROLLUP_SQL = [
    _compiled(
        rollup_upsert("sqlite", rollup),
        rollup.model.__table__,
        ["tenant_id", rollup.owner, rollup.bucket, "runs", "successes", "failures", "last_run_at"],
        rows=True,
    )
    for rollup in ROLLUPS
]


@functools.cache
def _select_sql(count: int) -> str:
    """Load `count` runs of one tenant (tenant id, then the run ids)."""
    ids: list[Any] = [bindparam(f"id{n}") for n in range(count)]
    query = select(*RUNS.c).where(RUNS.c.tenant_id == bindparam("tenant"), RUNS.c.id.in_(ids))
    return str(query.compile(dialect=sqlite.dialect()))


# A job's runs older than its newest `keep` (the boundary is the keep+1-th newest).
_PRUNE_SQL = """
DELETE FROM runs WHERE tenant_id = ? AND job_id = ? AND (started_at, id) <= (
    SELECT started_at, id FROM runs WHERE tenant_id = ? AND job_id = ?
    ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?
)
"""
_DECODERS = [(name, _codec(RUNS.c[name])[1]) for name in RUN_COLUMNS]
_UUID_HEX = _codec(RUNS.c.id)[0]

# Make sure the statements were compiled with the parameters this module fills in.
assert set(_INSERT_PLAN.columns) == set(RUN_COLUMNS)


def _decode(row: Sequence[Any]) -> RunState:
    values: dict[str, Any] = {
        name: None if value is None else decode(value)
        for (name, decode), value in zip(_DECODERS, row, strict=True)
    }
    return RunState(**values)


class SqliteRunStore:
    """Stores batches through one connection on one thread of its own."""

    def __init__(self, path: str, busy_timeout: float = 30.0) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._thread: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        return await self._call(self._store, check_ins)

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        return await self._call(self._prune, jobs, keep)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="crontopus-ingest")
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    async def close(self) -> None:
        """Close the connection and end the thread; a later `store` starts them again."""
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        await asyncio.get_running_loop().run_in_executor(thread, self._disconnect)
        thread.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        # The same settings as the engine's connections (db/engine.py): an answered
        # check-in survives a power cut.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        # Retention is housekeeping: a prune lost to a power cut only leaves old runs for the
        # next one. So its commit skips the fsync (WAL with synchronous=NORMAL keeps the file
        # consistent), and the next batch's FULL commit syncs the log, this prune's frames
        # included. Runs between prunes of a busy job are few (a tenth of the retention), and
        # an fsync each (3-6 ms here) stalled the writer between batches.
        if self._db is None:
            self._db = self._connect()
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._transaction() as db:
                return sum(
                    db.execute(_PRUNE_SQL, (tenant.hex, job.hex) * 2 + (keep,)).rowcount
                    for tenant, job in jobs
                )
        finally:
            if self._db is not None:  # None when the transaction failed: reconnects at FULL
                self._db.execute("PRAGMA synchronous=FULL")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self._db is None:
            self._db = self._connect()
        try:
            # IMMEDIATE takes the write lock before reading, so no other writer can change
            # these runs between the load and the write (PostgreSQL locks them instead).
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            # A fresh connection for the next batch: whatever went wrong stays with this one.
            self._disconnect()
            raise

    def _store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        with self._transaction() as db:
            merged = merge_batch(_load(db, batch_keys(check_ins)), check_ins)
            if merged.inserts:
                db.executemany(_INSERT_SQL, map(_INSERT_PLAN, merged.inserts))
            if merged.updates:
                db.executemany(_UPDATE_SQL, map(_UPDATE_PLAN, merged.updates))
            for rows, (sql, encode) in zip(rollup_rows(merged.finished), _ROLLUP_SQL, strict=True):
                if rows:
                    db.executemany(sql, map(encode, rows))
        return merged


def _load(db: sqlite3.Connection, keys: Sequence[RunKey]) -> dict[RunKey, RunState]:
    result = {}
    for tenant_id, ids in keys_by_tenant(keys).items():
        for row in db.execute(_select_sql(len(ids)), [_UUID_HEX(tenant_id), *map(_UUID_HEX, ids)]):
            state = _decode(row)
            result[(state.tenant_id, state.id)] = state
    return result
