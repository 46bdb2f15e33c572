"""The Git store interface: one job repository per tenant, read as snapshots, written as commits."""

from __future__ import annotations

import abc
import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from crontopus.core.manifest import JobManifest
from crontopus.core.problems import Problem

from .model import Author, Change, HistoryEntry, Snapshot


class JobChangeKind(enum.Enum):
    """How a job differs between two commits."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class JobChange:
    """One job created, updated or deleted between two commits (for `jobEvents`)."""

    kind: JobChangeKind
    job_id: uuid.UUID
    path: str
    manifest: JobManifest | None
    commit_id: str


class GitStore(abc.ABC):
    """Per-tenant job repositories; every method is safe to await from the event loop."""

    @abc.abstractmethod
    async def ensure_repository(self, tenant: str) -> None:
        """Create the tenant's repository with `default/` and `discovered/` if it is missing."""

    @abc.abstractmethod
    async def exists(self, tenant: str) -> bool:
        """Tell whether the tenant has a repository."""

    @abc.abstractmethod
    async def head(self, tenant: str) -> str | None:
        """Return the commit id at the tip of the default branch (None when empty)."""

    @abc.abstractmethod
    async def snapshot(self, tenant: str, commit: str | None = None) -> Snapshot:
        """Return the parsed manifests at `commit` (default HEAD), cached per commit id."""

    @abc.abstractmethod
    async def commit_changes(
        self,
        tenant: str,
        changes: Sequence[Change],
        author: Author,
        message: str,
        expected_head: str | None = None,
    ) -> str:
        """Apply `changes` in one commit on top of HEAD and return its id.

        Raises ConflictError when a file no longer holds its expected blob id or
        HEAD is not `expected_head`; nothing is written then. A change set that
        alters nothing makes no commit and returns the current HEAD.
        """

    @abc.abstractmethod
    async def history(
        self, tenant: str, target: uuid.UUID | str, first: int = 20
    ) -> list[HistoryEntry]:
        """Return up to `first` commits, newest first, that touched a job (by id or path)."""

    @abc.abstractmethod
    async def parent(self, tenant: str, commit: str) -> str | None:
        """Return the first parent of `commit` (None for the first commit)."""

    @abc.abstractmethod
    async def job_changes(self, tenant: str, old: str | None, new: str) -> list[JobChange]:
        """List the jobs created, updated and deleted between two commits."""

    @abc.abstractmethod
    def clone_url(self, tenant: str, base_url: str) -> str:
        """Return the URL agents and people clone the tenant's repository from."""

    @property
    def announces_own_commits(self) -> bool:
        """Tell whether the store announces the commits it writes itself (the external store
        with the server's `on_adopt`): then whoever called `commit_changes` must not."""
        return False

    async def pending_problems(self, tenant: str) -> tuple[Problem, ...]:
        """Return what keeps the repository from being served as it is (external: a remote
        tip that was not adopted, a remote that cannot be fetched); empty when all is well."""
        return ()

    async def pending_commit(self, tenant: str) -> str | None:
        """Return the latest commit of the repository that is not served because of its
        problems (external: a remote tip that was not adopted); None when HEAD is the latest."""
        return None

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise when the store cannot serve (for the server's readiness probe)."""
