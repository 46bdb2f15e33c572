"""`health jobs|endpoints`: success rates from the server's hourly rollups."""

from __future__ import annotations

from typing import Any

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import Column, column, short_time

WINDOW_NAMES = {"24h": "H24", "7d": "D7", "30d": "D30", "90d": "D90"}


def _rate(figures: dict[str, Any]) -> str:
    rate = figures.get("successRate")
    return "-" if rate is None else f"{rate * 100:.1f}%"


FIGURE_COLUMNS = [
    Column("HEALTH", lambda row: row["figures"]["health"], coloured=True),
    Column("RUNS", lambda row: row["figures"]["runs"]),
    Column("FAILURES", lambda row: row["figures"]["failures"]),
    Column("SUCCESS", lambda row: _rate(row["figures"])),
    Column("LAST RUN", lambda row: short_time(row["figures"]["lastRunAt"])),
]
JOB_COLUMNS = [
    column("JOB", "jobId"),
    Column("NAME", lambda row: f"{row['namespace'] or '?'}/{row['jobName'] or '?'}"),
    Column("STATUS", lambda row: row.get("status") or "-", coloured=True),
    *FIGURE_COLUMNS,
]
ENDPOINT_COLUMNS = [column("ENDPOINT", "endpointId"), column("NAME", "name"), *FIGURE_COLUMNS]


async def job_health(inv: Invocation) -> int:
    """Show every job's health over a window."""
    wanted = {
        "namespace": inv.value("namespace"),
        "health": inv.value("status"),
    }
    variables = {
        "window": WINDOW_NAMES[inv.value("window")],
        "filter": {k: v for k, v in wanted.items() if v} or None,
    }
    data = await inv.api().execute(ops.JOB_HEALTH, variables)
    output.listing(inv, JOB_COLUMNS, data["jobHealth"])
    return 0


async def endpoint_health(inv: Invocation) -> int:
    """Show every endpoint's health over a window."""
    variables = {"window": WINDOW_NAMES[inv.value("window")]}
    data = await inv.api().execute(ops.ENDPOINT_HEALTH, variables)
    output.listing(inv, ENDPOINT_COLUMNS, data["endpointHealth"])
    return 0
