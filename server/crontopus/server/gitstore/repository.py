"""Blocking pygit2 operations on one bare repository: open, create, read HEAD, apply changes.

Everything here runs in a worker thread. pygit2 `Repository` objects must not
be shared between threads, so each worker thread keeps its own small cache of
open repositories (libgit2 rereads refs and new packs from disk as needed).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import pygit2

from crontopus.core.namespaces import PROTECTED_NAMESPACES, namespace_problem

from .errors import (
    ConflictError,
    InvalidChangeError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    ProtectedNamespaceError,
)
from .layout import BRANCH, BRANCH_REF, KEEP_FILE, PathKind, classify, keep_path
from .model import Author, Change, Delete, Mkdir, Put, Rmdir

_OPEN_PER_THREAD = 8
#: Pack files libgit2 keeps open across the process (its default is unlimited, and
#: every open repository of every worker thread would otherwise hold its packs open).
PACK_FILE_LIMIT = 256
_local = threading.local()
BLOB_MODE = pygit2.enums.FileMode.BLOB


def limit_open_packs() -> None:
    """Bound how many pack files libgit2 keeps open, unless someone already chose."""
    if pygit2.settings.mwindow_file_limit == 0:
        pygit2.settings.mwindow_file_limit = PACK_FILE_LIMIT


def open_repository(path: Path) -> pygit2.Repository:
    """Return this thread's open repository at `path`."""
    cache: OrderedDict[Path, pygit2.Repository] | None = getattr(_local, "repos", None)
    if cache is None:
        cache = _local.repos = OrderedDict()
    repo = cache.get(path)
    if repo is None:
        repo = pygit2.Repository(str(path))
        cache[path] = repo
        if len(cache) > _OPEN_PER_THREAD:
            cache.popitem(last=False)
    else:
        cache.move_to_end(path)
    return repo


def forget_repository(path: Path) -> None:
    """Drop this thread's open handle on `path` (after the directory was replaced)."""
    cache = getattr(_local, "repos", None)
    if cache is not None:
        cache.pop(path, None)


def init_bare(path: Path) -> pygit2.Repository:
    """Create a bare repository whose HEAD names the default branch."""
    path.parent.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), bare=True, initial_head=BRANCH)
    # Belt and braces for pushes that bypass the server's hook: history is append-only.
    repo.config["receive.denyNonFastForwards"] = True
    repo.config["receive.denyDeletes"] = True
    return repo


def head_commit(repo: pygit2.Repository) -> pygit2.Commit | None:
    """Return the tip of the default branch, or None in an empty repository."""
    try:
        ref = repo.references[BRANCH_REF]
    except KeyError:
        return None
    return commit_at(repo, ref.target)


def commit_at(repo: pygit2.Repository, oid: pygit2.Oid | str) -> pygit2.Commit | None:
    """Return the commit `oid` names, or None when it is missing or another kind of object."""
    found = repo.get(oid)
    if found is None or found.type != pygit2.enums.ObjectType.COMMIT:
        return None
    return found.peel(pygit2.Commit)


def diff_trees(old: pygit2.Tree | None, new: pygit2.Tree) -> pygit2.Diff:
    """Diff two trees; with no old tree, everything in `new` counts as added."""
    return old.diff_to_tree(new) if old is not None else new.diff_to_tree(swap=True)


def head_id(repo: pygit2.Repository) -> str | None:
    """Return the commit id of the default branch's tip."""
    try:
        return str(repo.references[BRANCH_REF].target)
    except KeyError:
        return None


def signature(person: Author, when: int | None = None) -> pygit2.Signature:
    """Turn an Author into a pygit2 signature stamped now (UTC)."""
    return pygit2.Signature(person.name, person.email, int(when or time.time()), 0)


