"""`jobs edit`: the manifest in $EDITOR, checked locally, saved only over the version opened."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import uuid
from pathlib import Path

from crontopus.cli import manifests, output
from crontopus.cli import operations as ops
from crontopus.cli.errors import ConflictFailure, UsageFailure, UserFailure, report
from crontopus.cli.invocation import Invocation
from crontopus.cli.jobs import resolve_job
from crontopus.core.manifest import JobManifest


def editor_command(inv: Invocation) -> list[str]:
    """Return the editor to run: $VISUAL, then $EDITOR, then vi."""
    text = inv.env.get("VISUAL") or inv.env.get("EDITOR") or "vi"
    command = shlex.split(text)
    if not command:
        raise UsageFailure("EDITOR is empty: set EDITOR (or VISUAL) to your editor, e.g. nano")
    return command


def _run_editor(inv: Invocation, path: Path) -> str:
    command = [*editor_command(inv), str(path)]
    try:
        # The user's own editor, from their own environment: running it is the point.
        finished = subprocess.run(command, check=False, env=dict(inv.env))  # noqa: S603
    except OSError as error:
        raise UsageFailure(
            f"cannot start the editor {command[0]!r} ({error}): set EDITOR or VISUAL"
        ) from None
    if finished.returncode != 0:
        raise UserFailure(
            f"the editor {command[0]!r} exited with {finished.returncode}: nothing was saved"
        )
    return path.read_text(encoding="utf-8")


def _check(text: str, file: str, job_id: uuid.UUID) -> JobManifest:
    manifest = manifests.check_manifest(text, file)
    if manifest.id != job_id:
        raise UserFailure(
            f"{file}: metadata.id: the id is immutable: put back {job_id} "
            "(create a new job with `crontopus jobs create` instead)"
        )
    return manifest


def _again(inv: Invocation) -> bool:
    if not inv.stdin.isatty():
        return False
    print("Edit again? [Y/n] ", end="", file=inv.err, flush=True)
    return inv.stdin.readline().strip().lower() in ("", "y", "yes")


def _keep(text: str) -> Path:
    with tempfile.NamedTemporaryFile(
        "w", prefix="crontopus-edit-", suffix=".yaml", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
    return Path(handle.name)


async def edit_job(inv: Invocation) -> int:
    """Edit a job's manifest in the user's editor and save it over the version opened."""
    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    if job["isDiscovered"]:
        raise UserFailure(
            f"{job['path']}: discovered jobs are read-only: "
            f"adopt it first (`crontopus jobs adopt {job['id']} --namespace NS`)"
        )
    original: str = job["yaml"]
    job_id = uuid.UUID(job["id"])
    with tempfile.TemporaryDirectory(prefix="crontopus-") as directory:
        path = Path(directory) / Path(job["path"]).name
        text = original
        while True:
            path.write_text(text, encoding="utf-8")
            text = _run_editor(inv, path)
            if text == original:
                output.note(inv, "No changes: nothing was saved.")
                return 0
            try:
                _check(text, job["path"], job_id)
                break
            except UserFailure as problem:
                report(problem, inv.err)
                if not _again(inv):
                    kept = _keep(text)
                    raise UserFailure(f"nothing was saved; your edit is kept in {kept}") from None
    # The manifest travels whole, so every section the editor changed is saved.
    variables = {"id": job["id"], "expectedBlobId": job["blobId"], "manifest": text}
    try:
        saved = await api.mutate(ops.UPDATE_JOB_FROM_MANIFEST, variables, "updateJob", "Job")
    except ConflictFailure as conflict:
        kept = _keep(text)
        raise ConflictFailure(
            f"{conflict.message}: the job changed on the server since you opened it, so "
            f"nothing was overwritten; your edit is kept in {kept}: run `crontopus jobs edit "
            f"{job['id']}` again and carry it over",
            conflict.details,
        ) from None
    if inv.json:
        output.dump_json(inv, saved)
    else:
        output.note(inv, f"Saved job {saved['namespace']}/{saved['name']} ({saved['path']}).")
    return 0
