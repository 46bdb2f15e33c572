"""The run store's statements, shared by both stores: columns, updates, counters, pruning."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.dialect import insert_for
from crontopus.server.db.models import Run
from crontopus.server.services.checkins import CheckIn, RunKey, RunState
from crontopus.server.services.rollups import Rollup

RUNS = cast(Table, Run.__table__)
RUN_COLUMNS = tuple(column.name for column in RUNS.columns)
KEY_COLUMNS = ("tenant_id", "id")


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


def run_row(state: RunState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in RUN_COLUMNS}


UPDATE_RUN = (
    update(RUNS)
    .where(RUNS.c.tenant_id == bindparam("key_tenant_id"), RUNS.c.id == bindparam("key_id"))
    .values({name: bindparam(name) for name in RUN_COLUMNS if name not in KEY_COLUMNS})
)


def update_params(state: RunState) -> dict[str, Any]:
    params = {name: getattr(state, name) for name in RUN_COLUMNS if name not in KEY_COLUMNS}
    params["key_tenant_id"], params["key_id"] = state.tenant_id, state.id
    return params


@functools.cache
def insert_runs(dialect: str) -> Any:
    return insert_for(dialect, RUNS).on_conflict_do_nothing()


@functools.cache
def rollup_upsert(dialect: str, rollup: Rollup) -> Any:
    """The add-to-counters upsert of one rollup table, built once per dialect."""
    table = rollup.model.__table__
    statement = insert_for(dialect, table)
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
