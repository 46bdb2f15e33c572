"""Where things live inside a tenant's job repository.

A repository holds one directory per namespace and one manifest per file:
`<namespace>/<name>.yaml`. A namespace exists while its directory does; Git
does not keep empty directories, so every namespace the server creates holds
an empty `.keep` file. `README.md` may sit at the root; nothing else may.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crontopus.core.namespaces import namespace_problem

BRANCH = "main"
BRANCH_REF = f"refs/heads/{BRANCH}"
KEEP_FILE = ".keep"
MANIFEST_SUFFIX = ".yaml"
ROOT_FILES = frozenset({"README.md"})


class PathKind(enum.Enum):
    """What a path in the repository is."""

    MANIFEST = "manifest"
    KEEP = "keep"
    ROOT_FILE = "root-file"
    ILLEGAL = "illegal"


@dataclass(frozen=True)
class PathInfo:
    """A classified repository path: its kind, namespace and, when illegal, why."""

    kind: PathKind
    namespace: str | None = None
    reason: str | None = None


def keep_path(namespace: str) -> str:
    """Return the path of the `.keep` file that holds `namespace` open."""
    return f"{namespace}/{KEEP_FILE}"


def classify(path: str) -> PathInfo:
    """Say what `path` is in the repository layout, and why it is illegal if it is."""
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or path.startswith("/"):
        return PathInfo(PathKind.ILLEGAL, reason="is not a clean relative path")
    if len(parts) == 1:
        if path in ROOT_FILES:
            return PathInfo(PathKind.ROOT_FILE)
        return PathInfo(
            PathKind.ILLEGAL,
            reason="files at the repository root are not allowed (only README.md): "
            "put manifests in a namespace directory, <namespace>/<name>.yaml",
        )
    if len(parts) > 2:
        return PathInfo(
            PathKind.ILLEGAL,
            namespace=parts[0],
            reason="nested directories are not allowed: "
            "manifests live directly in <namespace>/<name>.yaml",
        )
    namespace, filename = parts
    problem = namespace_problem(namespace)
    if problem is not None:
        return PathInfo(PathKind.ILLEGAL, namespace=namespace, reason=str(problem))
    if filename == KEEP_FILE:
        return PathInfo(PathKind.KEEP, namespace=namespace)
    if filename.endswith(MANIFEST_SUFFIX) and len(filename) > len(MANIFEST_SUFFIX):
        return PathInfo(PathKind.MANIFEST, namespace=namespace)
    if filename.endswith(".yml"):
        reason = f"manifests end in .yaml: rename it to {filename[:-4]}.yaml"
    else:
        reason = "only <name>.yaml manifests and .keep belong in a namespace directory"
    return PathInfo(PathKind.ILLEGAL, namespace=namespace, reason=reason)
