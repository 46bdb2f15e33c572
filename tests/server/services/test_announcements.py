"""One announcement per adopted commit, however many server processes adopt it.

Each "process" here is what a server process holds: its own mirror of the forge (an
`ExternalGitStore` under its own directory), its own PostgreSQL event bus connection, its own
database engine, and a `CommitAnnouncer` as the store's `on_adopt`, as the server wires them.
The forge is a bare repository reached by its path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crontopus.server.db.engine import create_engine, create_session_factory
from crontopus.server.db.models import CommitAnnouncement, Tenant
from crontopus.server.events.broadcaster import Broadcaster, Event, InProcessBroadcaster
from crontopus.server.events.codec import read_event
from crontopus.server.events.postgres import PostgresBroadcaster, dsn_of
from crontopus.server.events.topics import AgentNotice, JobChanged
from crontopus.server.gitstore import ExternalGitStore, ExternalRemote, Put
from crontopus.server.services.announcements import Claim, CommitAnnouncer, claim_lock_key
from tests.server.gitstore.support import ALICE, manifest, raw_commit

TENANT = "acme"


@dataclass
class Process:
    """What one server process holds of the external store."""

    store: ExternalGitStore
    announcer: CommitAnnouncer
    broadcaster: Broadcaster
    engine: AsyncEngine

    async def sync(self) -> None:
        await self.store.sync(TENANT)
        await self.announcer.settled()


class Heard:
    """A `jobEvents` and agent-channel subscriber of one process: what it received."""

    def __init__(self, broadcaster: Broadcaster, tenant_id: uuid.UUID) -> None:
        self.jobs: list[tuple[str, uuid.UUID, str]] = []
        self.commits: list[str | None] = []
        self._tasks = [
            asyncio.create_task(self._listen(broadcaster.subscribe(tenant_id, "jobs"))),
            asyncio.create_task(self._listen(broadcaster.subscribe(tenant_id, "agents"))),
        ]

    async def _listen(self, stream: AsyncIterator[Event]) -> None:
        async for event in stream:
            if event.topic == JobChanged.TOPIC:
                job = read_event(event, JobChanged)
                self.jobs.append((job.kind.value, job.job_id, job.commit_id))
            else:
                self.commits.append(read_event(event, AgentNotice).commit)

    async def quiet(self) -> None:
        """Let whatever is on its way arrive (a NOTIFY takes a round trip)."""
        await asyncio.sleep(0.5)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


Start = Callable[..., Awaitable[Process]]


@pytest.fixture
def forge(tmp_path: Path) -> pygit2.Repository:
    """The tenant's repository on the forge, holding `default/` and `discovered/`."""
    repo = pygit2.init_repository(
        str(tmp_path / "forge" / "acme.git"), bare=True, initial_head="main"
    )
    raw_commit(repo, {"default/.keep": "", "discovered/.keep": ""})
    return repo


def tip_of(forge: pygit2.Repository) -> str:
    return str(forge.references["refs/heads/main"].target)


@pytest.fixture
async def tenant_id(database_url: str) -> uuid.UUID:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            tenant = Tenant(slug=TENANT, name="Acme")
            session.add(tenant)
            await session.commit()
            return tenant.id
    finally:
        await engine.dispose()


@pytest.fixture
async def start(
    database_url: str, forge: pygit2.Repository, tmp_path: Path
) -> AsyncIterator[Start]:
    """Start server processes' worth of store, bus and announcer; stop them after."""
    started: list[Process] = []

    async def make(*, lock_timeout: float = 2.0) -> Process:
        engine = create_engine(database_url)
        broadcaster: Broadcaster = (
            PostgresBroadcaster(dsn_of(database_url))
            if engine.dialect.name == "postgresql"
            else InProcessBroadcaster()
        )
        await broadcaster.start()
        store = ExternalGitStore(
            tmp_path / f"mirrors-{len(started)}",
            {TENANT: ExternalRemote(forge.path)},
            fetch_interval=3600,
        )
        announcer = CommitAnnouncer(
            store, broadcaster, create_session_factory(engine), engine, lock_timeout=lock_timeout
        )
        store.on_adopt = announcer.adopted
        process = Process(store, announcer, broadcaster, engine)
        started.append(process)
        return process

    yield make
    for process in started:
        await process.announcer.stop()
        await process.broadcaster.stop()
        await process.engine.dispose()


postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def recorded(connection: AsyncConnection, tenant_id: uuid.UUID) -> str | None:
    """The commit the tenant's `commit_announcements` row names."""
    return await connection.scalar(
        select(CommitAnnouncement.commit_id).where(CommitAnnouncement.tenant_id == tenant_id)
    )


@postgres_only
async def test_two_processes_adopting_the_same_commits_announce_each_once(
    start: Start, forge: pygit2.Repository, tenant_id: uuid.UUID
) -> None:
    first, second = await start(), await start()
    heard = [Heard(first.broadcaster, tenant_id), Heard(second.broadcaster, tenant_id)]
    await asyncio.sleep(0.1)  # the subscriptions are registered
    pushed = uuid.uuid4()
    tip = raw_commit(forge, {"default/report.yaml": manifest("report", job_id=pushed)})
    # Both adopt the push, in either order and at once.
    await asyncio.gather(first.sync(), second.sync())
    await second.sync()
    # A commit written through one process's API is adopted by the other's next fetch.
    written = await first.store.commit_changes(
        TENANT, [Put("default/backup.yaml", manifest("backup"))], ALICE, "backup"
    )
    await first.announcer.settled()
    await second.sync()
    assert await second.store.head(TENANT) == written
    for subscriber in heard:
        await subscriber.quiet()
        assert [(kind, commit) for kind, _, commit in subscriber.jobs] == [
            ("created", tip),
            ("created", written),
        ]
        assert subscriber.jobs[0][1] == pushed
        assert subscriber.commits == [tip, written]
        subscriber.stop()


