"""`runs list|show` and the run filters shared with `runs watch`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.api import Api
from crontopus.cli.errors import UsageFailure, UserFailure
from crontopus.cli.invocation import Invocation, object_id
from crontopus.cli.jobs import duration, resolve_job, run_status
from crontopus.cli.output import Column, column, short_time
from crontopus.cli.pages import collect

RUN_COLUMNS = [
    column("RUN", "id"),
    Column("JOB", lambda run: job_label(run)),
    Column("STATUS", lambda run: run_status(run), coloured=True),
    Column("STARTED", lambda run: short_time(run.get("startedAt"))),
    Column("DURATION", lambda run: duration(run.get("durationMs"))),
    column("EXIT", "exitCode"),
]


def job_label(run: Mapping[str, Any]) -> str:
    """Name a run's job as NAMESPACE/NAME (its id when Git did not know it)."""
    return f"{run.get('namespace') or '?'}/{run.get('jobName') or run['jobId']}"


def parse_instant(text: str, flag: str) -> str:
    """Parse an ISO 8601 time from the command line (naive = UTC) and return it as ISO."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageFailure(
            f"{flag}: {text!r} is not an ISO 8601 time (e.g. 2026-01-31T14:00:00Z)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


async def run_filter(inv: Invocation, api: Api) -> dict[str, Any] | None:
    """Build the API's `RunFilter` from the command's filter flags."""
    wanted: dict[str, Any] = {}
    job = inv.value("job")
    if job:
        wanted["jobId"] = (await resolve_job(api, job))["id"]
    if inv.value("namespace"):
        wanted["namespace"] = inv.value("namespace")
    if inv.value("status"):
        wanted["status"] = inv.value("status")
    if inv.value("endpoint"):
        wanted["endpointId"] = object_id(inv.value("endpoint"), "an endpoint", flag="--endpoint")
    if inv.value("since"):
        wanted["since"] = parse_instant(inv.value("since"), "--since")
    if inv.value("until"):
        wanted["until"] = parse_instant(inv.value("until"), "--until")
    return wanted or None


async def list_runs(inv: Invocation) -> int:
    """List runs newest first, following cursors up to --limit."""
    api = inv.api()
    variables = {"filter": await run_filter(inv, api)}
    limit = inv.value("limit")
    if limit < 1:
        raise UsageFailure(f"--limit: {limit} is not a positive number")
    runs = await collect(api, ops.RUNS, variables, "runs", limit)
    output.listing(inv, RUN_COLUMNS, runs)
    return 0


async def show_run(inv: Invocation) -> int:
    """Show one run and its output tail."""
    run_id = object_id(inv.value("run"), "a run")
    data = await inv.api().execute(ops.RUN, {"id": run_id})
    run = data["run"]
    if run is None:
        raise UserFailure(f"no run with id {run_id}")
    if inv.json:
        output.dump_json(inv, run)
        return 0
    output.fields(
        inv,
        [
            ("run", run["id"]),
            ("job", f"{run.get('namespace') or '?'}/{run.get('jobName') or '?'} ({run['jobId']})"),
            ("status", run["status"]),
            ("exit code", run["exitCode"]),
            ("started", short_time(run["startedAt"])),
            ("finished", short_time(run["finishedAt"])),
            ("duration", duration(run["durationMs"])),
            ("endpoint", run["endpointId"]),
            ("commit", run["commitId"]),
        ],
    )
    if run["unknownJob"]:
        output.note(inv, "note: no job with this id was in Git when the run arrived")
    text = run.get("output") or ""
    truncated = " (truncated: the last 64 KiB)" if run["outputTruncated"] else ""
    print(f"\nOutput{truncated}:", file=inv.out)
    print(text.rstrip("\n") if text else "(none)", file=inv.out)
    return 0
