"""`namespaces list|create|delete`."""

from __future__ import annotations

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import column

COLUMNS = [column("NAME", "name"), column("JOBS", "jobCount"), column("SYSTEM", "isSystem")]


async def list_namespaces(inv: Invocation) -> int:
    """List namespaces with their number of jobs."""
    data = await inv.api().execute(ops.NAMESPACES)
    output.listing(inv, COLUMNS, data["namespaces"])
    return 0


async def create_namespace(inv: Invocation) -> int:
    """Create an empty namespace."""
    created = await inv.api().mutate(
        ops.CREATE_NAMESPACE, {"name": inv.value("name")}, "createNamespace", "Namespace"
    )
    if inv.json:
        output.dump_json(inv, created)
    else:
        output.note(inv, f"Created namespace {created['name']}.")
    return 0


async def delete_namespace(inv: Invocation) -> int:
    """Delete an empty namespace."""
    result = await inv.api().mutate(
        ops.DELETE_NAMESPACE,
        {"name": inv.value("name")},
        "deleteNamespace",
        "DeleteNamespacePayload",
    )
    if inv.json:
        output.dump_json(inv, result["namespace"])
    else:
        output.note(inv, f"Deleted namespace {result['namespace']['name']}.")
    return 0
