"""Every run store (SQLite's own connection, PostgreSQL's through asyncpg, SQLAlchemy sessions)
stores the same runs."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.db.engine import create_engine, create_session_factory
from crontopus.server.db.models import JobHealthDay, JobHealthHour, Run, Tenant
from crontopus.server.events.postgres import dsn_of
from crontopus.server.services.checkins import CheckIn, CheckInKind, RunState, merge, new_run
from crontopus.server.services.rollups import ROLLUPS, rollup_rows
from crontopus.server.settings import Settings
from crontopus.server.storage.factory import create_run_store
from crontopus.server.storage.postgres_run_store import PostgresRunStore, lock_key
from crontopus.server.storage.run_store import RunStore
from crontopus.server.storage.sqlite_run_store import SqliteRunStore

JOB, ENDPOINT = uuid.uuid4(), uuid.uuid4()
COUNTS = ("runs", "successes", "failures", "last_run_at")
# Whole seconds on purpose: SQLite text must still carry ".000000" to sort as time.
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture
async def tenant(state: AppState) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    async with state.session() as session, session.begin():
        session.add(Tenant(id=tenant_id, slug="acme", name="Acme"))
    return tenant_id


@pytest.fixture
async def store(state: AppState) -> AsyncIterator[RunStore]:
    store = create_run_store(state.engine, state.session)
    yield store
    await store.close()


def start(tenant: uuid.UUID, run: uuid.UUID, at: datetime = T0) -> CheckIn:
    return CheckIn(tenant, run, JOB, CheckInKind.START, at, endpoint_id=ENDPOINT, job_name="backup")


def finish(tenant: uuid.UUID, run: uuid.UUID, **changes: object) -> CheckIn:
    check_in = CheckIn(
        tenant,
        run,
        JOB,
        CheckInKind.FINISH,
        T0 + timedelta(seconds=90, microseconds=250),
        endpoint_id=ENDPOINT,
        status=RunStatus.FAILURE,
        exit_code=2,
        output="disk full\n",
        output_truncated=True,
        commit_id="c0ffee",
        job_name="backup",
    )
    return replace(check_in, **changes)  # type: ignore[arg-type]


async def stored_run(state: AppState, tenant: uuid.UUID, run: uuid.UUID) -> RunState:
    async with state.session() as session:
        row = await session.get(Run, (tenant, run))
        assert row is not None
        return RunState(**{c.name: getattr(row, c.name) for c in Run.__table__.columns})


def without_receipt(run: RunState) -> RunState:
    return replace(run, received_at=T0)


def test_the_sqlite_file_and_postgresql_each_get_their_own_store(
    state: AppState, store: RunStore
) -> None:
    expected = SqliteRunStore if state.engine.dialect.name == "sqlite" else PostgresRunStore
    assert isinstance(store, expected)


@pytest.mark.parametrize("order", list(itertools.permutations(["start", "finish", "again"])))
async def test_every_arrival_order_across_batches_stores_the_same_run(
    state: AppState, store: RunStore, tenant: uuid.UUID, order: tuple[str, ...]
) -> None:
    run = uuid.uuid4()
    reports = {"start": start(tenant, run), "finish": finish(tenant, run)}
    reports["again"] = finish(tenant, run, exit_code=0, status=RunStatus.SUCCESS)
    for name in order:
        await store.store([reports[name]])
    first_finish = "finish" if order.index("finish") < order.index("again") else "again"
    expected = merge(new_run(reports["start"]), reports[first_finish])
    assert without_receipt(await stored_run(state, tenant, run)) == without_receipt(expected)


async def test_a_run_stored_here_reads_back_through_the_orm_unchanged(
    state: AppState, store: RunStore, tenant: uuid.UUID
) -> None:
    run = uuid.uuid4()
    merged = await store.store([finish(tenant, run, duration_ms=1500, namespace="nightly")])
    assert await stored_run(state, tenant, run) == merged.states[(tenant, run)]


async def test_a_run_the_orm_wrote_is_loaded_and_merged(
    state: AppState, store: RunStore, tenant: uuid.UUID
) -> None:
    run = uuid.uuid4()
    started = new_run(start(tenant, run))
    async with state.session() as session, session.begin():
        session.add(Run(**{c.name: getattr(started, c.name) for c in Run.__table__.columns}))
    merged = await store.store([finish(tenant, run)])
    assert merged.inserts == []
    assert merged.updates == [merge(started, finish(tenant, run))]
    assert await stored_run(state, tenant, run) == merge(started, finish(tenant, run))


async def test_the_health_counters_count_a_repeated_finish_once(
    state: AppState, store: RunStore, tenant: uuid.UUID
) -> None:
    runs = [uuid.uuid4() for _ in range(3)]
    await store.store([finish(tenant, run) for run in runs])
    await store.store([finish(tenant, runs[0]), start(tenant, runs[1])])
    await store.store([finish(tenant, uuid.uuid4(), status=RunStatus.SUCCESS, exit_code=0)])
    async with state.session() as session:
        rows: list[JobHealthHour | JobHealthDay] = [
            (await session.scalars(select(JobHealthHour))).one(),
            (await session.scalars(select(JobHealthDay))).one(),
        ]
    for row in rows:
        assert (row.runs, row.successes, row.failures) == (4, 1, 3)
        assert row.last_run_at == finish(tenant, runs[0]).at


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_locked_database_fails_the_batch_and_the_next_one_is_stored(
    state: AppState, tenant: uuid.UUID
) -> None:
    path = state.engine.url.database
    assert path is not None
    store = SqliteRunStore(path, busy_timeout=0.1)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
    # Off the event loop: the app's own tasks may be committing right now.
    await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
    run = uuid.uuid4()
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await store.store([finish(tenant, run)])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    merged = await store.store([finish(tenant, run)])
    await store.close()
    assert await stored_run(state, tenant, run) == merged.states[(tenant, run)]


async def test_pruning_keeps_each_jobs_newest_runs(
    state: AppState, store: RunStore, tenant: uuid.UUID
) -> None:
    other_job = uuid.uuid4()
    starts = [T0 + timedelta(minutes=n) for n in range(30)]
    await store.store([start(tenant, uuid.uuid4(), at) for at in starts])
    await store.store([replace(start(tenant, uuid.uuid4(), T0), job_id=other_job)])
    assert await store.prune([(tenant, JOB), (tenant, other_job)], keep=10) == 20
    async with state.session() as session:
        kept = (await session.scalars(select(Run.started_at).where(Run.job_id == JOB))).all()
        others = (await session.scalars(select(Run).where(Run.job_id == other_job))).all()
    assert sorted(kept) == starts[-10:]
    assert len(others) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_prune_commits_without_its_own_fsync_and_batches_stay_fully_durable(
    state: AppState, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = state.engine.url.database
    assert path is not None
    store = SqliteRunStore(path)
    await store.store([start(tenant, uuid.uuid4(), T0 + timedelta(minutes=n)) for n in range(5)])
    modes: list[int] = []
    original = SqliteRunStore._transaction

    def spying(self: SqliteRunStore) -> object:
        assert self._db is not None
        modes.append(self._db.execute("PRAGMA synchronous").fetchone()[0])
        return original(self)

    monkeypatch.setattr(SqliteRunStore, "_transaction", spying)
    assert await store.prune([(tenant, JOB)], keep=2) == 3
    await store.store([start(tenant, uuid.uuid4())])
    monkeypatch.undo()
    await store.close()
    # 1 is NORMAL (the WAL is synced by the next FULL commit), 2 is FULL (fsync at commit).
    assert modes == [1, 2]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_start_and_finish_stored_at_once_by_two_servers_make_one_finished_run(
    state: AppState, tenant: uuid.UUID, settings: Settings
) -> None:
    # A second engine stands for a second server process sharing the database.
    other_engine = create_engine(settings.database_url)
    other = PostgresRunStore(other_engine, create_session_factory(other_engine))
    here = PostgresRunStore(state.engine, state.session)
    runs = [uuid.uuid4() for _ in range(200)]
    try:
        for chunk in range(0, len(runs), 20):
            batch = runs[chunk : chunk + 20]
            await asyncio.gather(
                here.store([start(tenant, run) for run in batch]),
                other.store([finish(tenant, run) for run in reversed(batch)]),
            )
    finally:
        await other_engine.dispose()
    async with state.session() as session:
        statuses = (await session.scalars(select(Run.status))).all()
    assert len(statuses) == len(runs)
    assert set(statuses) == {RunStatus.FAILURE}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_batch_whose_locks_time_out_leaves_its_connection_fit_for_the_next_batch(
    state: AppState, tenant: uuid.UUID, settings: Settings
) -> None:
    # One pooled connection, so the next batch borrows the one the failed batch used.
    engine = create_async_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": {"lock_timeout": "200"}},
    )
    store = PostgresRunStore(engine, create_session_factory(engine))
    run = uuid.uuid4()
    # Another server process merging the same run holds its lock.
    holder = await asyncpg.connect(dsn_of(settings.database_url))
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", lock_key((tenant, run)))
        with pytest.raises(asyncpg.LockNotAvailableError):
            await store.store([finish(tenant, run)])
        await holder.close()
        merged = await store.store([finish(tenant, run)])
        assert await store.prune([(tenant, JOB)], keep=10) == 0
    finally:
        await holder.close()
        await engine.dispose()
    assert await stored_run(state, tenant, run) == merged.states[(tenant, run)]


async def test_new_runs_are_counted_in_the_utc_hour_and_day_of_their_start(
    state: AppState, store: RunStore, tenant: uuid.UUID
) -> None:
    # Across an hour and a day, in another zone, with and without an endpoint.
    late = datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC)
    starts = [
        late,
        late + timedelta(microseconds=1),
        late.astimezone(timezone(timedelta(hours=-5))),
    ]
    statuses = [RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.TIMEOUT]
    check_ins = [
        finish(tenant, uuid.uuid4(), started_at=at, status=status, endpoint_id=endpoint)
        for at, status in zip(starts, statuses, strict=True)
        for endpoint in (ENDPOINT, None)
    ]
    merged = await store.store(check_ins)
    assert len(merged.inserts) == len(merged.finished) == len(check_ins)
    expected = rollup_rows(merged.finished)
    async with state.session() as session:
        for rollup, rows in zip(ROLLUPS, expected, strict=True):
            key = ("tenant_id", rollup.owner, rollup.bucket)
            stored = (await session.scalars(select(rollup.model))).all()
            assert {tuple(getattr(row, name) for name in (*key, *COUNTS)) for row in stored} == {
                tuple(row[name] for name in (*key, *COUNTS)) for row in rows
            }
    assert len(expected[0]) == 2  # two hours of the job


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_finish_of_a_run_started_here_goes_straight_to_the_locked_merge(
    state: AppState, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresRunStore(state.engine, state.session)
    started, alone = uuid.uuid4(), uuid.uuid4()
    await store.store([start(tenant, started)])
    attempts: list[list[uuid.UUID]] = []
    original = PostgresRunStore._insert_new

    async def spying(self: PostgresRunStore, check_ins: Sequence[CheckIn]) -> object:
        attempts.append([c.run_id for c in check_ins])
        return await original(self, check_ins)

    monkeypatch.setattr(PostgresRunStore, "_insert_new", spying)
    merged = await store.store([finish(tenant, started), finish(tenant, alone)])
    # Only the run this store has not seen tries the one-statement insert.
    assert attempts == [[alone]]
    assert [run.id for run in merged.updates] == [started]
    assert [run.id for run in merged.inserts] == [alone]
    assert {run.id for run in merged.finished} == {started, alone}
    for run in (started, alone):
        assert await stored_run(state, tenant, run) == merged.states[(tenant, run)]
