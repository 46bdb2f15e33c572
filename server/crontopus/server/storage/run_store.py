"""Where the ingest writer stores a batch of check-ins: load, merge and write in one transaction.

`SqliteRunStore` (sqlite_run_store.py) does a whole batch in one call on its own connection;
`PostgresRunStore` (postgres_run_store.py) locks the batch's runs and writes it in one
statement through asyncpg; `SessionRunStore` goes through SQLAlchemy sessions, for a database
with no store of its own (an in-memory SQLite database: one process, one writer).
`storage.factory.create_run_store` picks one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
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


class PartlyStored(Exception):
    """A batch stored in more than one transaction failed after some of them committed.

    `merged` is what the committed part stored; the cause is `__cause__`. The check-ins
    not in `merged.states` were not stored.
    """

    def __init__(self, merged: MergedBatch) -> None:
        super().__init__(f"{len(merged.states)} runs of the batch were stored")
        self.merged = merged


class RunStore(Protocol):
    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        """Merge `check_ins` into the runs they name and commit; raise if nothing was stored
        (`PartlyStored` if only some of their runs were)."""

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        """Delete the runs of these (tenant id, job id)s beyond each one's newest `keep`."""

    async def close(self) -> None:
        """Release connections and threads."""


class SessionRunStore:
    """A batch per SQLAlchemy session, for a database only this process writes runs to."""

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


async def _load(session: AsyncSession, keys: Sequence[RunKey]) -> dict[RunKey, RunState]:
    result = {}
    for tenant_id, ids in keys_by_tenant(keys).items():
        query = select(*RUNS.c).where(RUNS.c.tenant_id == tenant_id, RUNS.c.id.in_(ids))
        for row in await session.execute(query):
            result[(row.tenant_id, row.id)] = RunState(**row._mapping)
    return result
