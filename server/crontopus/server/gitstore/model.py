"""Values the Git store takes and returns: authors, changes, snapshots, history entries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from crontopus.core.manifest import JobManifest, Problem


@dataclass(frozen=True)
class Author:
    """The person (or token) a commit is made for."""

    name: str
    email: str


@dataclass(frozen=True)
class Put:
    """Write `content` at `path`; `expected_blob_id=None` means the file must not exist yet."""

    path: str
    content: str | bytes
    expected_blob_id: str | None = None


@dataclass(frozen=True)
class Delete:
    """Remove the file at `path`, which must still hold `expected_blob_id`."""

    path: str
    expected_blob_id: str


@dataclass(frozen=True)
class Mkdir:
    """Create an empty namespace (a directory holding only `.keep`)."""

    namespace: str


@dataclass(frozen=True)
class Rmdir:
    """Remove an empty namespace."""

    namespace: str


Change = Put | Delete | Mkdir | Rmdir


@dataclass(frozen=True)
class JobEntry:
    """One parsed manifest of a snapshot, with where it lives and its raw text."""

    manifest: JobManifest
    path: str
    blob_id: str
    text: str


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace directory and how many valid jobs it holds."""

    name: str
    job_count: int
    is_system: bool


@dataclass(frozen=True)
class Snapshot:
    """Everything a reader needs from one commit: jobs, namespaces, problems, blob ids."""

    commit_id: str | None
    jobs: Mapping[UUID, JobEntry]
    namespaces: Mapping[str, NamespaceInfo]
    problems: tuple[Problem, ...]
    files: Mapping[str, str] = field(default_factory=dict)

    def job(self, job_id: UUID) -> JobEntry | None:
        """Return the job with this id, if the snapshot holds a valid one."""
        return self.jobs.get(job_id)

    def job_by_name(self, namespace: str, name: str) -> JobEntry | None:
        """Return the job called `name` in `namespace`."""
        for entry in self.jobs.values():
            if entry.manifest.namespace == namespace and entry.manifest.name == name:
                return entry
        return None

    def jobs_in(self, namespace: str) -> Iterator[JobEntry]:
        """Yield the jobs of one namespace."""
        return (e for e in self.jobs.values() if e.manifest.namespace == namespace)

    def blob_id(self, path: str) -> str | None:
        """Return the blob id of any file in the snapshot (manifest, broken or not)."""
        return self.files.get(path)


@dataclass(frozen=True)
class HistoryEntry:
    """One commit that touched a job; `manifest_text` is None where the commit deleted it."""

    commit_id: str
    author_name: str
    author_email: str
    time: datetime
    message: str
    manifest_text: str | None
    path: str | None
