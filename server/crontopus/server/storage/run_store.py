"""Where the ingest writer stores a batch of check-ins: load, merge and write in one transaction.

`SessionRunStore` goes through SQLAlchemy sessions and locks the runs it merges (PostgreSQL);
`SqliteRunStore` (sqlite_run_store.py) does a whole batch in one call on its own connection.
`storage.factory.create_run_store` picks one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.engine import SessionFactory
from crontopus.server.services.checkins import CheckIn, MergedBatch, RunKey, RunState, merge_batch
from crontopus.server.services.rollups import ROLLUPS, rollup_rows
from crontopus.server.storage.statements import (
    RUNS,
    UPDATE_RUN,
    batch_keys,
    insert_runs,
    keys_by_tenant,
    prune_job,
    rollup_upsert,
    run_row,
    update_params,
)


class RunStore(Protocol):
    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        """Merge `check_ins` into the runs they name and commit; raise if nothing was stored."""

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        """Delete the runs of these (tenant id, job id)s beyond each one's newest `keep`."""

    async def close(self) -> None:
        """Release connections and threads."""


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
                rows = [run_row(state) for state in merged.inserts]
                await session.execute(insert_runs(dialect), rows)
            if merged.updates:
                params = [update_params(state) for state in merged.updates]
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
