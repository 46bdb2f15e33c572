"""The managed store through its service API: snapshots, commits, conflicts, namespaces."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pygit2
import pytest

from crontopus.server.gitstore import (
    CommitNotFoundError,
    ConflictError,
    Delete,
    InvalidChangeError,
    ManagedGitStore,
    Mkdir,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    ProtectedNamespaceError,
    Put,
    RepositoryNotFoundError,
    Rmdir,
)
from tests.server.gitstore.support import ALICE, BOB, ManifestFactory, raw_commit


async def test_a_new_repository_holds_default_and_discovered(store: ManagedGitStore) -> None:
    snap = await store.snapshot("acme")
    assert set(snap.namespaces) == {"default", "discovered"}
    assert all(info.is_system for info in snap.namespaces.values())
    assert snap.files.keys() == {"default/.keep", "discovered/.keep"}
    assert snap.jobs == {}
    assert snap.problems == ()
    repo = pygit2.Repository(str(store.repo_path("acme")))
    assert repo.is_bare
    assert repo.head.name == "refs/heads/main"


async def test_ensure_repository_twice_changes_nothing(store: ManagedGitStore) -> None:
    head = await store.head("acme")
    await store.ensure_repository("acme")
    assert await store.head("acme") == head


async def test_a_committed_job_appears_in_the_snapshot(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    job_id = uuid.uuid4()
    text = make_manifest("db", "default", job_id)
    commit = await store.commit_changes(
        "acme", [Put("default/db.yaml", text)], ALICE, "jobs: create default/db"
    )
    assert await store.head("acme") == commit
    snap = await store.snapshot("acme")
    entry = snap.jobs[job_id]
    assert entry.manifest.name == "db"
    assert entry.path == "default/db.yaml"
    assert entry.text == text
    assert entry.blob_id == snap.blob_id("default/db.yaml")
    assert snap.namespaces["default"].job_count == 1
    assert snap.job_by_name("default", "db") == entry
    repo = pygit2.Repository(str(store.repo_path("acme")))
    stored = repo[commit].peel(pygit2.Commit)
    assert (stored.author.name, stored.author.email) == (ALICE.name, ALICE.email)
    assert stored.committer.name == "Crontopus"
    assert stored.message == "jobs: create default/db\n"


async def test_a_broken_file_is_a_problem_and_hides_no_other_job(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    good = uuid.uuid4()
    await store.commit_changes(
        "acme",
        [
            Put("default/good.yaml", make_manifest("good", "default", good)),
            Put("default/broken.yaml", make_manifest("broken", schedule="5/15 * * * *")),
        ],
        ALICE,
        "jobs: a mixed bag",
    )
    snap = await store.snapshot("acme")
    assert list(snap.jobs) == [good]
    messages = [str(p) for p in snap.problems]
    assert any(m.startswith("default/broken.yaml: spec.schedule") for m in messages), messages
    assert snap.blob_id("default/broken.yaml") is not None


async def test_files_outside_the_layout_are_problems(store: ManagedGitStore) -> None:
    repo = pygit2.Repository(str(store.repo_path("acme")))
    raw_commit(repo, {"default/notes.txt": "hi", "README.md": "# jobs", "a/b/c.yaml": "x"})
    snap = await store.snapshot("acme")
    files = sorted(str(p.file) for p in snap.problems)
    assert files == ["a/b/", "default/notes.txt"]
    assert "README.md" in snap.files


async def test_a_duplicate_id_is_reported_and_the_first_file_wins(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    job_id = uuid.uuid4()
    await store.commit_changes(
        "acme",
        [
            Put("default/a.yaml", make_manifest("a", "default", job_id)),
            Put("default/b.yaml", make_manifest("b", "default", job_id)),
        ],
        ALICE,
        "jobs: copy a job",
    )
    snap = await store.snapshot("acme")
    assert snap.jobs[job_id].path == "default/a.yaml"
    assert [str(p) for p in snap.problems] == [
        f"default/b.yaml: metadata.id: {job_id} is already the id of default/a.yaml: "
        "give this job a fresh UUID (ids are unique per repository)"
    ]


async def test_a_namespace_that_disagrees_with_its_directory_is_a_problem(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    await store.commit_changes(
        "acme", [Put("default/db.yaml", make_manifest("db", "backup"))], ALICE, "jobs: misplaced"
    )
    snap = await store.snapshot("acme")
    assert snap.jobs == {}
    assert "metadata.namespace" in str(snap.problems[0])


async def test_an_update_with_a_stale_blob_id_conflicts_instead_of_overwriting(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    job_id = uuid.uuid4()
    await store.commit_changes(
        "acme", [Put("default/db.yaml", make_manifest("db", "default", job_id))], ALICE, "create"
    )
    stale = (await store.snapshot("acme")).jobs[job_id].blob_id
    bobs = make_manifest("db", "default", job_id, schedule="0 3 * * *")
    await store.commit_changes("acme", [Put("default/db.yaml", bobs, stale)], BOB, "bob edits")
    head = await store.head("acme")
    alices = make_manifest("db", "default", job_id, schedule="0 4 * * *")
    with pytest.raises(ConflictError) as caught:
        await store.commit_changes("acme", [Put("default/db.yaml", alices, stale)], ALICE, "late")
    current = (await store.snapshot("acme")).jobs[job_id]
    assert caught.value.current == current.blob_id
    assert caught.value.expected == stale
    assert "default/db.yaml" in str(caught.value)
    assert await store.head("acme") == head
    assert current.manifest.schedule == "0 3 * * *"


async def test_creating_a_file_that_exists_conflicts(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    await store.commit_changes("acme", [Put("default/db.yaml", make_manifest("db"))], ALICE, "a")
    with pytest.raises(ConflictError):
        await store.commit_changes("acme", [Put("default/db.yaml", make_manifest("db"))], BOB, "b")


async def test_a_delete_with_a_stale_blob_id_conflicts(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    await store.commit_changes("acme", [Put("default/db.yaml", make_manifest("db"))], ALICE, "a")
    with pytest.raises(ConflictError):
        await store.commit_changes("acme", [Delete("default/db.yaml", "0" * 40)], ALICE, "rm")
    blob = (await store.snapshot("acme")).blob_id("default/db.yaml")
    assert blob is not None
    await store.commit_changes("acme", [Delete("default/db.yaml", blob)], ALICE, "rm")
    snap = await store.snapshot("acme")
    assert snap.jobs == {}
    assert "default" in snap.namespaces


async def test_an_expected_head_that_moved_conflicts(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    old = await store.head("acme")
    await store.commit_changes("acme", [Put("default/a.yaml", make_manifest("a"))], ALICE, "a")
    with pytest.raises(ConflictError):
        await store.commit_changes(
            "acme", [Put("default/b.yaml", make_manifest("b"))], ALICE, "b", expected_head=old
        )


async def test_twenty_concurrent_commits_to_one_tenant_all_land(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    ids = [uuid.uuid4() for _ in range(20)]
    commits = await asyncio.gather(
        *(
            store.commit_changes(
                "acme",
                [Put(f"default/job-{n}.yaml", make_manifest(f"job-{n}", "default", job_id))],
                ALICE,
                f"jobs: create default/job-{n}",
            )
            for n, job_id in enumerate(ids)
        )
    )
    assert len(set(commits)) == 20
    snap = await store.snapshot("acme")
    assert set(snap.jobs) == set(ids)
    repo = pygit2.Repository(str(store.repo_path("acme")))
    assert sum(1 for _ in repo.walk(repo.head.target)) == 21


async def test_a_change_that_alters_nothing_makes_no_commit(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    text = make_manifest("db")
    await store.commit_changes("acme", [Put("default/db.yaml", text)], ALICE, "a")
    head = await store.head("acme")
    blob = (await store.snapshot("acme")).blob_id("default/db.yaml")
    assert (
        await store.commit_changes("acme", [Put("default/db.yaml", text, blob)], ALICE, "b") == head
    )


async def test_a_repeated_read_at_the_same_head_is_served_from_the_cache(
    store: ManagedGitStore,
) -> None:
    first = await store.snapshot("acme")
    assert await store.snapshot("acme") is first
    assert await store.snapshot("acme", first.commit_id) is first


async def test_namespaces_are_created_and_removed_only_when_empty(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    await store.commit_changes("acme", [Mkdir("backup")], ALICE, "namespaces: create backup")
    snap = await store.snapshot("acme")
    assert snap.namespaces["backup"].job_count == 0
    assert not snap.namespaces["backup"].is_system
    with pytest.raises(NamespaceExistsError):
        await store.commit_changes("acme", [Mkdir("backup")], ALICE, "again")
    await store.commit_changes(
        "acme", [Put("backup/db.yaml", make_manifest("db", "backup"))], ALICE, "a"
    )
    with pytest.raises(NamespaceNotEmptyError, match="still holds 1 file"):
        await store.commit_changes("acme", [Rmdir("backup")], ALICE, "rm")
    blob = (await store.snapshot("acme")).blob_id("backup/db.yaml")
    assert blob is not None
    await store.commit_changes("acme", [Delete("backup/db.yaml", blob)], ALICE, "rm job")
    assert "backup" in (await store.snapshot("acme")).namespaces
    await store.commit_changes("acme", [Rmdir("backup")], ALICE, "namespaces: delete backup")
    assert "backup" not in (await store.snapshot("acme")).namespaces


async def test_a_job_in_a_new_namespace_keeps_the_namespace_after_it_is_deleted(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    await store.commit_changes("acme", [Put("ops/db.yaml", make_manifest("db", "ops"))], ALICE, "a")
    snap = await store.snapshot("acme")
    assert "ops/.keep" in snap.files
    blob = snap.blob_id("ops/db.yaml")
    assert blob is not None
    await store.commit_changes("acme", [Delete("ops/db.yaml", blob)], ALICE, "rm")
    assert "ops" in (await store.snapshot("acme")).namespaces


@pytest.mark.parametrize("namespace", ["default", "discovered"])
async def test_protected_namespaces_cannot_be_removed(
    store: ManagedGitStore, namespace: str
) -> None:
    with pytest.raises(ProtectedNamespaceError, match="cannot be deleted"):
        await store.commit_changes("acme", [Rmdir(namespace)], ALICE, "rm")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (Mkdir("system"), "reserved"),
        (Mkdir("Bad_Name"), "lowercase"),
        (Put("../escape.yaml", "x"), "clean relative path"),
        (Put("a/b/c.yaml", "x"), "nested directories"),
        (Put("top.yaml", "x"), "repository root"),
        (Put("default/db.yml", "x"), "rename it to db.yaml"),
        (Put("system/db.yaml", "x"), "reserved"),
    ],
)
async def test_changes_that_break_the_layout_are_refused(
    store: ManagedGitStore, change: Put | Mkdir, message: str
) -> None:
    head = await store.head("acme")
    with pytest.raises(InvalidChangeError, match=message):
        await store.commit_changes("acme", [change], ALICE, "bad")
    assert await store.head("acme") == head


async def test_an_unknown_tenant_has_no_repository(tmp_path: Path) -> None:
    store = ManagedGitStore(tmp_path / "git")
    assert not await store.exists("nobody")
    assert not await store.exists("../etc")
    with pytest.raises(RepositoryNotFoundError):
        await store.snapshot("nobody")
    with pytest.raises(ValueError, match="tenant slug"):
        await store.ensure_repository("Not A Slug")


async def test_job_changes_lists_what_a_commit_created_updated_and_deleted(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    kept, changed, gone, new = (uuid.uuid4() for _ in range(4))
    old = await store.commit_changes(
        "acme",
        [
            Put("default/kept.yaml", make_manifest("kept", "default", kept)),
            Put("default/changed.yaml", make_manifest("changed", "default", changed)),
            Put("default/gone.yaml", make_manifest("gone", "default", gone)),
        ],
        ALICE,
        "three",
    )
    snap = await store.snapshot("acme")
    new_commit = await store.commit_changes(
        "acme",
        [
            Put(
                "default/changed.yaml",
                make_manifest("changed", "default", changed, schedule="@daily"),
                snap.jobs[changed].blob_id,
            ),
            Delete("default/gone.yaml", snap.jobs[gone].blob_id),
            Put("default/new.yaml", make_manifest("new", "default", new)),
        ],
        ALICE,
        "mixed",
    )
    changes = await store.job_changes("acme", old, new_commit)
    assert {(c.kind.value, c.job_id) for c in changes} == {
        ("updated", changed),
        ("deleted", gone),
        ("created", new),
    }
    assert all(c.commit_id == new_commit for c in changes)


async def test_the_clone_url_names_the_tenant(store: ManagedGitStore) -> None:
    assert (
        store.clone_url("acme", "https://crontopus.example.com/")
        == "https://crontopus.example.com/git/acme/jobs.git"
    )
    await store.check()


async def test_concurrent_first_reads_of_a_commit_share_one_parse(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    await store.commit_changes("acme", [Put("default/a.yaml", make_manifest("a"))], ALICE, "a")
    snaps = await asyncio.gather(*(store.snapshot("acme") for _ in range(5)))
    assert all(snap is snaps[0] for snap in snaps)
    assert len(snaps[0].jobs) == 1


async def test_an_unknown_commit_is_reported_as_such(store: ManagedGitStore) -> None:
    with pytest.raises(CommitNotFoundError):
        await store.snapshot("acme", "0" * 40)
    with pytest.raises(CommitNotFoundError):
        await store.snapshot("acme", "not-a-commit")


async def test_a_branch_locked_by_git_is_not_overwritten(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    head = await store.head("acme")
    lock = store.repo_path("acme") / "refs" / "heads" / "main.lock"
    lock.write_text("held by a git push\n")
    with pytest.raises(ConflictError, match=r"main\.lock"):
        await store.commit_changes("acme", [Put("default/a.yaml", make_manifest("a"))], ALICE, "a")
    assert await store.head("acme") == head
    assert lock.read_text() == "held by a git push\n"
    lock.unlink()
    await store.commit_changes("acme", [Put("default/a.yaml", make_manifest("a"))], ALICE, "a")
    assert await store.head("acme") != head


async def test_commits_land_after_git_packs_the_refs(
    store: ManagedGitStore, make_manifest: ManifestFactory
) -> None:
    process = await asyncio.create_subprocess_exec(
        "git", "--git-dir", str(store.repo_path("acme")), "pack-refs", "--all", "--prune"
    )
    assert await process.wait() == 0
    head = await store.head("acme")
    commit = await store.commit_changes(
        "acme", [Put("default/a.yaml", make_manifest("a"))], ALICE, "a"
    )
    assert await store.head("acme") == commit != head
    repo = pygit2.Repository(str(store.repo_path("acme")))
    assert str(repo.head.target) == commit
