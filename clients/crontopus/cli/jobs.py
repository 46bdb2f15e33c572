"""`jobs list|show|create|delete|pause|resume|adopt|history`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from crontopus.cli import manifests, output
from crontopus.cli import operations as ops
from crontopus.cli.api import Api
from crontopus.cli.errors import UsageFailure, UserFailure
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import Column, column, key_values, short_time
from crontopus.cli.pages import collect

JOB_COLUMNS = [
    column("ID", "id"),
    column("NAMESPACE", "namespace"),
    column("NAME", "name"),
    column("STATUS", "status", coloured=True),
    column("SCHEDULE", "schedule"),
    column("TIMEZONE", "timezone"),
    Column("LAST-RUN", lambda job: short_time((job.get("lastRun") or {}).get("startedAt"))),
    Column("NEXT-RUN", lambda job: short_time(job.get("nextRunAt"))),
    column("COMMAND", "command"),
]
RUN_COLUMNS = [
    column("RUN", "id"),
    Column("STATUS", lambda run: run_status(run), coloured=True),
    Column("STARTED", lambda run: short_time(run.get("startedAt"))),
    Column("DURATION", lambda run: duration(run.get("durationMs"))),
    column("EXIT", "exitCode"),
    column("ENDPOINT", "endpointId"),
]


def job_state(job: Mapping[str, Any]) -> str:
    """Say in one word whether a job runs."""
    if job.get("isDiscovered"):
        return "discovered"
    if not job.get("enabled", True):
        return "disabled"
    return "paused" if job.get("paused") else "active"


def run_status(run: Mapping[str, Any]) -> str:
    """A run's status, STUCK for one running far longer than its job normally does."""
    return "STUCK" if run.get("stuck") else str(run.get("status"))


def duration(ms: object) -> str:
    """Render milliseconds as seconds with one decimal."""
    return f"{int(ms) / 1000:.1f}s" if isinstance(ms, int) else "-"


async def resolve_job(api: Api, reference: str) -> dict[str, Any]:
    """Fetch a job by id or by NAMESPACE/NAME; fail naming what was not found."""
    try:
        job_id: uuid.UUID | None = uuid.UUID(reference)
    except ValueError:
        job_id = None
    if job_id is None:
        namespace, slash, name = reference.partition("/")
        if not slash or not namespace or not name or "/" in name:
            raise UsageFailure(
                f"{reference!r} is neither a job id nor NAMESPACE/NAME (e.g. backup/db-dump)"
            )
        data = await api.execute(ops.JOB_BY_NAME, {"namespace": namespace, "name": name})
        job = data["jobByName"]
        if job is None:
            raise UserFailure(f'no job named "{name}" in namespace "{namespace}"')
        return dict(job)
    data = await api.execute(ops.JOB, {"id": str(job_id)})
    if data["job"] is None:
        raise UserFailure(f"no job with id {job_id}")
    return dict(data["job"])


async def list_jobs(inv: Invocation) -> int:
    """List jobs, following cursors up to --limit."""
    labels = manifests.parse_pairs(inv.value("label"), "--label")
    variables = {
        "namespace": inv.value("namespace"),
        "search": inv.value("search"),
        "labels": manifests.pairs(labels) if labels else None,
    }
    jobs = await collect(inv.api(), ops.JOBS, variables, "jobs", inv.value("limit"))
    output.listing(inv, JOB_COLUMNS, jobs)
    return 0


async def show_job(inv: Invocation) -> int:
    """Show a job's manifest, next runs, endpoints and recent runs."""
    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    count = max(1, min(inv.value("count"), 100))
    data = await api.execute(ops.JOB_DETAILS, {"id": job["id"], "count": count})
    details = data["job"]
    if details is None:
        raise UserFailure(f"no job with id {job['id']} (deleted meanwhile)")
    runs = await collect(api, ops.RUNS, {"filter": {"jobId": job["id"]}}, "runs", count)
    endpoints = (await api.execute(ops.JOB_ENDPOINTS, {"id": job["id"]}))["job"]["endpoints"]
    if inv.json:
        output.dump_json(inv, {**details, "endpoints": endpoints, "recentRuns": runs})
        return 0
    output.fields(
        inv,
        [
            ("id", details["id"]),
            ("job", f"{details['namespace']}/{details['name']}"),
            ("status", details["status"]),
            ("state", job_state(details)),
            ("schedule", f"{details['schedule']} ({details['scheduleDescription']})"),
            ("last run", _last_run(details.get("lastRun"))),
            ("next run", short_time(details.get("nextRunAt"))),
            ("check-in", f"POST {details['checkinUrl']}/start, then /<exit code>, ?rid=<uuid>"),
            ("labels", key_values(details["labels"])),
            ("targets", key_values(details["targetLabels"]) if details["targetLabels"] else "all"),
            ("path", details["path"]),
        ],
    )
    print(f"\n# {details['path']}", file=inv.out)
    print(details["yaml"].rstrip("\n"), file=inv.out)
    print("\nNext runs:", file=inv.out)
    for moment in details["nextRuns"]:
        print(f"  {short_time(moment)}", file=inv.out)
    if not details["nextRuns"]:
        print("  (none)", file=inv.out)
    output.section(inv, "Endpoints", ENDPOINT_JOB_COLUMNS, endpoints)
    output.failure_reasons(inv, endpoints, lambda row: str(row["endpoint"]["name"]))
    output.section(inv, "Recent runs", RUN_COLUMNS, runs)
    return 0


