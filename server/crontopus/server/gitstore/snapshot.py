"""Parse a commit's manifests into a Snapshot, reusing parses of unchanged blobs.

A blob's parse depends only on its bytes and its path (the path names the
namespace and appears in error messages), so parses are cached by
`(path, blob id)`: a new commit that changes one file re-parses one file.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import pygit2
import yaml

from crontopus.core.errors import ManifestError
from crontopus.core.manifest import (
    JobManifest,
    Problem,
    misplaced_problems,
    parse_manifest,
    path_problems,
)
from crontopus.core.namespaces import PROTECTED_NAMESPACES, namespace_problem

from .errors import CommitNotFoundError
from .layout import ROOT_FILES, PathKind, classify
from .model import JobEntry, NamespaceInfo, Snapshot
from .repository import commit_at


@dataclass(frozen=True)
class Parsed:
    """The outcome of parsing one manifest blob."""

    manifest: JobManifest | None
    problems: tuple[Problem, ...]
    text: str


class ManifestParser:
    """Parse manifest blobs, remembering the last `capacity` results."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._cache: OrderedDict[tuple[str, str], Parsed] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, repo: pygit2.Repository, path: str, blob_id: str) -> Parsed:
        """Return the parse of the blob `blob_id` found at `path`."""
        key = (path, blob_id)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        blob = repo.get(blob_id)
        data = blob.data if isinstance(blob, pygit2.Blob) else b""
        parsed = parse_blob(path, data)
        with self._lock:
            self._cache[key] = parsed
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return parsed


def parse_blob(path: str, data: bytes) -> Parsed:
    """Parse manifest bytes found at `path` (`<namespace>/<name>.yaml`)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Parsed(None, (Problem(path, "", "is not UTF-8 text: save it as UTF-8"),), "")
    namespace = path.split("/", 1)[0]
    try:
        manifest = parse_manifest(text, path, namespace=namespace)
    except ManifestError as error:
        return Parsed(None, (*error.problems, *misplaced_problems(path, text)), text)
    return Parsed(manifest, (), text)


_ID_LINE = re.compile(r"^\s+id:\s*[\"']?([0-9a-fA-F-]{32,36})[\"']?\s*$", re.MULTILINE)


def loose_id(text: str) -> uuid.UUID | None:
    """Return `metadata.id` of a manifest text, even when the rest of it is invalid."""
    try:
        document = yaml.safe_load(text)
        return uuid.UUID(str(document["metadata"]["id"]))
    except (yaml.YAMLError, TypeError, KeyError, ValueError, AttributeError):
        return None


def quick_id(text: str) -> uuid.UUID | None:
    """Return a manifest's id cheaply: one `id:` line settles it, else parse the YAML."""
    found = _ID_LINE.findall(text)
    if len(found) == 1:
        try:
            return uuid.UUID(found[0])
        except ValueError:
            pass
    return loose_id(text)


def name_problem(path: str, manifest: JobManifest) -> Problem | None:
    """Return a problem when the file is not `<metadata.namespace>/<metadata.name>.yaml`."""
    problems = path_problems(path, manifest)
    return problems[0] if problems else None


def duplicate_problem(path: str, job_id: uuid.UUID, first_path: str) -> Problem:
    """Return the problem of a second file carrying an id already in use."""
    return Problem(
        path,
        "metadata.id",
        f"{job_id} is already the id of {first_path}: give this job a fresh UUID "
        "(ids are unique per repository)",
    )


def build_snapshot(
    repo: pygit2.Repository, commit_id: str | None, parser: ManifestParser
) -> Snapshot:
    """Read every manifest of `commit_id` into a Snapshot; bad files become problems."""
    namespaces: dict[str, int] = {name: 0 for name in PROTECTED_NAMESPACES}
    if commit_id is None:
        return Snapshot(None, {}, _namespace_infos(namespaces), ())
    try:
        commit = commit_at(repo, commit_id)
    except ValueError:  # not a hex object id at all
        commit = None
    if commit is None:
        raise CommitNotFoundError(commit_id)
    jobs: dict[uuid.UUID, JobEntry] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for entry in commit.tree:
        name = entry.name or ""
        if isinstance(entry, pygit2.Tree):
            problem = namespace_problem(name)
            if problem is not None:
                problems.append(Problem(f"{name}/", "", str(problem)))
                continue
            namespaces.setdefault(name, 0)
            for child in entry:
                path = f"{name}/{child.name}"
                if isinstance(child, pygit2.Tree):
                    problems.append(
                        Problem(
                            f"{path}/",
                            "",
                            "nested directories are not allowed: "
                            "manifests live directly in <namespace>/<name>.yaml",
                        )
                    )
                    continue
                if not isinstance(child, pygit2.Blob):
                    problems.append(Problem(path, "", "submodules are not allowed"))
                    continue
                files[path] = str(child.id)
                _read_file(repo, parser, path, str(child.id), jobs, problems)
        elif isinstance(entry, pygit2.Blob):
            files[name] = str(entry.id)
            if name not in ROOT_FILES:
                problems.append(Problem(name, "", classify(name).reason or "not allowed here"))
        else:
            problems.append(Problem(name, "", "submodules are not allowed"))
    for job in jobs.values():
        namespaces[job.manifest.namespace] += 1
    return Snapshot(commit_id, jobs, _namespace_infos(namespaces), tuple(problems), files)


def _read_file(
    repo: pygit2.Repository,
    parser: ManifestParser,
    path: str,
    blob_id: str,
    jobs: dict[uuid.UUID, JobEntry],
    problems: list[Problem],
) -> None:
    info = classify(path)
    if info.kind is PathKind.KEEP:
        return
    if info.kind is not PathKind.MANIFEST:
        problems.append(Problem(path, "", info.reason or "not allowed here"))
        return
    parsed = parser.parse(repo, path, blob_id)
    if parsed.manifest is None:
        problems.extend(parsed.problems)
        return
    manifest = parsed.manifest
    first = jobs.get(manifest.id)
    if first is not None:
        problems.append(duplicate_problem(path, manifest.id, first.path))
        return
    mismatch = name_problem(path, manifest)
    if mismatch is not None:
        problems.append(mismatch)
    jobs[manifest.id] = JobEntry(manifest, path, blob_id, parsed.text)


def _namespace_infos(counts: dict[str, int]) -> dict[str, NamespaceInfo]:
    return {
        name: NamespaceInfo(name, counts[name], name in PROTECTED_NAMESPACES)
        for name in sorted(counts)
    }
