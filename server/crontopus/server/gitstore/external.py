"""The external Git store: each tenant's repository lives on a forge (Forgejo, GitLab, GitHub…).

The server keeps a bare mirror per tenant under its root directory. Reads fetch
first, at most once per `fetch_interval` seconds (a forge that is down leaves the
mirror readable, only stale). Writes always fetch, commit on top of the remote
tip, and push without force; when someone else pushed in between, the push is
refused, the store fetches again and rebuilds the commit on the new tip — which
re-checks every expected blob id, so a change to a file the write touches is a
ConflictError, and a change elsewhere is simply kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from . import repository
from .errors import RemoteError, RepositoryNotFoundError
from .layout import BRANCH_REF
from .local import DEFAULT_COMMITTER, LocalGitStore
from .model import Author

log = logging.getLogger(__name__)
OUTGOING_REF = "refs/crontopus/outgoing"


@dataclass(frozen=True)
class ExternalRemote:
    """Where a tenant's repository lives and how to log in (a token goes in `password`)."""

    url: str
    username: str | None = None
    password: str | None = None
    branch: str = "main"

    def public_url(self) -> str:
        """Return the URL without any credentials embedded in it."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return self.url
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=host))


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, remote: ExternalRemote) -> None:
        credentials = None
        if remote.password is not None:
            credentials = pygit2.UserPass(remote.username or "git", remote.password)
        super().__init__(credentials=credentials)
        self.rejected: dict[str, str] = {}
        self.remote_lines: list[str] = []

    def sideband_progress(self, string: str) -> None:
        # What the remote's hooks print (a Crontopus server's validator, a forge's
        # branch protection) arrives here; keep it to explain a refusal.
        self.remote_lines.extend(line for line in string.splitlines() if line.strip())

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message is not None:
            self.rejected[refname] = message


class ExternalGitStore(LocalGitStore):
    """Mirrors of tenant repositories hosted elsewhere; commits are pushed back."""

    def __init__(
        self,
        root: Path,
        remotes: Mapping[str, ExternalRemote] | None = None,
        *,
        fetch_interval: float = 10.0,
        committer: Author = DEFAULT_COMMITTER,
        snapshot_cache_size: int = 16,
        parse_cache_size: int = 20_000,
    ) -> None:
        super().__init__(
            root,
            committer=committer,
            snapshot_cache_size=snapshot_cache_size,
            parse_cache_size=parse_cache_size,
        )
        self.fetch_interval = fetch_interval
        self._remotes: dict[str, ExternalRemote] = dict(remotes or {})
        self._fetched_at: dict[str, float] = {}
        self._fetch_locks: dict[str, asyncio.Lock] = {}

    def set_remote(self, tenant: str, remote: ExternalRemote) -> None:
        """Point a tenant at its remote repository (replaces any previous one)."""
        self._remotes[tenant] = remote
        self._fetched_at.pop(tenant, None)

    def remote(self, tenant: str) -> ExternalRemote:
        """Return the tenant's remote; RepositoryNotFoundError when none is configured."""
        try:
            return self._remotes[tenant]
        except KeyError:
            raise RepositoryNotFoundError(tenant) from None

    def clone_url(self, tenant: str, base_url: str) -> str:
        return self.remote(tenant).public_url()

    async def fetch(self, tenant: str, max_age: float = 0.0) -> None:
        """Fetch the tenant's remote branch into the mirror, unless one is younger than max_age."""
        remote = self.remote(tenant)
        lock = self._fetch_locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            # Readers that queued behind a fetch take its result instead of fetching again.
            if max_age and time.monotonic() - self._fetched_at.get(tenant, -1e18) < max_age:
                return
            try:
                await self._run(self._fetch_sync, self.repo_path(tenant), remote)
            finally:
                # A failed fetch also waits out the interval: a forge that is down
                # is not hammered by every read.
                self._fetched_at[tenant] = time.monotonic()

    async def _before_read(self, tenant: str) -> None:
        last = self._fetched_at.get(tenant)
        if last is not None and time.monotonic() - last < self.fetch_interval:
            return
        try:
            await self.fetch(tenant, max_age=self.fetch_interval)
        except RemoteError as error:
            log.warning("reading %s from a stale mirror: %s", tenant, error)

    async def _before_write(self, tenant: str) -> None:
        await self.fetch(tenant)

    async def _publish(self, tenant: str, parent: str | None, commit: str) -> bool:
        remote = self.remote(tenant)
        return await self._run(self._push_sync, self.repo_path(tenant), remote, commit)

    @staticmethod
    def _fetch_sync(path: Path, remote: ExternalRemote) -> None:
        if not (path / "HEAD").exists():
            repository.init_bare(path)
        repo = repository.open_repository(path)
        spec = f"+refs/heads/{remote.branch}:{BRANCH_REF}"
        try:
            repo.remotes.create_anonymous(remote.url).fetch([spec], callbacks=_Callbacks(remote))
        except pygit2.GitError as error:
            raise RemoteError(
                f"fetching {remote.public_url()} failed: {error} "
                "(check the repository URL and its credentials)"
            ) from error

    @staticmethod
    def _push_sync(path: Path, remote: ExternalRemote, commit: str) -> bool:
        repo = repository.open_repository(path)
        repo.references.create(OUTGOING_REF, commit, force=True)
        callbacks = _Callbacks(remote)
        target = f"refs/heads/{remote.branch}"
        try:
            repo.remotes.create_anonymous(remote.url).push(
                [f"{OUTGOING_REF}:{target}"], callbacks=callbacks
            )
        except pygit2.GitError as error:
            if _lost_race(str(error)):
                return False
            raise RemoteError(
                f"pushing to {remote.public_url()} failed: {error} "
                "(check that the credentials may write)"
            ) from error
        if callbacks.rejected:
            message = callbacks.rejected.get(target, "")
            if _lost_race(message):
                return False
            said = "".join(f"\n  {line}" for line in callbacks.remote_lines)
            raise RemoteError(
                f"{remote.public_url()} refused the push of {target}: {message}{said}"
            )
        repo.references.create(BRANCH_REF, commit, force=True)
        return True


def _lost_race(message: str) -> bool:
    """Tell whether a push failed only because the remote branch moved on."""
    text = message.lower().replace("-", "")
    return any(
        sign in text for sign in ("fastforward", "fetch first", "not present locally", "stale info")
    )
