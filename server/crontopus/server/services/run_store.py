"""Where the ingest writer stores a batch of check-ins: load, merge and write in one transaction.

`create_run_store` picks `SqliteRunStore` for a SQLite file (the embedded default), which
does a whole batch in one call on its own connection, and `SessionRunStore` otherwise
(PostgreSQL), which goes through SQLAlchemy sessions and locks the runs it merges.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Run
from crontopus.server.services.checkins import CheckIn, MergedBatch, RunKey, RunState, merge_batch
from crontopus.server.services.rollups import ROLLUPS, Rollup, rollup_rows

RUNS = cast(Table, Run.__table__)
RUN_COLUMNS = tuple(column.name for column in RUNS.columns)
KEY_COLUMNS = ("tenant_id", "id")


class RunStore(Protocol):
    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        """Merge `check_ins` into the runs they name and commit; raise if nothing was stored."""

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        """Delete the runs of these (tenant id, job id)s beyond each one's newest `keep`."""

    async def close(self) -> None:
        """Release connections and threads."""


def create_run_store(
    engine: AsyncEngine, session: SessionFactory, busy_timeout: float = 30.0
) -> RunStore:
    """The fastest store that is correct for `engine`'s database."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        # Imported here: the SQLite store compiles its SQL from this module's statements.
        from crontopus.server.services.sqlite_run_store import SqliteRunStore

        return SqliteRunStore(database, busy_timeout)
    return SessionRunStore(session)


def keys_by_tenant(keys: Sequence[RunKey]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Run ids grouped by tenant.

    Runs are loaded with one `tenant_id = ? AND id IN (...)` per tenant: SQLite answers
    a row-value `(tenant_id, id) IN (VALUES ...)` by scanning the whole table.
    """
    run_ids: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for tenant_id, run_id in keys:
        run_ids[tenant_id].append(run_id)
    return run_ids


def batch_keys(check_ins: Sequence[CheckIn]) -> list[RunKey]:
    return list(dict.fromkeys((c.tenant_id, c.run_id) for c in check_ins))


class SessionRunStore:
    """A batch per SQLAlchemy session; the runs it merges are locked (`FOR UPDATE`)."""

    def __init__(self, session: SessionFactory) -> None:
        self._session = session

    async def close(self) -> None:
        """Nothing of its own: the sessions belong to the app's engine."""

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        async with self._session() as session, session.begin():
            return sum([await prune_job(session, tenant, job, keep) for tenant, job in jobs])

    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        async with self._session() as session, session.begin():
            dialect = session.get_bind().dialect.name
            existing = await _load(session, batch_keys(check_ins))
            merged = merge_batch(existing, check_ins)
            if merged.inserts:
                # executemany with a cached statement: one huge VALUES clause per batch
                # costs more in SQL compilation than the database spends storing it.
                rows = [_row(state) for state in merged.inserts]
                await session.execute(_insert_runs(dialect), rows)
            if merged.updates:
                params = [_update_params(state) for state in merged.updates]
                await session.execute(UPDATE_RUN, params)
            for rollup, rows in zip(ROLLUPS, rollup_rows(merged.finished), strict=True):
                if rows:
                    # Counter rows are locked in key order, as by every other batch.
                    rows.sort(
                        key=lambda row: (row["tenant_id"], row[rollup.owner], row[rollup.bucket])
                    )
                    await session.execute(rollup_upsert(dialect, rollup), rows)
        return merged


# Transaction-scoped advisory locks on a batch's runs, taken in the order given (sorted).
_LOCK_RUNS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")


def _lock_key(key: RunKey) -> int:
    """A 64-bit advisory lock key per run (a collision only makes two batches take turns)."""
    return int.from_bytes((key[0].int ^ key[1].int).to_bytes(16, "big")[:8], "big", signed=True)


async def _load(session: AsyncSession, keys: Sequence[RunKey]) -> dict[RunKey, RunState]:
    lock = session.get_bind().dialect.name == "postgresql"
    if lock:
        # Another server process may be merging the same runs right now, or inserting one
        # this batch has not seen yet (FOR UPDATE cannot lock a row that does not exist):
        # take turns per run, always in the same order so two batches never deadlock.
        await session.execute(_LOCK_RUNS, {"keys": sorted({_lock_key(key) for key in keys})})
    result = {}
    for tenant_id, ids in keys_by_tenant(keys).items():
        query = select(*RUNS.c).where(RUNS.c.tenant_id == tenant_id, RUNS.c.id.in_(ids))
        if lock:
            query = query.with_for_update()
        for row in await session.execute(query):
            result[(row.tenant_id, row.id)] = RunState(**row._mapping)
    return result


def _row(state: RunState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in RUN_COLUMNS}


UPDATE_RUN = (
    update(RUNS)
    .where(RUNS.c.tenant_id == bindparam("key_tenant_id"), RUNS.c.id == bindparam("key_id"))
    .values({name: bindparam(name) for name in RUN_COLUMNS if name not in KEY_COLUMNS})
)


def _update_params(state: RunState) -> dict[str, Any]:
    params = {name: getattr(state, name) for name in RUN_COLUMNS if name not in KEY_COLUMNS}
    params["key_tenant_id"], params["key_id"] = state.tenant_id, state.id
    return params


def _dml(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@functools.cache
def _insert_runs(dialect: str) -> Any:
    return _dml(dialect)(RUNS).on_conflict_do_nothing()


@functools.cache
def rollup_upsert(dialect: str, rollup: Rollup) -> Any:
    """The add-to-counters upsert of one rollup table, built once per dialect."""
    table = rollup.model.__table__
    statement = _dml(dialect)(table)
    greatest = func.max if dialect == "sqlite" else func.greatest
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", rollup.owner, rollup.bucket],
        set_={
            "runs": table.c.runs + statement.excluded.runs,
            "successes": table.c.successes + statement.excluded.successes,
            "failures": table.c.failures + statement.excluded.failures,
            # A row started by MISSED runs has no last run yet (SQLite's max() of a NULL is NULL).
            "last_run_at": greatest(
                func.coalesce(table.c.last_run_at, statement.excluded.last_run_at),
                statement.excluded.last_run_at,
            ),
        },
    )


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
