"""What the managed and external stores share: bare repositories on local disk.

Both stores keep one bare repository per tenant under their root directory and
read and commit with pygit2 in worker threads. Writes to one tenant are
serialised by an asyncio lock; the branch itself is moved compare-and-swap (a
commit only lands on the tip it was built on), so a concurrent `git push`
cannot be overwritten either. Snapshots are cached per commit id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
import pygit2

from crontopus.core.namespaces import DEFAULT_NAMESPACE, DISCOVERED_NAMESPACE, slug_problem
from crontopus.server.singleflight import SingleFlight

from . import repository
from .errors import ConflictError, RepositoryNotFoundError
from .history import job_history
from .model import Author, Change, HistoryEntry, Mkdir, Snapshot
from .snapshot import ManifestParser, build_snapshot
from .store import GitStore, JobChange, JobChangeKind

T = TypeVar("T")

#: The identity that commits on behalf of users (they are the authors).
DEFAULT_COMMITTER = Author("Crontopus", "crontopus@localhost")
#: How often a write is rebuilt when the branch moved under it before it gives up.
MAX_COMMIT_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class _Prepared:
    parent: str | None
    commit: str | None  # None: the changes altered nothing


def check_tenant(tenant: str) -> str:
    """Return `tenant` if it is a valid slug (it names a directory); raise ValueError if not."""
    problem = slug_problem(tenant, "tenant slug")
    if problem is not None:
        raise ValueError(problem)
    return tenant


class LocalGitStore(GitStore):
    """A GitStore whose repositories are bare repositories under `root`."""

    def __init__(
        self,
        root: Path,
        *,
        committer: Author = DEFAULT_COMMITTER,
        snapshot_cache_size: int = 16,
        parse_cache_size: int = 20_000,
    ) -> None:
        self.root = Path(root)
        self.committer = committer
        self._snapshot_cache_size = snapshot_cache_size
        self._snapshots: OrderedDict[tuple[str, str], Snapshot] = OrderedDict()
        self._snapshot_builds: SingleFlight[tuple[str, str], Snapshot] = SingleFlight()
        self._locks: dict[str, asyncio.Lock] = {}
        self.parser = ManifestParser(parse_cache_size)
        repository.limit_open_packs()

    # -- hooks for subclasses -------------------------------------------------

    async def _before_read(self, tenant: str) -> None:
        """Bring the local repository up to date before a read (external: fetch)."""

    async def _before_write(self, tenant: str) -> None:
        """Bring the local repository up to date before a write (external: fetch)."""

    async def _publish(self, tenant: str, parent: str | None, commit: str) -> bool:
        """Make `commit` the new tip; return False when the branch moved meanwhile."""
        return await self._run(self._move_branch, self.repo_path(tenant), parent, commit)

    def _base(self, repo: pygit2.Repository) -> pygit2.Commit | None:
        """Return the commit a write builds on (external: the remote's tip)."""
        return repository.head_commit(repo)

    async def refresh(self, tenant: str) -> None:
        """Bring the tenant's repository up to date before serving it (external: fetch)."""
        await self._before_read(tenant)

    # -- helpers --------------------------------------------------------------

    def repo_path(self, tenant: str) -> Path:
        """Return where the tenant's bare repository lives."""
        return self.root / f"{check_tenant(tenant)}.git"

    def lock(self, tenant: str) -> asyncio.Lock:
        """Return the lock that serialises writes to one tenant's repository."""
        return self._locks.setdefault(tenant, asyncio.Lock())

    @staticmethod
    async def _run(func: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(functools.partial(func, *args))

    def _open(self, tenant: str) -> pygit2.Repository:
        path = self.repo_path(tenant)
        if not (path / "HEAD").exists():
            raise RepositoryNotFoundError(tenant)
        return repository.open_repository(path)

    # -- GitStore -------------------------------------------------------------

    async def exists(self, tenant: str) -> bool:
        try:
            path = self.repo_path(tenant)
        except ValueError:
            return False
        return await self._run(lambda: (path / "HEAD").exists())

    async def ensure_repository(self, tenant: str) -> None:
        async with self.lock(tenant):
            await self._create(tenant)
            await self._before_write(tenant)
            prepared = await self._run(
                self._prepare,
                tenant,
                [Mkdir(DEFAULT_NAMESPACE), Mkdir(DISCOVERED_NAMESPACE)],
                self.committer,
                "crontopus: create the default and discovered namespaces",
                None,
                True,
            )
            if prepared.commit is not None:
                await self._publish(tenant, prepared.parent, prepared.commit)

    async def _create(self, tenant: str) -> None:
        path = self.repo_path(tenant)
        if not (path / "HEAD").exists():
            await self._run(repository.init_bare, path)

    async def head(self, tenant: str) -> str | None:
        await self._before_read(tenant)
        return await self._run(lambda: repository.head_id(self._open(tenant)))

    async def snapshot(self, tenant: str, commit: str | None = None) -> Snapshot:
        commit_id = commit if commit is not None else await self.head(tenant)
        if commit_id is None:
            return await self._run(lambda: build_snapshot(self._open(tenant), None, self.parser))
        key = (tenant, commit_id)
        cached = self._snapshots.get(key)
        if cached is not None:
            self._snapshots.move_to_end(key)
            return cached
        snap = await self._snapshot_builds.run(
            key,
            lambda: self._run(lambda: build_snapshot(self._open(tenant), commit_id, self.parser)),
        )
        self._snapshots[key] = snap
        if len(self._snapshots) > self._snapshot_cache_size:
            self._snapshots.popitem(last=False)
        return snap

    async def commit_changes(
        self,
        tenant: str,
        changes: Sequence[Change],
        author: Author,
        message: str,
        expected_head: str | None = None,
    ) -> str:
        async with self.lock(tenant):
            for attempt in range(MAX_COMMIT_ATTEMPTS):
                if attempt:
                    # A push holds the branch for a moment: let it finish.
                    await asyncio.sleep(0.05 * 2**attempt)
                await self._before_write(tenant)
                prepared = await self._run(
                    self._prepare, tenant, list(changes), author, message, expected_head, False
                )
                if prepared.commit is None:
                    assert prepared.parent is not None
                    return prepared.parent
                if await self._publish(tenant, prepared.parent, prepared.commit):
                    return prepared.commit
        raise ConflictError(
            "refs/heads/main",
            None,
            None,
            "the branch kept moving or stayed locked while committing: try again in a moment "
            f"(if no push is running, remove a stale {self.repo_path(tenant)}/"
            "refs/heads/main.lock)",
        )

    def _prepare(
        self,
        tenant: str,
        changes: list[Change],
        author: Author,
        message: str,
        expected_head: str | None,
        tolerate_conflicts: bool,
    ) -> _Prepared:
        repo = self._open(tenant)
        parent = self._base(repo)
        parent_id = str(parent.id) if parent is not None else None
        if expected_head is not None and expected_head != parent_id:
            raise ConflictError(
                "refs/heads/main",
                expected_head,
                parent_id,
                f"the repository moved from {expected_head} to {parent_id}: "
                "read it again and reapply the change",
            )
        if tolerate_conflicts:
            # ensure_repository: only the namespaces that are still missing.
            changes = [c for c in changes if not _has_namespace(parent, c)]
        tree = repository.build_tree(repo, parent, changes)
        if parent is not None and tree == parent.tree.id:
            return _Prepared(parent_id, None)
        oid = repository.commit(repo, None, parent, tree, author, self.committer, message)
        return _Prepared(parent_id, str(oid))

    @staticmethod
    def _move_branch(path: Path, parent: str | None, commit: str) -> bool:
        repo = repository.open_repository(path)
        # Compare-and-swap: rewrite the tip only if it is still the parent we built on.
        # A lock file makes the check and the write atomic against `git receive-pack`.
        lock = path / "refs" / "heads" / "main.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)  # `git pack-refs` may leave none
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        try:
            if repository.head_id(repo) != parent:
                return False
            os.write(fd, f"{commit}\n".encode())
            os.close(fd)
            fd = -1
            os.replace(lock, path / "refs" / "heads" / "main")
            return True
        finally:
            if fd != -1:
                os.close(fd)
                lock.unlink(missing_ok=True)

    async def history(
        self, tenant: str, target: uuid.UUID | str, first: int = 20
    ) -> list[HistoryEntry]:
        if isinstance(target, str):
            snap = await self.snapshot(tenant)
            for entry in snap.jobs.values():
                if entry.path == target:
                    target = entry.manifest.id
                    break
        found = target

        def walk() -> list[HistoryEntry]:
            repo = self._open(tenant)
            return job_history(repo, repository.head_commit(repo), found, first)

        return await self._run(walk)

    async def parent(self, tenant: str, commit: str) -> str | None:
        def read() -> str | None:
            found = repository.commit_at(self._open(tenant), commit)
            if found is None or not found.parent_ids:
                return None
            return str(found.parent_ids[0])

        return await self._run(read)

    async def job_changes(self, tenant: str, old: str | None, new: str) -> list[JobChange]:
        before = await self.snapshot(tenant, old) if old else None
        after = await self.snapshot(tenant, new)
        old_jobs = before.jobs if before is not None else {}
        changes: list[JobChange] = []
        for job_id, entry in after.jobs.items():
            previous = old_jobs.get(job_id)
            if previous is None:
                changes.append(
                    JobChange(JobChangeKind.CREATED, job_id, entry.path, entry.manifest, new)
                )
            elif previous.blob_id != entry.blob_id or previous.path != entry.path:
                changes.append(
                    JobChange(JobChangeKind.UPDATED, job_id, entry.path, entry.manifest, new)
                )
        for job_id, entry in old_jobs.items():
            if job_id not in after.jobs:
                changes.append(JobChange(JobChangeKind.DELETED, job_id, entry.path, None, new))
        return changes

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError(f"{self.root}: the git store directory is not writable")

        await self._run(probe)


def _has_namespace(parent: pygit2.Commit | None, change: Change) -> bool:
    if parent is None or not isinstance(change, Mkdir):
        return False
    return change.namespace in parent.tree
