"""`jobs validate FILE…`: the server's validator, offline, usable as a pre-commit hook.

Warnings (a secret-looking variable with its value in the manifest) are printed but do not fail
the check, as on `git push`; whether a referenced secret exists needs the server
(`validateManifest`), so it is not checked here.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from crontopus.cli import output
from crontopus.cli.invocation import Invocation
from crontopus.core.errors import ManifestError
from crontopus.core.manifest import (
    JobManifest,
    Problem,
    misplaced_problems,
    parse_manifest,
    path_problems,
    split_manifest_path,
)
from crontopus.core.secrets import manifest_warnings


def repository_root(start: Path) -> Path | None:
    """Return the work tree holding `start` (the nearest directory with a `.git`), if any."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def repository_path(name: str) -> str | None:
    """Return `NAMESPACE/NAME.yaml` when `name` is a manifest's place in a Git work tree.

    The path is taken relative to the repository root, wherever the command runs from and
    however the file is named (`mf/report.yaml`, `./report.yaml`, an absolute path): the
    namespace is the directory below the root, as the push check sees it.
    """
    path = Path(os.path.abspath(name))
    root = repository_root(path.parent)
    if root is None:
        return None
    relative = path.relative_to(root).as_posix()
    return relative if split_manifest_path(relative) is not None else None


def check_file(name: str) -> tuple[JobManifest | None, list[Problem]]:
    """Check one file as the Git push check would; return the manifest and every problem."""
    try:
        data = Path(name).read_bytes()
    except OSError as error:
        return None, [Problem(name, "", f"cannot be read ({error.strerror or error})")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, [Problem(name, "", "is not UTF-8 text: save it as UTF-8")]
    in_repository = repository_path(name)
    file = in_repository or name
    namespace = in_repository.split("/", 1)[0] if in_repository else None
    try:
        manifest = parse_manifest(text, file, namespace=namespace)
    except ManifestError as error:
        found = list(error.problems)
        if in_repository:
            found += misplaced_problems(in_repository, text)
        return None, found
    return manifest, path_problems(file, manifest) if in_repository else []


async def validate_files(inv: Invocation) -> int:
    """Check each file; print every problem; exit 1 when any file has one."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    first_of: dict[uuid.UUID, str] = {}
    files: list[str] = inv.value("files")
    for name in files:
        manifest, found = check_file(name)
        if manifest is not None:
            file = repository_path(name) or name
            if manifest.id in first_of:
                found.append(
                    Problem(
                        file,
                        "metadata.id",
                        f"{manifest.id} is already the id of {first_of[manifest.id]}: give this "
                        "job a fresh UUID (ids are unique per repository)",
                    )
                )
            first_of.setdefault(manifest.id, file)
            warnings.extend(manifest_warnings(manifest, file))
        problems.extend(found)
    bad = len({p.file for p in problems})
    if inv.json:
        output.dump_json(
            inv,
            {
                "valid": not problems,
                "files": len(files),
                "problems": [
                    {"file": p.file, "path": p.path, "message": p.message} for p in problems
                ],
                "warnings": [
                    {"file": w.file, "path": w.path, "message": w.message} for w in warnings
                ],
            },
        )
    for problem in problems:
        print(problem, file=inv.err)
    for warning in warnings:
        print(f"warning: {warning}", file=inv.err)
    if problems:
        output.note(inv, f"{bad} of {len(files)} file{'s' if len(files) != 1 else ''} invalid")
        return 1
    if not inv.json:
        output.note(inv, f"{len(files)} file{'s' if len(files) != 1 else ''} valid")
    return 0
