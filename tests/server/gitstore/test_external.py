"""The external store against a second local bare repository acting as the forge."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from crontopus.server.gitstore import (
    ConflictError,
    ExternalGitStore,
    ExternalRemote,
    ManagedGitStore,
    Put,
    RemoteError,
)
from tests.server.gitstore.conftest import GitServer
from tests.server.gitstore.support import ALICE, manifest, raw_commit


class RacingStore(ExternalGitStore):
    """An external store where someone else pushes just before our next push."""

    race: Callable[[], None] | None = None

    async def _publish(self, tenant: str, parent: str | None, commit: str) -> bool:
        if self.race is not None:
            race, self.race = self.race, None
            race()
        return await super()._publish(tenant, parent, commit)


@pytest.fixture
def forge(tmp_path: Path) -> pygit2.Repository:
    """The remote: an empty bare repository reached by its file path."""
    return pygit2.init_repository(
        str(tmp_path / "forge" / "acme.git"), bare=True, initial_head="main"
    )


@pytest.fixture
async def external(tmp_path: Path, forge: pygit2.Repository) -> RacingStore:
    store = RacingStore(
        tmp_path / "mirrors", {"acme": ExternalRemote(forge.path)}, fetch_interval=0
    )
    await store.ensure_repository("acme")
    return store


def push_by_hand(forge: pygit2.Repository, files: dict[str, str | bytes | None]) -> None:
    raw_commit(forge, files)


def forge_head(forge: pygit2.Repository) -> str:
    return str(forge.references["refs/heads/main"].target)


async def test_ensure_repository_pushes_default_and_discovered_to_an_empty_remote(
    external: ExternalGitStore, forge: pygit2.Repository
) -> None:
    assert forge_head(forge) == await external.head("acme")
    tree = forge[forge_head(forge)].peel(pygit2.Commit).tree
    assert {entry.name for entry in tree} == {"default", "discovered"}


async def test_ensure_repository_keeps_what_the_remote_already_has(
    tmp_path: Path, forge: pygit2.Repository
) -> None:
    first = raw_commit(forge, {"README.md": "# jobs"})
    store = ExternalGitStore(tmp_path / "mirrors", {"acme": ExternalRemote(forge.path)})
    await store.ensure_repository("acme")
    commit = forge[forge_head(forge)].peel(pygit2.Commit)
    assert [str(p) for p in commit.parent_ids] == [first]
    assert set((await store.snapshot("acme")).files) == {
        "README.md",
        "default/.keep",
        "discovered/.keep",
    }


async def test_a_commit_through_the_api_is_pushed_to_the_remote(
    external: ExternalGitStore, forge: pygit2.Repository
) -> None:
    job_id = uuid.uuid4()
    commit = await external.commit_changes(
        "acme", [Put("default/db.yaml", manifest("db", "default", job_id))], ALICE, "jobs: create"
    )
    assert forge_head(forge) == commit
    pushed = forge[commit].peel(pygit2.Commit)
    assert pushed.author.email == ALICE.email
    assert job_id in (await external.snapshot("acme")).jobs


async def test_a_commit_pushed_by_someone_else_is_read_after_a_fetch(
    external: ExternalGitStore, forge: pygit2.Repository
) -> None:
    job_id = uuid.uuid4()
    raw_commit(forge, {"default/db.yaml": manifest("db", "default", job_id)})
    snap = await external.snapshot("acme")
    assert snap.commit_id == forge_head(forge)
    assert job_id in snap.jobs


async def test_reads_fetch_at_most_once_per_interval(
    external: ExternalGitStore, forge: pygit2.Repository
) -> None:
    external.fetch_interval = 3600
    before = await external.head("acme")
    raw_commit(forge, {"default/db.yaml": manifest("db")})
    assert await external.head("acme") == before
    await external.fetch("acme")
    assert await external.head("acme") == forge_head(forge)


async def test_a_push_that_lost_a_race_is_rebuilt_on_the_new_remote_tip(
    external: RacingStore, forge: pygit2.Repository
) -> None:
    theirs, ours = uuid.uuid4(), uuid.uuid4()
    external.race = lambda: push_by_hand(
        forge, {"default/theirs.yaml": manifest("theirs", "default", theirs)}
    )
    await external.commit_changes(
        "acme", [Put("default/ours.yaml", manifest("ours", "default", ours))], ALICE, "ours"
    )
    snap = await external.snapshot("acme")
    assert {theirs, ours} <= set(snap.jobs)
    assert snap.commit_id == forge_head(forge)
    commit = forge[forge_head(forge)].peel(pygit2.Commit)
    assert commit.message == "ours\n"
    assert commit.parents[0].message == "edit"


async def test_a_push_that_lost_a_race_on_the_same_file_conflicts(
    external: RacingStore, forge: pygit2.Repository
) -> None:
    job_id = uuid.uuid4()
    await external.commit_changes(
        "acme", [Put("default/db.yaml", manifest("db", "default", job_id))], ALICE, "create"
    )
    blob = (await external.snapshot("acme")).jobs[job_id].blob_id
    theirs = manifest("db", "default", job_id, schedule="0 5 * * *")
    external.race = lambda: push_by_hand(forge, {"default/db.yaml": theirs})
    ours = manifest("db", "default", job_id, schedule="0 6 * * *")
    with pytest.raises(ConflictError) as caught:
        await external.commit_changes("acme", [Put("default/db.yaml", ours, blob)], ALICE, "ours")
    assert caught.value.expected == blob
    snap = await external.snapshot("acme")
    assert snap.jobs[job_id].manifest.schedule == "0 5 * * *"


async def test_an_unreachable_remote_leaves_reads_stale_and_refuses_writes(
    external: ExternalGitStore, tmp_path: Path
) -> None:
    head = await external.head("acme")
    external.set_remote("acme", ExternalRemote(str(tmp_path / "gone.git")))
    assert await external.head("acme") == head
    with pytest.raises(RemoteError, match="check the repository URL"):
        await external.commit_changes("acme", [Put("default/a.yaml", manifest("a"))], ALICE, "a")


def test_the_clone_url_never_shows_credentials() -> None:
    remote = ExternalRemote("https://bot:s3cret@git.example.com:8443/ops/jobs.git", password="t")
    assert remote.public_url() == "https://git.example.com:8443/ops/jobs.git"
    store = ExternalGitStore(Path("/nonexistent"), {"acme": remote})
    assert store.clone_url("acme", "https://crontopus.example.com") == remote.public_url()


async def test_the_external_store_logs_in_with_a_token_over_http(
    tmp_path: Path, git_server: GitServer, store: ManagedGitStore
) -> None:
    url = f"http://127.0.0.1:{git_server.port}/acme/jobs.git"
    remote = ExternalRemote(url, username="crontopus-bot", password="ctp_acme_write")
    external = ExternalGitStore(tmp_path / "mirrors", {"acme": remote}, fetch_interval=0)
    await external.ensure_repository("acme")
    job_id = uuid.uuid4()
    commit = await external.commit_changes(
        "acme", [Put("default/db.yaml", manifest("db", "default", job_id))], ALICE, "jobs: create"
    )
    assert await store.head("acme") == commit
    assert job_id in (await store.snapshot("acme")).jobs
    # libgit2 may hang up once it has read the push report, before on_push ran.
    for _ in range(500):
        if git_server.pushes:
            break
        await asyncio.sleep(0.01)
    assert git_server.pushes[-1][2] == commit


async def test_a_push_the_remote_refuses_reports_what_the_remote_said(
    tmp_path: Path, git_server: GitServer, store: ManagedGitStore
) -> None:
    url = f"http://127.0.0.1:{git_server.port}/acme/jobs.git"
    remote = ExternalRemote(url, password="ctp_acme_write")
    external = ExternalGitStore(tmp_path / "mirrors", {"acme": remote}, fetch_interval=0)
    head = await store.head("acme")
    broken = manifest("db", schedule="5/15 * * * *")
    with pytest.raises(RemoteError) as caught:
        await external.commit_changes("acme", [Put("default/db.yaml", broken)], ALICE, "bad")
    assert "pre-receive hook declined" in str(caught.value)
    assert "default/db.yaml: spec.schedule:" in str(caught.value)
    assert await store.head("acme") == head


async def test_a_wrong_token_is_a_remote_error(tmp_path: Path, git_server: GitServer) -> None:
    url = f"http://127.0.0.1:{git_server.port}/acme/jobs.git"
    remote = ExternalRemote(url, password="ctp_wrong")
    external = ExternalGitStore(tmp_path / "mirrors", {"acme": remote}, fetch_interval=0)
    with pytest.raises(RemoteError, match="credentials"):
        await external.ensure_repository("acme")


class CountingStore(ExternalGitStore):
    """An external store that counts its fetches."""

    fetches = 0

    @classmethod
    def _fetch_sync(cls, path: Path, remote: ExternalRemote) -> None:
        cls.fetches += 1
        ExternalGitStore._fetch_sync(path, remote)


async def test_concurrent_readers_share_one_fetch(tmp_path: Path, forge: pygit2.Repository) -> None:
    raw_commit(forge, {"default/.keep": "", "discovered/.keep": ""})
    store = CountingStore(
        tmp_path / "mirrors", {"acme": ExternalRemote(forge.path)}, fetch_interval=3600
    )
    heads = await asyncio.gather(*(store.head("acme") for _ in range(10)))
    assert set(heads) == {forge_head(forge)}
    assert store.fetches == 1


class AnnouncingStore(ExternalGitStore):
    """An external store that keeps what it adopted, as the server announces it."""

    adopted: list[tuple[str, str | None, str]]


@pytest.fixture
async def mirror(tmp_path: Path, forge: pygit2.Repository) -> AnnouncingStore:
    """A store on a URL template, as the server makes it."""
    store = AnnouncingStore(
        tmp_path / "mirrors",
        template=ExternalRemote(str(forge.path).replace("acme.git", "{tenant}.git")),
        fetch_interval=3600,
        mirror_served=True,
    )
    store.adopted = []

    async def on_adopt(tenant: str, old: str | None, new: str) -> None:
        store.adopted.append((tenant, old, new))

    store.on_adopt = on_adopt
    await store.ensure_repository("acme")
    # The store's own first commit is announced like any other move of its `main`.
    assert store.adopted == [("acme", None, await store.head("acme"))]
    store.adopted = []
    return store


async def test_a_url_template_names_each_tenants_remote_and_agents_clone_the_mirror(
    mirror: AnnouncingStore, forge: pygit2.Repository
) -> None:
    assert mirror.remote("acme").url == forge.path
    assert await mirror.head("acme") == forge_head(forge)
    assert mirror.clone_url("acme", "https://ctp.example/") == (
        "https://ctp.example/git/acme/jobs.git"
    )
    with pytest.raises(ValueError, match="tenant slug"):
        mirror.remote("../etc")


async def test_a_remote_tip_with_an_invalid_manifest_is_reported_and_not_served(
    mirror: AnnouncingStore, forge: pygit2.Repository
) -> None:
    served = await mirror.head("acme")
    broken = raw_commit(forge, {"default/db.yaml": manifest("db", schedule="5/15 * * * *")})
    await mirror.sync("acme")
    assert await mirror.head("acme") == served
    assert (await mirror.snapshot("acme")).problems == ()
    problems = await mirror.pending_problems("acme")
    assert broken[:12] in problems[0].message
    assert "serving" in problems[0].message
    assert [p.file for p in problems[1:]] == ["default/db.yaml"]
    assert await mirror.pending_commit("acme") == broken
    assert mirror.adopted == []
    # Writes wait for the fix instead of building on a tip nobody checked.
    with pytest.raises(RemoteError, match="did not adopt"):
        await mirror.commit_changes("acme", [Put("default/a.yaml", manifest("a"))], ALICE, "a")

    job_id = uuid.uuid4()
    fixed = raw_commit(forge, {"default/db.yaml": manifest("db", "default", job_id)})
    await mirror.sync("acme")
    assert await mirror.head("acme") == fixed
    assert job_id in (await mirror.snapshot("acme")).jobs
    assert await mirror.pending_problems("acme") == ()
    assert await mirror.pending_commit("acme") is None
    assert mirror.adopted == [("acme", served, fixed)]


async def test_a_commit_of_its_own_is_announced_by_the_store_not_by_its_writer(
    mirror: AnnouncingStore, forge: pygit2.Repository
) -> None:
    served = await mirror.head("acme")
    assert mirror.announces_own_commits
    commit = await mirror.commit_changes("acme", [Put("default/a.yaml", manifest("a"))], ALICE, "a")
    assert mirror.adopted == [("acme", served, commit)]
    # A store without the server's hook leaves announcing to whoever wrote the commit.
    mirror.on_adopt = None
    assert not mirror.announces_own_commits


async def test_discovered_jobs_committed_by_another_server_are_adopted(
    mirror: AnnouncingStore, forge: pygit2.Repository
) -> None:
    found = manifest("cleanup", "discovered", labels={"source": "discovered"})
    tip = raw_commit(forge, {"discovered/cleanup.yaml": found})
    await mirror.sync("acme")
    assert await mirror.head("acme") == tip
    assert await mirror.pending_problems("acme") == ()


async def test_a_remote_tip_over_the_jobs_quota_is_not_served(
    mirror: AnnouncingStore, forge: pygit2.Repository
) -> None:
    async def quota(tenant: str) -> int:
        return 1

    mirror.jobs_quota = quota
    served = await mirror.head("acme")
    raw_commit(forge, {"default/a.yaml": manifest("a"), "default/b.yaml": manifest("b")})
    await mirror.sync("acme")
    assert await mirror.head("acme") == served
    assert "quota reached" in (await mirror.pending_problems("acme"))[1].message


async def test_a_remote_that_cannot_be_fetched_is_a_repository_problem(
    mirror: AnnouncingStore, tmp_path: Path
) -> None:
    mirror.set_remote("acme", ExternalRemote(str(tmp_path / "gone.git")))
    with pytest.raises(RemoteError):
        await mirror.sync("acme")
    (problem,) = await mirror.pending_problems("acme")
    assert "served from the last fetch" in problem.message
