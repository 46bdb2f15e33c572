"""Job history follows a job by id through edits, renames, moves and deletion."""

from __future__ import annotations

import uuid

from crontopus.server.gitstore import Delete, ManagedGitStore, Put
from tests.server.gitstore.support import ALICE, BOB, manifest


async def test_history_follows_a_job_across_a_rename_and_a_move(store: ManagedGitStore) -> None:
    job_id = uuid.uuid4()
    other = uuid.uuid4()
    first = manifest("db", "default", job_id)
    await store.commit_changes("acme", [Put("default/db.yaml", first)], ALICE, "jobs: create")
    await store.commit_changes(
        "acme", [Put("default/other.yaml", manifest("other", "default", other))], BOB, "unrelated"
    )
    snap = await store.snapshot("acme")
    renamed = manifest("database", "default", job_id)
    await store.commit_changes(
        "acme",
        [
            Delete("default/db.yaml", snap.jobs[job_id].blob_id),
            Put("default/database.yaml", renamed),
        ],
        BOB,
        "jobs: rename default/db to default/database",
    )
    snap = await store.snapshot("acme")
    moved = manifest("database", "backup", job_id)
    await store.commit_changes(
        "acme",
        [
            Delete("default/database.yaml", snap.jobs[job_id].blob_id),
            Put("backup/database.yaml", moved),
        ],
        ALICE,
        "jobs: move to backup",
    )
    history = await store.history("acme", job_id)
    assert [(h.message, h.path, h.author_name) for h in history] == [
        ("jobs: move to backup", "backup/database.yaml", ALICE.name),
        ("jobs: rename default/db to default/database", "default/database.yaml", BOB.name),
        ("jobs: create", "default/db.yaml", ALICE.name),
    ]
    assert [h.manifest_text for h in history] == [moved, renamed, first]
    assert history[0].time.tzinfo is not None
    assert len(await store.history("acme", job_id, first=2)) == 2
    assert await store.history("acme", "backup/database.yaml", first=1) == history[:1]


async def test_history_of_a_deleted_job_ends_with_its_deletion(store: ManagedGitStore) -> None:
    job_id = uuid.uuid4()
    await store.commit_changes(
        "acme", [Put("default/db.yaml", manifest("db", "default", job_id))], ALICE, "create"
    )
    blob = (await store.snapshot("acme")).jobs[job_id].blob_id
    await store.commit_changes("acme", [Delete("default/db.yaml", blob)], BOB, "jobs: delete")
    history = await store.history("acme", job_id)
    assert [(h.message, h.manifest_text is None) for h in history] == [
        ("jobs: delete", True),
        ("create", False),
    ]


async def test_an_unknown_job_has_no_history(store: ManagedGitStore) -> None:
    assert await store.history("acme", uuid.uuid4()) == []
