"""`jobs validate FILE…`: the server's validator, offline, usable as a pre-commit hook."""

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
    parse_manifest,
    path_problems,
    split_manifest_path,
)


def repository_path(name: str) -> str | None:
    """Return `NAMESPACE/NAME.yaml` when `name` is shaped like a path in the jobs repository."""
    if os.path.isabs(name):
        return None
    normal = Path(os.path.normpath(name)).as_posix()
    return normal if split_manifest_path(normal) is not None else None


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
        return None, list(error.problems)
    return manifest, path_problems(file, manifest) if in_repository else []


async def validate_files(inv: Invocation) -> int:
    """Check each file; print every problem; exit 1 when any file has one."""
    problems: list[Problem] = []
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
            },
        )
    for problem in problems:
        print(problem, file=inv.err)
    if problems:
        output.note(inv, f"{bad} of {len(files)} file{'s' if len(files) != 1 else ''} invalid")
        return 1
    if not inv.json:
        output.note(inv, f"{len(files)} file{'s' if len(files) != 1 else ''} valid")
    return 0