@postgres_only
async def test_a_process_that_skipped_a_commit_announces_what_changed_since_the_announced_one(
    start: Start, forge: pygit2.Repository, tenant_id: uuid.UUID
) -> None:
    first, second = await start(), await start()
    base = tip_of(forge)
    await asyncio.gather(first.sync(), second.sync())
    heard = Heard(second.broadcaster, tenant_id)
    await asyncio.sleep(0.1)
    job_id = uuid.uuid4()
    added = raw_commit(forge, {"default/report.yaml": manifest("report", job_id=job_id)})
    await first.sync()  # the webhook reached the first process only
    reverted = raw_commit(forge, {"default/report.yaml": None})
    # The second process goes from `base` straight to `reverted`: between those two nothing
    # changed, yet its subscribers were told of the job `added` created.
    await second.sync()
    assert await second.store.head(TENANT) == reverted
    await first.sync()
    await heard.quiet()
    assert [(kind, commit) for kind, _, commit in heard.jobs] == [
        ("created", added),
        ("deleted", reverted),
    ]
    assert heard.commits == [added, reverted]
    assert base not in heard.commits
    heard.stop()


@postgres_only
async def test_a_force_push_back_to_an_announced_commit_is_announced_again(
    start: Start, forge: pygit2.Repository, tenant_id: uuid.UUID
) -> None:
    first, second = await start(), await start()
    before = tip_of(forge)
    await asyncio.gather(first.sync(), second.sync())
    heard = Heard(first.broadcaster, tenant_id)
    await asyncio.sleep(0.1)
    after = raw_commit(forge, {"default/report.yaml": manifest("report")})
    await first.sync()
    await second.sync()
    forge.references["refs/heads/main"].set_target(before)  # the forge rewinds `main`
    await second.sync()
    await first.sync()
    await heard.quiet()
    assert [(kind, commit) for kind, _, commit in heard.jobs] == [
        ("created", after),
        ("deleted", before),
    ]
    heard.stop()


@postgres_only
async def test_a_claim_that_cannot_be_taken_in_time_still_announces(
    start: Start, forge: pygit2.Repository, tenant_id: uuid.UUID, database_url: str
) -> None:
    process = await start(lock_timeout=0.2)
    heard = Heard(process.broadcaster, tenant_id)
    await asyncio.sleep(0.1)
    tip = raw_commit(forge, {"default/report.yaml": manifest("report")})
    blocker = create_engine(database_url)
    try:
        async with blocker.connect() as connection, connection.begin():
            # Another process's claim of the tenant that does not finish.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": claim_lock_key(tenant_id)}
            )
            await process.sync()
            await heard.quiet()
            assert [(kind, commit) for kind, _, commit in heard.jobs] == [("created", tip)]
            assert heard.commits == [tip]
        async with blocker.connect() as connection:
            # Announced without a record: a process adopting it later announces it again
            # (a repeat, never a loss).
            assert await recorded(connection, tenant_id) is None
    finally:
        await blocker.dispose()
    heard.stop()


@postgres_only
async def test_the_tenant_s_row_names_the_commit_announced_last_and_goes_with_the_tenant(
    start: Start, forge: pygit2.Repository, tenant_id: uuid.UUID
) -> None:
    process = await start()
    await process.sync()  # the first commit, announced
    tip = raw_commit(forge, {"default/report.yaml": manifest("report")})
    await process.sync()
    async with process.engine.connect() as connection:
        assert await recorded(connection, tenant_id) == tip
        rows = await connection.scalar(select(func.count()).select_from(CommitAnnouncement))
        assert rows == 1
    async with process.engine.begin() as connection:
        await connection.execute(delete(Tenant).where(Tenant.id == tenant_id))
    async with process.engine.connect() as connection:
        assert await recorded(connection, tenant_id) is None


@postgres_only
async def test_a_claim_records_a_sha256_commit_id_and_refuses_a_record_it_did_not_expect(
    start: Start, tenant_id: uuid.UUID
) -> None:
    announcer = (await start()).announcer
    sha1, sha256, other = "1" * 40, "2" * 64, "3" * 40
    assert (await announcer.claim(tenant_id, sha1, None, [])).announced
    assert await announcer.claim(tenant_id, sha256, sha1, []) == Claim(sha1, announced=True)
    # Expecting a commit the record has moved past: nothing is announced, the record says why.
    assert await announcer.claim(tenant_id, other, sha1, []) == Claim(sha256, announced=False)
    # The last attempt announces over whatever the record holds.
    assert (await announcer.claim(tenant_id, other, sha1, [], force=True)).announced
    async with announcer.engine.connect() as connection:
        assert await recorded(connection, tenant_id) == other


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_one_process_announces_every_commit_without_claiming(
    start: Start, forge: pygit2.Repository, tenant_id: uuid.UUID
) -> None:
    process = await start()
    assert not process.announcer.claims
    heard = Heard(process.broadcaster, tenant_id)
    await asyncio.sleep(0.1)
    tip = raw_commit(forge, {"default/report.yaml": manifest("report")})
    await process.sync()
    written = await process.store.commit_changes(
        TENANT, [Put("default/backup.yaml", manifest("backup"))], ALICE, "backup"
    )
    await process.announcer.settled()
    await heard.quiet()
    assert [(kind, commit) for kind, _, commit in heard.jobs] == [
        ("created", tip),
        ("created", written),
    ]
    heard.stop()
