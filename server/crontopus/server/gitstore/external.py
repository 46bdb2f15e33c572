"""The external Git store: each tenant's repository lives on a forge (Forgejo, GitLab, GitHub…).

The server keeps a bare mirror per tenant under its root directory. Reads fetch
first, at most once per `fetch_interval` seconds (a forge that is down leaves the
mirror readable, only stale). Writes always fetch, commit on top of the remote
tip, and push without force; when someone else pushed in between, the push is
refused, the store fetches again and rebuilds the commit on the new tip — which
re-checks every expected blob id, so a change to a file the write touches is a
ConflictError, and a change elsewhere is simply kept.

A fetch lands in `refs/crontopus/remote`, not in `main`: the mirror **adopts** a
remote tip (moves `main`, which is all that readers and agents see) only once the
push validator passed it (`validate_remote_tip`). A tip with problems is kept
aside with them (`pending_problems`), `main` keeps serving the last valid commit,
and writes through the API are refused until the remote is fixed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from crontopus.core.problems import Problem
from crontopus.server.settings import TENANT_PLACEHOLDER

from . import repository
from .errors import RemoteError, RepositoryNotFoundError
from .local import DEFAULT_COMMITTER, LocalGitStore, check_tenant
from .model import Author
from .validation import validate_remote_tip

log = logging.getLogger(__name__)
OUTGOING_REF = "refs/crontopus/outgoing"
#: Where a fetch puts the remote branch's tip; `main` follows once the tip is adopted.
REMOTE_REF = "refs/crontopus/remote"

#: (tenant) → the tenant's jobs quota, which a remote tip must hold to be adopted.
JobsQuota = Callable[[str], Awaitable[int | None]]
#: (tenant, old commit or None, new commit) after the mirror's `main` moved: to a remote tip
#: it adopted, or to a commit of its own it pushed. Awaited by whoever caused the move (a
#: read, a write, a webhook), so it should only take note and return.
OnAdopt = Callable[[str, str | None, str], Awaitable[None]]


@dataclass(frozen=True)
class RefusedTip:
    """A remote tip the mirror did not adopt, and why."""

    commit: str
    serving: str | None
    problems: tuple[Problem, ...]


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
    """Mirrors of tenant repositories hosted elsewhere; commits are pushed back.

    `template` gives every tenant without a remote of its own one: its URL holds
    `{tenant}`, which becomes the tenant's slug. `mirror_served=True` says the server
    serves the mirror at `/git/<tenant>/jobs.git`, which is then the clone URL.
    """

    def __init__(
        self,
        root: Path,
        remotes: Mapping[str, ExternalRemote] | None = None,
        *,
        template: ExternalRemote | None = None,
        fetch_interval: float = 10.0,
        mirror_served: bool = False,
        jobs_quota: JobsQuota | None = None,
        on_adopt: OnAdopt | None = None,
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
        self.template = template
        self.mirror_served = mirror_served
        self.jobs_quota = jobs_quota
        self.on_adopt = on_adopt
        self._remotes: dict[str, ExternalRemote] = dict(remotes or {})
        self._fetched_at: dict[str, float] = {}
        self._fetch_locks: dict[str, asyncio.Lock] = {}
        self._fetch_errors: dict[str, str] = {}
        self._refused: dict[str, RefusedTip] = {}
        self._ensuring_tenants: set[str] = set()

    def set_remote(self, tenant: str, remote: ExternalRemote) -> None:
        """Point a tenant at its remote repository (replaces any previous one)."""
        self._remotes[tenant] = remote
        self._fetched_at.pop(tenant, None)

    def remote(self, tenant: str) -> ExternalRemote:
        """Return the tenant's remote; RepositoryNotFoundError when none is configured."""
        found = self._remotes.get(tenant)
        if found is not None:
            return found
        if self.template is None:
            raise RepositoryNotFoundError(tenant)
        url = self.template.url.replace(TENANT_PLACEHOLDER, check_tenant(tenant))
        return dataclasses.replace(self.template, url=url)

    def clone_url(self, tenant: str, base_url: str) -> str:
        if self.mirror_served:
            return f"{base_url.rstrip('/')}/git/{tenant}/jobs.git"
        return self.remote(tenant).public_url()

    def push_url(self, tenant: str) -> str:
        """Return where people push: the remote's URL without credentials."""
        return self.remote(tenant).public_url()

    def _fetch_lock(self, tenant: str) -> asyncio.Lock:
        return self._fetch_locks.setdefault(tenant, asyncio.Lock())

    async def fetch(self, tenant: str, max_age: float = 0.0) -> None:
        """Fetch the tenant's remote branch into the mirror, unless one is younger than max_age.

        A new remote tip is then judged and, when valid, adopted (see the module's doc).
        """
        remote = self.remote(tenant)
        async with self._fetch_lock(tenant):
            # Readers that queued behind a fetch take its result instead of fetching again.
            if max_age and time.monotonic() - self._fetched_at.get(tenant, -1e18) < max_age:
                return
            try:
                await self._run(self._fetch_sync, self.repo_path(tenant), remote)
            except RemoteError as error:
                self._fetch_errors[tenant] = str(error)
                raise
            finally:
                # A failed fetch also waits out the interval: a forge that is down
                # is not hammered by every read.
                self._fetched_at[tenant] = time.monotonic()
            self._fetch_errors.pop(tenant, None)
            adopted = await self._adopt(tenant)
        # Announced outside the lock: announcing reads the repository, which may fetch.
        await self._adopted(tenant, adopted)

    @property
    def announces_own_commits(self) -> bool:
        return self.on_adopt is not None

    async def _adopted(self, tenant: str, adopted: tuple[str | None, str] | None) -> None:
        if adopted is not None and self.on_adopt is not None:
            try:
                await self.on_adopt(tenant, *adopted)
            except Exception:
                log.exception("announcing %s's adopted commit %s failed", tenant, adopted[1])

    async def _adopt(self, tenant: str) -> tuple[str | None, str] | None:
        """Move `main` to the fetched remote tip if the validator passes it; else keep it aside.

        Return the move (old, new) when `main` moved. Called with the tenant's fetch lock held.
        """
        path = self.repo_path(tenant)
        main, tip = await self._run(self._tips, path)
        if tip is None or tip == main:
            self._refused.pop(tenant, None)
            return None
        # A tip refused before is judged again: the quota may have been raised meanwhile.
        refused = self._refused.get(tenant)
        try:
            max_jobs = await self.jobs_quota(tenant) if self.jobs_quota is not None else None
        except Exception:
            # The quota lives in the database: without it, the tip waits for the next fetch.
            log.warning("cannot judge %s's remote tip now: its quota is unknown", tenant)
            self._fetched_at.pop(tenant, None)
            return None
        problems = await self._run(validate_remote_tip_at, path, main, tip, max_jobs)
        if problems:
            if refused is None or refused.commit != tip:
                log.warning(
                    "not adopting %s's remote tip %s: %d problem(s), first: %s",
                    tenant,
                    tip,
                    len(problems),
                    problems[0],
                )
            self._refused[tenant] = RefusedTip(tip, main, tuple(problems))
            return None
        if not await self._run(self._move_branch, path, main, tip):
            # The branch moved meanwhile (a write of this process): judge again next time.
            self._fetched_at.pop(tenant, None)
            return None
        self._refused.pop(tenant, None)
        return main, tip

    async def sync(self, tenant: str) -> None:
        """Fetch now (a webhook, the periodic fetch); RemoteError when the remote is away."""
        await self.fetch(tenant)

    async def pending_problems(self, tenant: str) -> tuple[Problem, ...]:
        problems: list[Problem] = []
        error = self._fetch_errors.get(tenant)
        if error is not None:
            problems.append(Problem(None, "", f"{error}; jobs are served from the last fetch"))
        refused = self._refused.get(tenant)
        if refused is not None:
            serving = refused.serving[:12] if refused.serving else "nothing yet"
            problems.append(
                Problem(
                    None,
                    "",
                    f"{self.push_url(tenant)}: its {self.remote(tenant).branch} branch is at "
                    f"{refused.commit[:12]}, which Crontopus does not serve because of the "
                    f"problems below (serving {serving}); fix them and push again",
                )
            )
            problems.extend(refused.problems)
        return tuple(problems)

    async def pending_commit(self, tenant: str) -> str | None:
        refused = self._refused.get(tenant)
        return refused.commit if refused is not None else None

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
        refused = self._refused.get(tenant)
        if refused is not None and not self._ensuring(tenant):
            raise RemoteError(
                f"{self.push_url(tenant)} holds commit {refused.commit[:12]} with "
                f"{len(refused.problems)} problem(s) that Crontopus did not adopt (see the "
                "repository problems): fix them with a push there, then try again"
            )

    def _ensuring(self, tenant: str) -> bool:
        return tenant in self._ensuring_tenants

    async def ensure_repository(self, tenant: str) -> None:
        # Adding the namespaces a remote lacks is the fix for a tip that lacks them: the
        # commit goes on top of the remote tip even when that tip was not adopted.
        self._ensuring_tenants.add(tenant)
        try:
            await super().ensure_repository(tenant)
        finally:
            self._ensuring_tenants.discard(tenant)

    def _base(self, repo: pygit2.Repository) -> pygit2.Commit | None:
        # A push must fast-forward the remote: build on its tip (which is `main` unless
        # the tip was not adopted, and then only ensure_repository gets here).
        try:
            tip = repo.references[REMOTE_REF].peel(pygit2.Commit)
        except KeyError:
            return repository.head_commit(repo)
        return tip if isinstance(tip, pygit2.Commit) else repository.head_commit(repo)

    async def _publish(self, tenant: str, parent: str | None, commit: str) -> bool:
        remote = self.remote(tenant)
        if not await self._run(self._push_sync, self.repo_path(tenant), remote, commit):
            return False
        async with self._fetch_lock(tenant):
            # Our own commit is judged like any other before it is served, and announced
            # like any other: the other processes adopting it stay quiet (docs/git-store.md).
            adopted = await self._adopt(tenant)
        refused = self._refused.get(tenant)
        if refused is not None and refused.commit == commit and not self._ensuring(tenant):
            log.error("%s: commit %s was pushed but not adopted: %s", tenant, commit, refused)
        await self._adopted(tenant, adopted)
        return True

    @staticmethod
    def _tips(path: Path) -> tuple[str | None, str | None]:
        repo = repository.open_repository(path)
        try:
            tip: str | None = str(repo.references[REMOTE_REF].target)
        except KeyError:
            tip = None
        return repository.head_id(repo), tip

    @staticmethod
    def _fetch_sync(path: Path, remote: ExternalRemote) -> None:
        if not (path / "HEAD").exists():
            repository.init_bare(path)
        repo = repository.open_repository(path)
        spec = f"+refs/heads/{remote.branch}:{REMOTE_REF}"
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
        repo.references.create(REMOTE_REF, commit, force=True)
        return True


def validate_remote_tip_at(
    path: Path, adopted: str | None, tip: str, max_jobs: int | None
) -> list[Problem]:
    """Run `validate_remote_tip` on the mirror at `path`."""
    return validate_remote_tip(repository.open_repository(path), adopted, tip, max_jobs)


def _lost_race(message: str) -> bool:
    """Tell whether a push failed only because the remote branch moved on."""
    text = message.lower().replace("-", "")
    return any(
        sign in text for sign in ("fastforward", "fetch first", "not present locally", "stale info")
    )
