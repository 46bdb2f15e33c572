"""The job directory: a tenant's jobs at a recent HEAD, read once however many check-ins wait."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from crontopus.server.gitstore import ManagedGitStore
from crontopus.server.gitstore.model import Author, Put, Snapshot
from crontopus.server.services.job_directory import JobDirectory
from tests.server.gitstore.support import manifest

ALICE = Author("Alice", "alice@example.com")


class CountedStore(ManagedGitStore):
    """The real managed store, counting snapshot reads and able to hold one back."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def snapshot(self, tenant: str, commit: str | None = None) -> Snapshot:
        self.reads += 1
        snap = await super().snapshot(tenant, commit)
        if self.gate is not None:
            await self.gate.wait()
        return snap


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def store_with_job(tmp_path: Path, job_id: uuid.UUID) -> CountedStore:
    store = CountedStore(tmp_path / "git")
    await store.ensure_repository("acme")
    await store.commit_changes(
        "acme", [Put("default/db.yaml", manifest("db", "default", job_id))], ALICE, "create"
    )
    return store


async def test_check_ins_in_flight_when_the_entry_expires_share_one_read(tmp_path: Path) -> None:
    job_id = uuid.uuid4()
    store, clock = await store_with_job(tmp_path, job_id), Clock()
    directory = JobDirectory(store, max_age=2.0, clock=clock)
    assert (await directory.lookup("acme", job_id)).name == "db"  # type: ignore[union-attr]
    clock.now += 3
    store.gate = asyncio.Event()
    lookups = [asyncio.create_task(directory.lookup("acme", job_id)) for _ in range(64)]
    for _ in range(20):
        await asyncio.sleep(0.01)
    store.gate.set()
    labels = await asyncio.gather(*lookups)
    assert {label.name for label in labels if label is not None} == {"db"}
    assert store.reads == 2


async def test_a_read_that_began_before_a_commit_is_not_kept_as_fresh(tmp_path: Path) -> None:
    job_id, created = uuid.uuid4(), uuid.uuid4()
    store, clock = await store_with_job(tmp_path, job_id), Clock()
    directory = JobDirectory(store, max_age=2.0, clock=clock)
    store.gate = asyncio.Event()
    stale = asyncio.create_task(directory.lookup("acme", job_id))
    await asyncio.sleep(0.05)
    await store.commit_changes(
        "acme", [Put("default/new.yaml", manifest("new", "default", created))], ALICE, "create"
    )
    directory.forget("acme")
    store.gate.set()
    await stale
    label = await directory.lookup("acme", created)
    assert label is not None
    assert label.name == "new"
