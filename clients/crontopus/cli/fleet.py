"""`endpoints list|show|revoke|label` and `enrollment-tokens list|create|revoke`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crontopus.cli import manifests, output
from crontopus.cli import operations as ops
from crontopus.cli.errors import UsageFailure, UserFailure
from crontopus.cli.invocation import Invocation, object_id
from crontopus.cli.output import Column, column, key_values, short_time, token_state
from crontopus.cli.pages import collect
from crontopus.cli.tokens import token_id

ENDPOINT_COLUMNS = [
    column("ID", "id"),
    column("NAME", "name"),
    column("STATUS", "status", coloured=True),
    column("PLATFORM", "platform"),
    column("DRIVER", "driver"),
    Column("LABELS", lambda e: key_values(e["labels"])),
    Column("LAST SEEN", lambda e: short_time(e["lastSeenAt"])),
    column("AGENT", "agentVersion"),
]
ENDPOINT_JOB_COLUMNS = [
    column("JOB", "jobId"),
    Column("NAME", lambda r: f"{r['job']['namespace']}/{r['job']['name']}" if r["job"] else "-"),
    column("STATE", "state", coloured=True),
    column("DRIVER", "driver"),
    Column("DRIFT", lambda r: (r["driftReason"] or "yes") if r["drift"] else "no"),
    Column("REPORTED", lambda r: short_time(r["reportedAt"])),
]
ENROLLMENT_COLUMNS = [
    column("ID", "id"),
    column("NAME", "name"),
    Column("TOKEN", lambda t: f"…{t['hint']}"),
    Column("USES", lambda t: f"{t['useCount']}/{t['maxUses'] if t['maxUses'] else '∞'}"),
    column("CREATED BY", "createdBy"),
    Column("EXPIRES", lambda t: short_time(t["expiresAt"])),
    Column("STATE", token_state, coloured=True),
]


async def list_endpoints(inv: Invocation) -> int:
    """List endpoints by name, following cursors up to --limit."""
    labels = manifests.parse_pairs(inv.value("label"), "--label")
    wanted: dict[str, Any] = {
        "status": inv.value("status"),
        "search": inv.value("search"),
        "label": manifests.pairs(labels) if labels else None,
    }
    variables = {"filter": {k: v for k, v in wanted.items() if v} or None}
    rows = await collect(inv.api(), ops.ENDPOINTS, variables, "endpoints", inv.value("limit"))
    output.listing(inv, ENDPOINT_COLUMNS, rows)
    return 0


async def show_endpoint(inv: Invocation) -> int:
    """Show an endpoint and the jobs it holds or should hold."""
    endpoint_id = object_id(inv.value("endpoint"), "an endpoint", ", as `endpoints list` shows")
    data = await inv.api().execute(ops.ENDPOINT, {"id": endpoint_id})
    endpoint = data["endpoint"]
    if endpoint is None:
        raise UserFailure(f"no endpoint with id {endpoint_id}")
    if inv.json:
        output.dump_json(inv, endpoint)
        return 0
    output.fields(
        inv,
        [
            ("id", endpoint["id"]),
            ("name", endpoint["name"]),
            ("status", endpoint["status"]),
            ("hostname", endpoint["hostname"]),
            ("platform", endpoint["platform"]),
            ("agent", endpoint["agentVersion"]),
            ("driver", f"{endpoint['driver'] or '-'} (has {', '.join(endpoint['drivers'])})"),
            ("labels", key_values(endpoint["labels"])),
            ("enrolled", short_time(endpoint["enrolledAt"])),
            ("last seen", short_time(endpoint["lastSeenAt"])),
            ("applied commit", endpoint["appliedCommit"]),
        ],
    )
    output.section(inv, "Jobs", ENDPOINT_JOB_COLUMNS, endpoint["jobs"])
    output.failure_reasons(inv, endpoint["jobs"], _job_label)
    return 0


def _job_label(row: Mapping[str, Any]) -> str:
    job = row["job"]
    return f"{job['namespace']}/{job['name']}" if job else str(row["jobId"])


async def revoke_endpoint(inv: Invocation) -> int:
    """Revoke an endpoint's token; its agent stops being able to report."""
    variables = {"id": object_id(inv.value("endpoint"), "an endpoint")}
    revoked = await inv.api().mutate(ops.REVOKE_ENDPOINT, variables, "revokeEndpoint", "Endpoint")
    if inv.json:
        output.dump_json(inv, revoked)
    else:
        output.note(inv, f"Revoked endpoint {revoked['name']} ({revoked['id']}).")
    return 0