def build_tree(
    repo: pygit2.Repository, base: pygit2.Commit | None, changes: Sequence[Change]
) -> pygit2.Oid:
    """Apply `changes` to `base`'s tree in memory and return the new tree id."""
    index = pygit2.Index()
    if base is not None:
        index.read_tree(base.tree)
    for change in changes:
        if isinstance(change, Put):
            _put(repo, index, change)
        elif isinstance(change, Delete):
            _delete(repo, index, change)
        elif isinstance(change, Mkdir):
            _mkdir(repo, index, change.namespace)
        else:
            _rmdir(index, change)
    return index.write_tree(repo)


def _blob_at(index: pygit2.Index, path: str) -> str | None:
    try:
        return str(index[path].id)
    except KeyError:
        return None


def _paths_under(index: pygit2.Index, namespace: str) -> list[str]:
    prefix = f"{namespace}/"
    return [entry.path for entry in index if entry.path.startswith(prefix)]


def _keep_open(repo: pygit2.Repository, index: pygit2.Index, namespace: str) -> None:
    path = keep_path(namespace)
    if _blob_at(index, path) is None:
        index.add(pygit2.IndexEntry(path, repo.create_blob(b""), BLOB_MODE))


def _put(repo: pygit2.Repository, index: pygit2.Index, change: Put) -> None:
    info = classify(change.path)
    if info.kind in (PathKind.ILLEGAL, PathKind.KEEP):
        raise InvalidChangeError(change.path, info.reason or f"{KEEP_FILE} is managed by the store")
    current = _blob_at(index, change.path)
    if current != change.expected_blob_id:
        raise ConflictError(change.path, change.expected_blob_id, current)
    data = change.content.encode() if isinstance(change.content, str) else change.content
    index.add(pygit2.IndexEntry(change.path, repo.create_blob(data), BLOB_MODE))
    if info.namespace is not None:
        _keep_open(repo, index, info.namespace)


def _delete(repo: pygit2.Repository, index: pygit2.Index, change: Delete) -> None:
    info = classify(change.path)
    if info.kind is PathKind.KEEP:
        raise InvalidChangeError(change.path, "remove a namespace with rmdir, not its .keep")
    current = _blob_at(index, change.path)
    if current != change.expected_blob_id:
        raise ConflictError(change.path, change.expected_blob_id, current)
    index.remove(change.path)
    if info.namespace is not None and info.kind is not PathKind.ILLEGAL:
        # An API delete never makes a namespace vanish: only rmdir does.
        _keep_open(repo, index, info.namespace)


def _mkdir(repo: pygit2.Repository, index: pygit2.Index, namespace: str) -> None:
    problem = namespace_problem(namespace)
    if problem is not None:
        raise InvalidChangeError(f"{namespace}/", str(problem))
    if _paths_under(index, namespace):
        raise NamespaceExistsError(namespace)
    _keep_open(repo, index, namespace)


def _rmdir(index: pygit2.Index, change: Rmdir) -> None:
    namespace = change.namespace
    if namespace in PROTECTED_NAMESPACES:
        raise ProtectedNamespaceError(
            f"{namespace}/", f"namespace {namespace!r} always exists and cannot be deleted"
        )
    paths = _paths_under(index, namespace)
    if not paths:
        raise ConflictError(
            f"{namespace}/",
            None,
            None,
            f"namespace {namespace!r} does not exist: list namespaces to see what there is",
        )
    others = [p for p in paths if p != keep_path(namespace)]
    if others:
        raise NamespaceNotEmptyError(namespace, len(others))
    for path in paths:
        index.remove(path)


def commit(
    repo: pygit2.Repository,
    ref: str | None,
    parent: pygit2.Commit | None,
    tree: pygit2.Oid,
    author: Author,
    committer: Author,
    message: str,
) -> pygit2.Oid:
    """Create a commit; with `ref`, move it only if it still points at `parent`."""
    if not message.endswith("\n"):
        message += "\n"
    parents: list[pygit2.Oid] = [parent.id] if parent is not None else []
    oid = repo.create_commit(ref, signature(author), signature(committer), message, tree, parents)
    assert isinstance(oid, pygit2.Oid)
    return oid
