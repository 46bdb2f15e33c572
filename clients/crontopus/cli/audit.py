"""`audit`: the tenant's audit log, newest first."""

from __future__ import annotations

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import Column, column, short_time
from crontopus.cli.pages import collect

COLUMNS = [
    Column("TIME", lambda event: short_time(event["createdAt"])),
    column("ACTOR", "actor"),
    column("ACTION", "action"),
    column("TARGET", "target"),
]


async def show(inv: Invocation) -> int:
    """List audit events, following cursors up to --limit; filters run on the server."""
    wanted = {name: inv.value(name) for name in ("action", "actor", "search")}
    variables = {"filter": {k: v for k, v in wanted.items() if v is not None}}
    events = await collect(
        inv.api(), ops.AUDIT_EVENTS, variables, "auditEvents", inv.value("limit")
    )
    output.listing(inv, COLUMNS, events)
    return 0
