"""Walk a repository's history for the commits that touched one job.

A job is followed by its id, not its path: renaming a job or moving it to
another namespace changes the path but keeps `metadata.id`, so the walk looks
at every manifest each commit changed and asks which one carries the id.
Merge commits are skipped (their side commits are walked and carry the
change), as `git log` does for a file whose content a merge did not alter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pygit2

from .layout import MANIFEST_SUFFIX
from .model import HistoryEntry
from .repository import diff_trees
from .snapshot import quick_id

#: How far back a history walk looks before it gives up.
MAX_COMMITS_WALKED = 10_000


class _IdReader:
    """Find the job id of a blob cheaply, even one whose manifest is otherwise broken."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo
        self._ids: dict[str, uuid.UUID | None] = {}

    def id_of(self, blob_id: str) -> uuid.UUID | None:
        if blob_id not in self._ids:
            self._ids[blob_id] = quick_id(_text(self._repo, blob_id))
        return self._ids[blob_id]


def _text(repo: pygit2.Repository, blob_id: str) -> str:
    blob = repo.get(blob_id)
    data = blob.data if isinstance(blob, pygit2.Blob) else b""
    return data.decode("utf-8", errors="replace")


def _entry(commit: pygit2.Commit, text: str | None, path: str | None) -> HistoryEntry:
    return HistoryEntry(
        commit_id=str(commit.id),
        author_name=commit.author.name,
        author_email=commit.author.email,
        time=datetime.fromtimestamp(commit.author.time, tz=UTC),
        message=commit.message.strip(),
        manifest_text=text,
        path=path,
    )


def job_history(
    repo: pygit2.Repository,
    head: pygit2.Commit | None,
    target: uuid.UUID | str,
    first: int,
) -> list[HistoryEntry]:
    """Return up to `first` commits, newest first, that changed the job (by id or path)."""
    if head is None or first <= 0:
        return []
    ids = _IdReader(repo)
    walker = repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    entries: list[HistoryEntry] = []
    for walked, commit in enumerate(walker):
        if walked >= MAX_COMMITS_WALKED or len(entries) >= first:
            break
        if len(commit.parents) > 1:
            continue
        base = commit.parents[0].tree if commit.parents else None
        hit = _find(diff_trees(base, commit.tree), target, ids)
        if hit is not None:
            path, blob_id = hit
            entries.append(_entry(commit, _text(repo, blob_id) if blob_id else None, path))
    return entries


def _find(
    diff: pygit2.Diff, target: uuid.UUID | str, ids: _IdReader
) -> tuple[str, str | None] | None:
    """Return (path, new blob id) of the target in a diff; blob None means it was deleted."""
    deleted: tuple[str, str | None] | None = None
    for delta in diff.deltas:
        new, old = delta.new_file, delta.old_file
        if delta.status != pygit2.enums.DeltaStatus.DELETED and _matches(
            new.path, str(new.id), target, ids
        ):
            return new.path, str(new.id)
        if delta.status != pygit2.enums.DeltaStatus.ADDED and _matches(
            old.path, str(old.id), target, ids
        ):
            deleted = (old.path, None)
    return deleted


def _matches(path: str, blob_id: str, target: uuid.UUID | str, ids: _IdReader) -> bool:
    if isinstance(target, str):
        return path == target
    if not path.endswith(MANIFEST_SUFFIX):
        return False
    return ids.id_of(blob_id) == target