async def label_endpoint(inv: Invocation) -> int:
    """Set and remove labels of one endpoint, keeping the others."""
    from crontopus.core.labels import label_key_problem, label_value_problem

    setting = manifests.parse_pairs(inv.value("labels"), "K=V")
    removing = list(inv.value("remove"))
    if not setting and not removing:
        raise UsageFailure("give labels to set (K=V) or to remove (--remove K)")
    # Checked here with the server's rules, so a typo exits 2 before anything is sent.
    for key, value in setting.items():
        if problem := label_key_problem(key) or label_value_problem(value):
            raise UsageFailure(f"label {key}={value}: {problem}")
        if key in removing:
            raise UsageFailure(f"label {key} is both set and removed: give it once")
    for key in removing:
        if problem := label_key_problem(key):
            raise UsageFailure(f"--remove {key}: {problem}")
    endpoint = await endpoint_named(inv, inv.value("endpoint"))
    labels = {item["key"]: item["value"] for item in endpoint["labels"]}
    missing = [key for key in removing if key not in labels]
    if missing:
        raise UserFailure(
            f"endpoint {endpoint['name']} has no label {', '.join(missing)} to remove "
            f"(it has: {key_values(endpoint['labels'])})"
        )
    labels = {k: v for k, v in labels.items() if k not in removing} | setting
    variables = {"id": endpoint["id"], "labels": manifests.pairs(labels)}
    updated = await inv.api().mutate(ops.UPDATE_ENDPOINT, variables, "updateEndpoint", "Endpoint")
    if inv.json:
        output.dump_json(inv, updated)
    else:
        output.note(inv, f"Labels of endpoint {updated['name']}: {key_values(updated['labels'])}.")
    return 0


async def endpoint_named(inv: Invocation, name: str) -> dict[str, Any]:
    """Return the endpoint with this exact name (or id); refuse an unknown or ambiguous one."""
    try:
        endpoint_id = object_id(name, "an endpoint")
    except UsageFailure:
        variables = {"filter": {"search": name}}
        found = await collect(inv.api(), ops.ENDPOINTS, variables, "endpoints", 1000)
        named = [e for e in found if e["name"] == name]
        if not named:
            raise UserFailure(
                f"no endpoint named {name!r} (`crontopus endpoints list` shows them)"
            ) from None
        if len(named) > 1:
            ids = ", ".join(e["id"] for e in named)
            raise UserFailure(
                f"{len(named)} endpoints are named {name!r}: give one of their ids ({ids})"
            ) from None
        return named[0]
    data = await inv.api().execute(ops.ENDPOINT, {"id": endpoint_id})
    if data["endpoint"] is None:
        raise UserFailure(f"no endpoint with id {endpoint_id}")
    endpoint: dict[str, Any] = data["endpoint"]
    return endpoint


async def list_enrollment_tokens(inv: Invocation) -> int:
    """List the tenant's enrollment tokens."""
    data = await inv.api().execute(ops.ENROLLMENT_TOKENS)
    output.listing(inv, ENROLLMENT_COLUMNS, data["enrollmentTokens"])
    return 0


async def create_enrollment_token(inv: Invocation) -> int:
    """Create an enrollment token and print its secret (shown once)."""
    variables = {
        "name": inv.value("name"),
        "expiresInDays": inv.value("expires_in_days"),
        "maxUses": inv.value("max_uses"),
    }
    created = await inv.api().mutate(
        ops.CREATE_ENROLLMENT_TOKEN, variables, "createEnrollmentToken", "CreatedEnrollmentToken"
    )
    if inv.json:
        output.dump_json(inv, created)
        return 0
    print(created["plaintext"], file=inv.out)
    output.note(
        inv,
        f"Created enrollment token {created['token']['name']} ({created['token']['id']}); "
        "copy it now: it is not shown again. Enroll with "
        "`crontopus-agent enroll --server URL --token TOKEN`.",
    )
    return 0


async def revoke_enrollment_token(inv: Invocation) -> int:
    """Revoke an enrollment token; endpoints already enrolled keep working."""
    variables = {"id": token_id(inv.value("token"), "enrollment-tokens list")}
    revoked = await inv.api().mutate(
        ops.REVOKE_ENROLLMENT_TOKEN, variables, "revokeEnrollmentToken", "EnrollmentToken"
    )
    if inv.json:
        output.dump_json(inv, revoked)
    else:
        output.note(inv, f"Revoked enrollment token {revoked['name']} ({revoked['id']}).")
    return 0
