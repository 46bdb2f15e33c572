"""`incidents list|ack|resolve`."""

from __future__ import annotations

from typing import Any

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.invocation import Invocation, object_id
from crontopus.cli.output import Column, column, short_time
from crontopus.cli.pages import collect

COLUMNS = [
    column("ID", "id"),
    column("STATUS", "status", coloured=True),
    column("RULE", "rule"),
    column("TITLE", "title"),
    Column("JOB", lambda i: f"{i['namespace']}/{i['jobName']}" if i["jobName"] else "-"),
    Column("OPENED", lambda i: short_time(i["openedAt"])),
    Column("BY", lambda i: i["resolvedBy"] or i["acknowledgedBy"] or "-"),
]


async def list_incidents(inv: Invocation) -> int:
    """List incidents, newest first, following cursors up to --limit."""
    wanted: dict[str, Any] = {"status": inv.value("status") or None, "rule": inv.value("rule")}
    variables = {"filter": {k: v for k, v in wanted.items() if v} or None}
    rows = await collect(inv.api(), ops.INCIDENTS, variables, "incidents", inv.value("limit"))
    output.listing(inv, COLUMNS, rows)
    return 0


async def acknowledge_incident(inv: Invocation) -> int:
    """Acknowledge an open incident: someone is on it."""
    return await _change(inv, ops.ACKNOWLEDGE_INCIDENT, "acknowledgeIncident", "Acknowledged")


async def resolve_incident(inv: Invocation) -> int:
    """Resolve an incident by hand."""
    return await _change(inv, ops.RESOLVE_INCIDENT, "resolveIncident", "Resolved")


async def _change(inv: Invocation, document: str, field: str, verb: str) -> int:
    incident_id = object_id(inv.value("incident"), "an incident", ", as `incidents list` shows")
    incident = await inv.api().mutate(document, {"id": incident_id}, field, "Incident")
    if inv.json:
        output.dump_json(inv, incident)
    else:
        output.note(inv, f"{verb} incident {incident['id']} ({incident['title']}).")
    return 0
