"""A batch stored in parts, and pruning alongside the next batch, in the ingest writer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from crontopus.core.enums import RunStatus
from crontopus.server.events.event import Event
from crontopus.server.services import ingest
from crontopus.server.services.checkins import CheckIn, CheckInKind, MergedBatch, merge_batch
from crontopus.server.services.ingest import IngestUnavailable, IngestWriter
from crontopus.server.storage.run_store import PartlyStored

TENANT, JOB = uuid.uuid4(), uuid.uuid4()


def finish(run: uuid.UUID | None = None) -> CheckIn:
    return CheckIn(
        TENANT,
        run or uuid.uuid4(),
        JOB,
        CheckInKind.FINISH,
        datetime.now(UTC),
        status=RunStatus.SUCCESS,
        exit_code=0,
    )


class Recorder:
    """A broadcaster every tenant listens to, keeping what was published."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def listened(self, tenant_id: uuid.UUID, topic: str) -> bool:
        return True

    async def publish(self, event: Event) -> None:
        self.events.append(event)


class PartStore:
    """Commits the first check-in of its first batch, then fails the others with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[list[uuid.UUID]] = []
        self.stored: set[uuid.UUID] = set()

    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        self.calls.append([c.run_id for c in check_ins])
        if len(self.calls) == 1:
            committed = merge_batch({}, check_ins[:1])
            self.stored.add(check_ins[0].run_id)
            raise PartlyStored(committed) from self.error
        self.stored.update(c.run_id for c in check_ins)
        return merge_batch({}, check_ins)

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        return 0

    async def close(self) -> None:
        pass


async def store_batch(writer: IngestWriter, check_ins: list[CheckIn]) -> list[Any]:
    writer.start()
    try:
        # Queued before the writer runs: one batch.
        return await asyncio.gather(*(writer.submit(c) for c in check_ins), return_exceptions=True)
    finally:
        await writer.stop()


async def test_a_batch_refused_after_part_of_it_committed_answers_and_announces_that_part() -> None:
    store, events = PartStore(ValueError("refused")), Recorder()
    writer = IngestWriter(None, events, runs=store)  # type: ignore[arg-type]
    check_ins = [finish() for _ in range(3)]
    answers = await store_batch(writer, check_ins)
    assert [answer.id for answer in answers] == [c.run_id for c in check_ins]
    # The committed run is not stored again; the others are, in halves.
    assert store.calls[0] == [c.run_id for c in check_ins]
    assert check_ins[0].run_id not in {run for call in store.calls[1:] for run in call}
    # Every run announced exactly once.
    announced = sorted(str(event.data["id"]) for event in events.events)
    assert announced == sorted(str(c.run_id) for c in check_ins)


async def test_an_outage_after_part_of_a_batch_committed_fails_only_the_rest() -> None:
    store, events = PartStore(ConnectionRefusedError("gone")), Recorder()
    writer = IngestWriter(None, events, runs=store)  # type: ignore[arg-type]
    check_ins = [finish() for _ in range(3)]
    answers = await store_batch(writer, check_ins)
    assert answers[0].id == check_ins[0].run_id
    assert all(isinstance(answer, IngestUnavailable) for answer in answers[1:])
    assert len(store.calls) == 1
    assert [str(event.data["id"]) for event in events.events] == [str(check_ins[0].run_id)]


class SlowPruneStore:
    """Stores everything; its prune waits until the test lets it finish."""

    prunes_alongside = True

    def __init__(self) -> None:
        self.batches = 0
        self.pruning = asyncio.Event()
        self.release = asyncio.Event()
        self.prunes = 0

    async def store(self, check_ins: Sequence[CheckIn]) -> MergedBatch:
        self.batches += 1
        return merge_batch({}, check_ins)

    async def prune(self, jobs: Sequence[tuple[uuid.UUID, uuid.UUID]], keep: int) -> int:
        self.prunes += 1
        self.pruning.set()
        await self.release.wait()
        return 0

    async def close(self) -> None:
        pass


async def test_a_store_that_prunes_alongside_keeps_storing_while_a_prune_runs() -> None:
    store = SlowPruneStore()
    writer = IngestWriter(None, Recorder(), runs=store, retention=10)  # type: ignore[arg-type]
    writer.start()
    await asyncio.gather(*(writer.submit(finish()) for _ in range(5)))
    async with asyncio.timeout(5):
        await store.pruning.wait()
    # The prune has not finished, and batches are still stored (one prune at a time).
    for _ in range(3):
        await asyncio.gather(*(writer.submit(finish()) for _ in range(5)))
    assert store.batches >= 4
    assert store.prunes == 1
    stopping = asyncio.create_task(writer.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # stopping waits for the prune
    store.release.set()
    async with asyncio.timeout(5):
        await stopping


@contextlib.asynccontextmanager
async def pruning_writer() -> AsyncIterator[tuple[SlowPruneStore, IngestWriter]]:
    """Yield a writer whose first prune (of a job with two new runs) is running."""
    store = SlowPruneStore()
    writer = IngestWriter(None, Recorder(), runs=store, retention=10)  # type: ignore[arg-type]
    writer.start()
    try:
        await asyncio.gather(*(writer.submit(finish()) for _ in range(2)))  # due: 2 new runs
        async with asyncio.timeout(5):
            await store.pruning.wait()
        yield store, writer
    finally:
        await writer.stop()


async def test_runs_stored_while_a_prune_ran_count_towards_the_next() -> None:
    async with pruning_writer() as (store, writer):
        await writer.submit(finish())  # stored while the prune runs
        store.release.set()
        await asyncio.sleep(0.05)
        assert store.prunes == 1
        await writer.submit(finish())  # with the one above, two new runs since: due again
        async with asyncio.timeout(5):
            while store.prunes < 2:  # noqa: ASYNC110 - the prune is the writer's task
                await asyncio.sleep(0.01)


async def test_a_prune_alongside_prunes_again_when_runs_stored_meanwhile_made_a_job_due() -> None:
    async with pruning_writer() as (store, writer):
        await writer.submit(finish())
        await writer.submit(finish())  # two stored while the prune runs: due again
        store.release.set()
        async with asyncio.timeout(5):
            await writer.pruned()
        # No batch came after the prune, and the job was still pruned again.
        assert store.prunes == 2


async def test_stopping_does_not_wait_long_for_a_prune_the_database_holds_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest, "DRAIN_TIMEOUT", 0.1)
    store = SlowPruneStore()  # never released
    writer = IngestWriter(None, Recorder(), runs=store, retention=10)  # type: ignore[arg-type]
    writer.start()
    await asyncio.gather(*(writer.submit(finish()) for _ in range(2)))
    async with asyncio.timeout(5):
        await store.pruning.wait()
        await writer.stop()
