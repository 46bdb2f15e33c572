"""One check-in the database refuses fails alone: the rest of its batch is stored and answered."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from crontopus.server.app import AppState
from crontopus.server.availability import unavailability
from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import Run
from crontopus.server.services.checkins import CheckIn, CheckInKind, MergedBatch
from crontopus.server.services.ingest import CheckInRefused, IngestUnavailable
from crontopus.server.settings import normalise_database_url
from crontopus.server.storage.run_store import RunStore
from crontopus.server.storage.sqlite_run_store import SqliteRunStore
from tests.server.conftest import Api, Persona, free_port, require_postgres
from tests.server.routes.test_checkin import post, setup

# Past the validation at the entry points, a start the database cannot hold: on SQLite it
# overflows the conversion to UTC, PostgreSQL's driver refuses it.
YEAR_ONE = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))


class GatedStore:
    """The real run store, holding its first batch until the test opens the gate.

    While the first batch waits, every other check-in queues, so the next batch holds
    them all together (as under load) whatever order the event loop runs the requests in.
    """

    def __init__(self, store: RunStore) -> None:
        self.store_ = store
        self.gate = asyncio.Event()
        self.waiting = 0
        self.attempts: list[int] = []
        #: Runs whose check-ins are poisoned on their way to the database, past validation.
        self.poisoned: set[uuid.UUID] = set()

    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        self.waiting = len(check_ins)
        await self.gate.wait()
        self.attempts.append(len(check_ins))
        check_ins = [
            replace(c, started_at=YEAR_ONE) if c.run_id in self.poisoned else c for c in check_ins
        ]
        return await self.store_.store(check_ins)

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        return await self.store_.prune(jobs, keep)

    async def close(self) -> None:
        await self.store_.close()


def poisoned_start(persona: Persona) -> CheckIn:
    return CheckIn(
        tenant_id=uuid.UUID(persona.tenant_id),
        run_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        kind=CheckInKind.START,
        at=datetime.now(UTC),
        started_at=YEAR_ONE,
    )


async def queued(state: AppState, gated: GatedStore, count: int) -> None:
    """Wait until `count` check-ins wait at the gate or in the writer's queue."""
    async with asyncio.timeout(30):
        while gated.waiting + state.ingest.depth < count:  # noqa: ASYNC110 - nothing to await
            await asyncio.sleep(0.005)


async def runs_of(state: AppState, tenant_id: str) -> int:
    async with state.session() as session:
        query = select(func.count()).select_from(Run).where(Run.tenant_id == uuid.UUID(tenant_id))
        return int(await session.scalar(query) or 0)


async def test_a_poisoned_check_in_fails_alone_among_100_concurrent_ones_of_another_tenant(
    api: Api, alice: Persona, bob: Persona, state: AppState, caplog: pytest.LogCaptureFixture
) -> None:
    job_id, token = await setup(api, alice)
    gated = GatedStore(state.ingest._runs)
    state.ingest._runs = gated
    poison = poisoned_start(bob)
    good = [
        asyncio.create_task(post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4())))
        for _ in range(100)
    ]
    await queued(state, gated, 50)
    poisoned = asyncio.create_task(state.ingest.submit(poison))
    await queued(state, gated, 101)
    gated.gate.set()
    answers = await asyncio.gather(*good)
    with pytest.raises(CheckInRefused) as refused:
        await poisoned
    assert [status for status, _ in answers] == [200] * 100
    assert await runs_of(state, alice.tenant_id) == 100
    assert await runs_of(state, bob.tenant_id) == 0
    # The poison shared a batch with good check-ins, which were stored in halves around it.
    assert max(gated.attempts) > 1
    assert len(gated.attempts) > 2
    message = str(refused.value)
    assert "could not store this check-in" in message
    alice_ids = (alice.tenant_id, uuid.UUID(alice.tenant_id).hex)
    for leak in ("INSERT", "runs", "0001", *alice_ids):
        assert leak not in message
    # Nor does the log quote statement parameters (a batch's hold other tenants' values).
    assert f"the database refused the check-in of run {poison.run_id}" in caplog.text
    assert "[parameters:" not in caplog.text
    assert not any(tenant in caplog.text for tenant in alice_ids)
    # The writer goes on storing.
    status, _ = await post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4()))
    assert status == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_unreachable_database_fails_the_batch_once_with_a_retry_answer(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id, token = await setup(api, alice)
    path = state.engine.url.database
    assert path is not None
    counted = GatedStore(SqliteRunStore(path, busy_timeout=0.1))
    counted.gate.set()
    state.ingest._runs = counted
    # Authenticated once before the lock: verifying a token records its use (a write).
    status, _ = await post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4()))
    assert status == 200
    counted.attempts.clear()
    blocker = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
    await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
    try:
        answers = await asyncio.gather(
            *(post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4())) for _ in range(20))
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Retried by their senders, not stored in halves: every half would wait for the lock too.
    assert len(counted.attempts) <= 20
    assert {status for status, _ in answers} == {503}
    for _, body in answers:
        assert body["error"].startswith("the database is unavailable (")
        assert "INSERT" not in body["error"]
        assert body["requestId"]
    status, _ = await post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4()))
    assert status == 200


