"""The local mirror of the job repository: fetch with the endpoint token, read manifests."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from crontopus.agent.errors import SyncError
from crontopus.core.errors import ManifestError
from crontopus.core.manifest import MANIFEST_SUFFIX, JobManifest, parse_manifest, path_problems
from crontopus.core.problems import Problem

GIT_USER = "crontopus-agent"  # the server ignores the user name; the token is the password
ROOT_FILES = frozenset({"README.md"})
KEEP_FILE = ".keep"


@dataclass(frozen=True)
class ManifestSet:
    """The valid manifests of one commit, and the problems of the files that are not."""

    commit: str | None
    jobs: dict[uuid.UUID, JobManifest] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    # Ids read from files that failed validation: their installed entries are kept as they are.
    broken: frozenset[uuid.UUID] = frozenset()


class _TokenCallbacks(pygit2.RemoteCallbacks):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.attempts = 0

    def credentials(
        self, url: str, username_from_url: str | None, allowed_types: int
    ) -> pygit2.UserPass:
        # libgit2 asks again after a refusal; a second ask means the token was rejected.
        self.attempts += 1
        if self.attempts > 1:
            raise SyncError(f"{url}: the endpoint token was refused (revoked? enroll again)")
        return pygit2.UserPass(username_from_url or GIT_USER, self.token)


class Mirror:
    """A bare mirror of one branch of the job repository under the state directory."""

    def __init__(self, path: Path, url: str, token: str, branch: str = "main") -> None:
        self.path = path
        self.url = url
        self.token = token
        self.branch = branch

    def fetch(self) -> str | None:
        """Fetch the branch; return its commit id (None for an empty repository)."""
        repo = self._open()
        try:
            remote = repo.remotes["origin"]
            if remote.url != self.url:
                repo.remotes.set_url("origin", self.url)
                remote = repo.remotes["origin"]
        except KeyError:
            remote = repo.remotes.create("origin", self.url)
        ref = f"refs/heads/{self.branch}"
        try:
            remote.fetch([f"+{ref}:{ref}"], callbacks=_TokenCallbacks(self.token))
        except (pygit2.GitError, OSError) as exc:
            raise SyncError(f"fetching {self.url} failed: {exc}") from exc
        return self.head()

    def head(self) -> str | None:
        """Return the mirrored branch's commit id, or None before the first fetch."""
        if not self.path.exists():
            return None
        reference = self._open().references.get(f"refs/heads/{self.branch}")
        return None if reference is None else str(reference.target)

    def manifests(self, commit: str | None) -> ManifestSet:
        """Parse every manifest of `commit`; invalid files become problems, never errors."""
        if commit is None:
            return ManifestSet(None)
        repo = self._open()
        try:
            tree = repo.get(commit).peel(pygit2.Tree)  # type: ignore[union-attr]
        except (KeyError, ValueError, AttributeError, pygit2.GitError) as exc:
            raise SyncError(f"commit {commit} is not in the mirror {self.path}: {exc}") from exc
        return read_tree(repo, tree, commit)

    def _open(self) -> pygit2.Repository:
        if not (self.path / "HEAD").exists():
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            return pygit2.init_repository(str(self.path), bare=True)
        return pygit2.Repository(str(self.path))


def read_tree(repo: pygit2.Repository, tree: pygit2.Tree, commit: str) -> ManifestSet:
    """Read `<namespace>/<name>.yaml` manifests from a tree; keep going past bad files."""
    jobs: dict[uuid.UUID, JobManifest] = {}
    paths: dict[uuid.UUID, str] = {}
    problems: list[Problem] = []
    broken: set[uuid.UUID] = set()
    for entry in tree:
        name = entry.name or ""
        if not isinstance(entry, pygit2.Tree):
            if name not in ROOT_FILES:
                problems.append(Problem(name, "", "only namespace directories belong at the root"))
            continue
        for child in entry:
            path = f"{name}/{child.name}"
            if child.name == KEEP_FILE:
                continue
            if not isinstance(child, pygit2.Blob) or not path.endswith(MANIFEST_SUFFIX):
                problems.append(Problem(path, "", "not a <namespace>/<name>.yaml manifest"))
                continue
            try:
                manifest = parse_manifest(child.data, path, namespace=name)
            except ManifestError as exc:
                problems.extend(exc.problems)
                if (job_id := loose_id(child.data)) is not None:
                    broken.add(job_id)
                continue
            if manifest.id in jobs:
                problems.append(
                    Problem(
                        path, "metadata.id", f"{manifest.id} is also the id of {paths[manifest.id]}"
                    )
                )
                continue
            problems.extend(path_problems(path, manifest))
            jobs[manifest.id] = manifest
            paths[manifest.id] = path
    return ManifestSet(commit, jobs, tuple(problems), frozenset(broken - set(jobs)))


_ID_LINE = re.compile(rb"^\s+id:\s*[\"']?([0-9a-fA-F-]{32,36})[\"']?\s*$", re.MULTILINE)


def loose_id(data: bytes) -> uuid.UUID | None:
    """Return the `metadata.id` of a manifest that failed validation, when one can be read.

    A job whose file is broken (a typo, a newer field) keeps running as last installed
    instead of being removed: the file is reported, the machine is left alone.
    """
    found = _ID_LINE.findall(data)
    if len(found) != 1:
        return None
    try:
        return uuid.UUID(found[0].decode())
    except ValueError:
        return None
