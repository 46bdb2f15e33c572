"""Push validation on commits made with pygit2, as a pre-receive hook would see them."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Mapping

import pygit2
import pytest

from crontopus.server.gitstore import ManagedGitStore, Put, validate_push, validate_ref_update
from crontopus.server.gitstore.validation import ZERO_ID
from tests.server.gitstore.support import ALICE, manifest, raw_commit


@pytest.fixture
async def repo(store: ManagedGitStore) -> pygit2.Repository:
    return pygit2.Repository(str(store.repo_path("acme")))


def head(repo: pygit2.Repository) -> str:
    return str(repo.references["refs/heads/main"].target)


def messages(
    repo: pygit2.Repository, files: Mapping[str, bytes | str | None], base: str | None = None
) -> list[str]:
    old = base or head(repo)
    new = raw_commit(repo, files, update_ref=False)
    return [str(p) for p in validate_push(repo, old, new)]


async def test_a_valid_new_job_passes(repo: pygit2.Repository) -> None:
    assert messages(repo, {"default/db.yaml": manifest("db")}) == []


async def test_a_readme_at_the_root_and_a_new_namespace_pass(repo: pygit2.Repository) -> None:
    files = {"README.md": "# our jobs", "backup/db.yaml": manifest("db", "backup")}
    assert messages(repo, files) == []


async def test_every_problem_of_a_broken_manifest_is_reported(repo: pygit2.Repository) -> None:
    found = messages(repo, {"default/db.yaml": manifest("db", schedule="61 * * * *")})
    assert len(found) == 1
    assert found[0].startswith("default/db.yaml: spec.schedule:")


async def test_a_file_name_that_disagrees_with_the_name_is_refused(
    repo: pygit2.Repository,
) -> None:
    found = messages(repo, {"default/other.yaml": manifest("db")})
    assert found == [
        'default/other.yaml: metadata.name: a job named "db" in namespace "default" belongs '
        'in "default/db.yaml": move the file or change the name'
    ]


async def test_a_misplaced_file_is_reported_with_its_other_problems_in_one_push(
    repo: pygit2.Repository,
) -> None:
    found = messages(repo, {"default/other.yaml": manifest("db", schedule="61 * * * *")})
    assert [line.split(": ")[1] for line in found] == ["spec.schedule", "metadata.name"]
    assert found[1] == (
        'default/other.yaml: metadata.name: a job named "db" in namespace "default" belongs '
        'in "default/db.yaml": move the file or change the name'
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("notes.txt", "notes.txt: files at the repository root are not allowed"),
        ("default/db.yml", "default/db.yml: manifests end in .yaml"),
        ("default/deep/db.yaml", "default/deep/db.yaml: nested directories are not allowed"),
        ("Bad_NS/db.yaml", 'Bad_NS/db.yaml: namespace "Bad_NS" may only hold'),
        ("system/db.yaml", 'system/db.yaml: namespace "system" is reserved'),
    ],
)
async def test_files_outside_the_layout_are_refused(
    repo: pygit2.Repository, path: str, expected: str
) -> None:
    found = messages(repo, {path: "x"})
    assert any(m.startswith(expected) for m in found), found


async def test_a_duplicate_id_is_refused_naming_both_files(repo: pygit2.Repository) -> None:
    job_id = uuid.uuid4()
    raw_commit(repo, {"default/a.yaml": manifest("a", "default", job_id)})
    found = messages(repo, {"default/b.yaml": manifest("b", "default", job_id)})
    assert found == [
        f"default/b.yaml: metadata.id: {job_id} is already the id of default/a.yaml: "
        "give this job a fresh UUID (ids are unique per repository)"
    ]


async def test_a_changed_id_is_refused(repo: pygit2.Repository) -> None:
    raw_commit(repo, {"default/db.yaml": manifest("db")})
    found = messages(repo, {"default/db.yaml": manifest("db")})
    assert len(found) == 1
    assert "metadata.id: changed from" in found[0]
    assert "ids are immutable" in found[0]


async def test_a_job_moved_to_another_namespace_keeps_its_id_and_passes(
    repo: pygit2.Repository,
) -> None:
    job_id = uuid.uuid4()
    raw_commit(repo, {"default/db.yaml": manifest("db", "default", job_id)})
    moved = {"default/db.yaml": None, "ops/db.yaml": manifest("db", "ops", job_id)}
    assert messages(repo, moved) == []


async def test_removing_default_is_refused(repo: pygit2.Repository) -> None:
    found = messages(repo, {"default/.keep": None})
    assert found == ["default/: namespace 'default' always exists: keep default/.keep"]


async def test_hand_edits_of_discovered_jobs_are_refused(repo: pygit2.Repository) -> None:
    job_id = uuid.uuid4()
    found_job = manifest("cleanup", "discovered", job_id, labels={"source": "discovered"})
    raw_commit(repo, {"discovered/cleanup.yaml": found_job})
    edited = manifest(
        "cleanup", "discovered", job_id, schedule="@daily", labels={"source": "discovered"}
    )
    found = messages(repo, {"discovered/cleanup.yaml": edited})
    assert len(found) == 1
    assert "discovered jobs are read-only" in found[0]
    new = manifest("new", "discovered", labels={"source": "discovered"})
    assert "read-only" in messages(repo, {"discovered/new.yaml": new})[0]
    deleted = messages(repo, {"discovered/cleanup.yaml": None})
    assert len(deleted) == 1
    assert "discovered jobs cannot be deleted: adopt it" in deleted[0]


async def test_adopting_a_discovered_job_passes(repo: pygit2.Repository) -> None:
    job_id = uuid.uuid4()
    found_job = manifest("cleanup", "discovered", job_id, labels={"source": "discovered"})
    raw_commit(repo, {"discovered/cleanup.yaml": found_job})
    adopted = {
        "discovered/cleanup.yaml": None,
        "ops/cleanup.yaml": manifest("cleanup", "ops", job_id),
    }
    assert messages(repo, adopted) == []
    still_labelled = {
        "discovered/cleanup.yaml": None,
        "ops/cleanup.yaml": manifest("cleanup", "ops", job_id, labels={"source": "discovered"}),
    }
    found = messages(repo, still_labelled)
    assert any("metadata.labels.source" in m for m in found), found


async def test_only_fast_forwards_of_main_are_accepted(
    repo: pygit2.Repository, store: ManagedGitStore
) -> None:
    base = head(repo)
    await store.commit_changes("acme", [Put("default/a.yaml", manifest("a"))], ALICE, "a")
    tip = head(repo)
    sideways = raw_commit(repo, {"default/b.yaml": manifest("b")}, update_ref=False)
    assert validate_ref_update(repo, "refs/heads/main", base, tip) == []
    assert "non-fast-forward" in str(validate_ref_update(repo, "refs/heads/main", tip, base)[0])
    assert "cannot be deleted" in str(validate_ref_update(repo, "refs/heads/main", tip, ZERO_ID)[0])
    assert "only the main branch" in str(
        validate_ref_update(repo, "refs/tags/v1", ZERO_ID, sideways)[0]
    )


async def test_the_hook_refuses_with_a_readable_report(
    repo: pygit2.Repository, store: ManagedGitStore
) -> None:
    old = head(repo)
    new = raw_commit(repo, {"default/db.yaml": "apiVersion: [\n"}, update_ref=False)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crontopus.server.gitstore.hook",
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"GIT_DIR": str(store.repo_path("acme"))},
    )
    _, err = await process.communicate(f"{old} {new} refs/heads/main\n".encode())
    report = err.decode()
    assert process.returncode == 1
    assert report.startswith("Crontopus refused this push (1 problem(s)):\n  default/db.yaml: ")
    assert report.endswith("Fix the files above, commit, and push again.\n")