async def test_a_check_in_that_fails_alone_is_answered_retry_later_not_refused(
    api: Api, alice: Persona, bob: Persona, state: AppState
) -> None:
    # Nothing else was stored, so nothing shows the database would store anything at all.
    with pytest.raises(IngestUnavailable, match="could not store the check-in"):
        await state.ingest.submit(poisoned_start(bob))
    job_id, token = await setup(api, alice)
    status, _ = await post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4()))
    assert status == 200


async def test_a_postgresql_that_cannot_serve_is_unavailable_and_refused_data_is_not() -> None:
    admin_url = require_postgres()
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/crontopus")
    try:
        with pytest.raises(Exception) as failure:  # noqa: PT011 - classified below
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    # Answered 503 at once, never stored in halves: every half would fail the same way.
    assert unavailability(failure.value) is not None, repr(failure.value)
    engine = create_engine(normalise_database_url(admin_url))
    try:
        # Values PostgreSQL refuses: a NUL in text, a division by zero.
        for statement, value in [("SELECT CAST(:v AS text)", "a\x00"), ("SELECT 1 / :v", 0)]:
            with pytest.raises(Exception) as failure:  # noqa: PT011 - classified below
                async with engine.connect() as connection:
                    await connection.execute(text(statement), {"v": value})
            assert unavailability(failure.value) is None, repr(failure.value)
    finally:
        await engine.dispose()


CHECK_IN = """
mutation($input: CheckInInput!) {
  checkIn(input: $input) { __typename ... on Run { id } }
}
"""


async def test_both_entry_points_answer_a_refused_check_in_with_a_request_id_and_no_sql(
    api: Api, alice: Persona, bob: Persona, state: AppState
) -> None:
    alice_job, alice_token = await setup(api, alice)
    bob_job, bob_token = await setup(api, bob)
    gated = GatedStore(state.ingest._runs)
    state.ingest._runs = gated
    refused_http, refused_graphql = uuid.uuid4(), uuid.uuid4()
    gated.poisoned |= {refused_http, refused_graphql}
    good = [
        asyncio.create_task(
            post(api, alice_token, f"/checkin/{alice_job}/0", rid=str(uuid.uuid4()))
        )
        for _ in range(20)
    ]
    await queued(state, gated, 10)
    http = asyncio.create_task(
        post(api, bob_token, f"/checkin/{bob_job}/start", rid=str(refused_http))
    )
    report = {"runId": str(refused_graphql), "jobId": bob_job, "event": "START"}
    graphql = asyncio.create_task(api.post(CHECK_IN, {"input": report}, bob.access_token))
    await queued(state, gated, 22)
    gated.gate.set()
    assert [status for status, _ in await asyncio.gather(*good)] == [200] * 20
    status, body = await http
    assert status == 422
    assert "could not store this check-in (request id " in body["error"]
    (error,) = (await graphql)["errors"]
    assert error["extensions"]["code"] == "CHECKIN_REFUSED"
    assert f"(request id {error['extensions']['requestId']})" in error["message"]
    for message in (body["error"], error["message"]):
        assert "INSERT" not in message
        assert "out of range" not in message  # the driver's words stay in the log
    assert await runs_of(state, alice.tenant_id) == 20
    assert await runs_of(state, bob.tenant_id) == 0


async def test_a_check_in_not_stored_in_time_is_answered_retry_and_its_batch_still_lands(
    alice: Persona, state: AppState, caplog: pytest.LogCaptureFixture
) -> None:
    gated = GatedStore(state.ingest._runs)
    state.ingest._runs = gated
    state.ingest._wait_timeout = 0.2
    late, dropped = (replace(poisoned_start(alice), started_at=None) for _ in range(2))
    with pytest.raises(IngestUnavailable, match=r"did not store the check-in within 0.2 s"):
        await state.ingest.submit(late)
    # A sender that stops waiting (its client went away) leaves the batch alone as well.
    gone = asyncio.create_task(state.ingest.submit(dropped))
    await queued(state, gated, 2)
    gone.cancel()
    gated.gate.set()
    async with asyncio.timeout(30):
        while await runs_of(state, alice.tenant_id) < 2:  # noqa: ASYNC110 - nothing to await
            await asyncio.sleep(0.01)
    assert gone.cancelled()
    assert "Traceback" not in caplog.text
