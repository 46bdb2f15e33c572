"""Shared values of the Git store tests: personas, tokens and manifest text."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import pygit2

from crontopus.server.gitstore import Author, GitAccess

ALICE = Author("Alice Example", "alice@example.com")
BOB = Author("Bob Example", "bob@example.com")

# Tokens of the HTTP tests: tenant → rights.
TOKENS: dict[str, tuple[str, GitAccess]] = {
    "ctp_acme_write": ("acme", GitAccess(can_read=True, can_write=True)),
    "ctp_acme_read": ("acme", GitAccess(can_read=True, can_write=False)),
    "ctp_globex_write": ("globex", GitAccess(can_read=True, can_write=True)),
}

ManifestFactory = Callable[..., str]


def manifest(
    name: str,
    namespace: str = "default",
    job_id: uuid.UUID | str | None = None,
    *,
    schedule: str = "0 2 * * *",
    command: str = "/opt/scripts/run.sh",
    labels: dict[str, str] | None = None,
) -> str:
    """Return the YAML of a valid job manifest."""
    label_lines = ""
    if labels:
        label_lines = "  labels:\n" + "".join(f"    {k}: {v}\n" for k, v in labels.items())
    return (
        "apiVersion: crontopus.io/v1\n"
        "kind: Job\n"
        "metadata:\n"
        f"  id: {job_id or uuid.uuid4()}\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        f"{label_lines}"
        "spec:\n"
        f'  schedule: "{schedule}"\n'
        f"  command: {command}\n"
    )


def raw_commit(
    repo: pygit2.Repository,
    files: Mapping[str, bytes | str | None],
    message: str = "edit",
    *,
    update_ref: bool = True,
) -> str:
    """Commit on top of main with plain pygit2, as a person editing by hand (None deletes)."""
    parent = repo.references.get("refs/heads/main")
    parents = [parent.target] if parent is not None else []
    index = pygit2.Index()
    if parents:
        index.read_tree(repo[parents[0]].peel(pygit2.Commit).tree)
    for path, content in files.items():
        if content is None:
            index.remove(path)
        else:
            data = content.encode() if isinstance(content, str) else content
            index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(repo)
    who = pygit2.Signature("Hand Editor", "hand@example.com")
    ref = "refs/heads/main" if update_ref else None
    return str(repo.create_commit(ref, who, who, message, tree, parents))