def _last_run(run: Mapping[str, Any] | None) -> str:
    if not run:
        return "never"
    return f"{short_time(run.get('startedAt'))} {run.get('status')}"


ENDPOINT_JOB_COLUMNS = [
    Column("ENDPOINT", lambda row: row["endpoint"]["name"]),
    Column("STATUS", lambda row: row["endpoint"]["status"], coloured=True),
    column("STATE", "state"),
    Column("DRIFT", lambda row: (row["driftReason"] or "yes") if row["drift"] else "no"),
    Column("REPORTED", lambda row: short_time(row["reportedAt"])),
]


def _read_file(name: str, inv: Invocation) -> str:
    if name == "-":
        return inv.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserFailure(f"{name}: cannot read the manifest ({error})") from None


def _manifest_from_flags(inv: Invocation) -> Any:
    missing = [
        flag
        for flag, value in (
            ("--name", inv.value("name")),
            ("--schedule", inv.value("schedule")),
            ("--command", inv.value("job_command")),
        )
        if not value
    ]
    if missing:
        raise UsageFailure(f"{', '.join(missing)}: required without -f FILE")
    data = manifests.manifest_data(
        name=inv.value("name"),
        namespace=inv.value("namespace"),
        schedule=inv.value("schedule"),
        command=inv.value("job_command"),
        timezone=inv.value("timezone"),
        args=inv.value("arg"),
        env=manifests.parse_pairs(inv.value("env"), "--env"),
        labels=manifests.parse_pairs(inv.value("label"), "--label"),
        targets=manifests.parse_pairs(inv.value("target"), "--target"),
        timeout=inv.value("timeout"),
        grace_time=inv.value("grace_time"),
        concurrency=inv.value("concurrency"),
        paused=inv.value("paused"),
        enabled=not inv.value("disabled"),
    )
    return manifests.check_fields(data)


async def create_job(inv: Invocation) -> int:
    """Create a job from -f FILE (a whole manifest) or from flags, checked locally first."""
    file = inv.value("file")
    if file:
        given = [flag for flag in ("name", "schedule", "job_command") if inv.value(flag)]
        if given:
            raise UsageFailure("-f FILE: give either a file or --name/--schedule/--command")
        text = _read_file(file, inv)
        manifests.check_manifest(text, "(stdin)" if file == "-" else file, id_optional=True)
        if manifests.has_id(text):
            output.note(inv, "note: metadata.id is ignored: the server assigns a new job id")
        # The manifest travels whole, so every section (alerts, scheduler choices) is saved.
        job = await inv.api().mutate(
            ops.CREATE_JOB_FROM_MANIFEST, {"manifest": text}, "createJob", "Job"
        )
    else:
        manifest = _manifest_from_flags(inv)
        job = await inv.api().mutate(
            ops.CREATE_JOB, {"input": manifests.job_input(manifest)}, "createJob", "Job"
        )
    return _print_job(inv, job, "Created")


def _print_job(inv: Invocation, job: dict[str, Any], verb: str) -> int:
    if inv.json:
        output.dump_json(inv, job)
    else:
        print(job["id"], file=inv.out)
        output.note(inv, f"{verb} job {job['namespace']}/{job['name']} ({job['path']}).")
    return 0


def _confirm(inv: Invocation, question: str, action: str) -> None:
    if inv.value("yes"):
        return
    if not inv.stdin.isatty():
        # A script or a pipe cannot answer: deleting unasked would surprise; refuse instead.
        raise UsageFailure(
            f"standard input is not a terminal, so there is nobody to confirm: pass --yes to "
            f"{action} without asking (nothing was changed)"
        )
    print(f"{question} [y/N] ", end="", file=inv.err, flush=True)
    if inv.stdin.readline().strip().lower() not in ("y", "yes"):
        raise UserFailure("cancelled: nothing was changed")


async def delete_job(inv: Invocation) -> int:
    """Delete a job (asks first on a terminal)."""
    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    _confirm(inv, f"Delete job {job['namespace']}/{job['name']} ({job['id']})?", "delete the job")
    result = await api.mutate(
        ops.DELETE_JOB,
        {"id": job["id"], "expectedBlobId": job["blobId"]},
        "deleteJob",
        "DeleteJobPayload",
    )
    if inv.json:
        output.dump_json(inv, result["job"])
    else:
        output.note(inv, f"Deleted job {job['namespace']}/{job['name']} ({job['id']}).")
    return 0


async def pause_job(inv: Invocation) -> int:
    """Set spec.paused on a job (a commit in the jobs repository)."""
    return await _set_paused(inv, paused=True)


async def resume_job(inv: Invocation) -> int:
    """Clear spec.paused on a job."""
    return await _set_paused(inv, paused=False)


async def _set_paused(inv: Invocation, *, paused: bool) -> int:
    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    label = f"{job['namespace']}/{job['name']}"
    if job["isDiscovered"]:
        raise UserFailure(
            f"{job['path']}: discovered jobs are read-only: "
            f"adopt it first (`crontopus jobs adopt {job['id']} --namespace NS`)"
        )
    if bool(job["paused"]) == paused:
        # Saving the same manifest would add an empty commit; say so and succeed.
        if inv.json:
            output.dump_json(inv, job)
        else:
            output.note(inv, f"Job {label} is already {'paused' if paused else 'active'}.")
        return 0
    manifest = manifests.check_manifest(job["yaml"], job["path"])
    variables = {
        "id": job["id"],
        # Only over the version read: a concurrent edit is refused, not overwritten.
        "expectedBlobId": job["blobId"],
        "input": manifests.job_input(replace(manifest, paused=paused)),
    }
    saved = await api.mutate(ops.UPDATE_JOB, variables, "updateJob", "Job")
    if inv.json:
        output.dump_json(inv, saved)
    else:
        output.note(inv, f"{'Paused' if paused else 'Resumed'} job {label}.")
    return 0


async def run_job(inv: Invocation) -> int:
    """Ask the job's agents (or the named endpoints') to run it once now."""
    from crontopus.cli.fleet import endpoint_named

    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    names = inv.value("endpoint") or []
    endpoint_ids = [(await endpoint_named(inv, name))["id"] for name in names] or None
    variables = {"jobId": job["id"], "endpointIds": endpoint_ids}
    request = await api.mutate(ops.RUN_JOB_NOW, variables, "runJobNow", "RunJobNowPayload")
    if inv.json:
        output.dump_json(inv, request)
        return 0
    asked = ", ".join(e["name"] for e in request["endpoints"])
    output.note(inv, f"Asked {asked} to run {job['namespace']}/{job['name']} now.")
    if request["offline"]:
        offline = ", ".join(e["name"] for e in request["offline"])
        output.note(inv, f"Offline, not asked: {offline}.")
    output.note(inv, f"Follow it with `crontopus runs list --job {job['id']}`.")
    return 0


async def adopt_job(inv: Invocation) -> int:
    """Move a discovered job into a namespace so Crontopus manages it."""
    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    variables = {"id": job["id"], "targetNamespace": inv.value("namespace")}
    adopted = await api.mutate(ops.ADOPT_JOB, variables, "adoptJob", "Job")
    return _print_job(inv, adopted, "Adopted")


async def new_id(inv: Invocation) -> int:
    """Print a fresh job id (a random UUID) for a manifest's metadata.id."""
    print(uuid.uuid4(), file=inv.out)
    return 0


HISTORY_COLUMNS = [
    Column("COMMIT", lambda row: row["commitId"][:12]),
    Column("TIME", lambda row: short_time(row["time"])),
    column("AUTHOR", "authorName"),
    Column("MESSAGE", lambda row: row["message"].splitlines()[0] if row["message"] else "-"),
]


async def history(inv: Invocation) -> int:
    """List the commits that touched a job, newest first."""
    api = inv.api()
    job = await resolve_job(api, inv.value("job"))
    first = max(1, min(inv.value("limit"), 100))
    data = await api.execute(ops.JOB_HISTORY, {"id": job["id"], "first": first})
    output.listing(inv, HISTORY_COLUMNS, data["jobHistory"])
    return 0
