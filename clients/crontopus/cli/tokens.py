"""`tokens list|create|revoke`: personal API tokens."""

from __future__ import annotations

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.invocation import Invocation, object_id
from crontopus.cli.output import Column, column, short_time, token_state

COLUMNS = [
    column("ID", "id"),
    column("NAME", "name"),
    Column("TOKEN", lambda t: f"…{t['hint']}"),
    Column("SCOPES", lambda t: ",".join(s.lower() for s in t["scopes"])),
    Column("CREATED", lambda t: short_time(t["createdAt"])),
    Column("EXPIRES", lambda t: short_time(t["expiresAt"])),
    Column("LAST USED", lambda t: short_time(t["lastUsedAt"])),
    Column("STATE", token_state, coloured=True),
]


def token_id(text: str, listing: str = "tokens list") -> str:
    """Check a token id given on the command line (people paste the secret by mistake)."""
    return object_id(text, "a token", f", as `{listing}` shows; not the secret")


async def list_tokens(inv: Invocation) -> int:
    """List your API tokens in the active tenant."""
    data = await inv.api().execute(ops.API_TOKENS)
    output.listing(inv, COLUMNS, data["apiTokens"])
    return 0


async def create_token(inv: Invocation) -> int:
    """Create an API token and print its secret (shown once)."""
    scopes = [scope.upper() for scope in inv.value("scope") or ["read"]]
    variables = {
        "name": inv.value("name"),
        "scopes": sorted(set(scopes)),
        "expiresInDays": inv.value("expires_in_days"),
    }
    created = await inv.api().mutate(
        ops.CREATE_API_TOKEN, variables, "createApiToken", "CreatedApiToken"
    )
    if inv.json:
        output.dump_json(inv, created)
        return 0
    print(created["plaintext"], file=inv.out)
    output.note(
        inv,
        f"Created API token {created['token']['name']} ({created['token']['id']}); "
        "copy it now: it is not shown again.",
    )
    return 0


async def revoke_token(inv: Invocation) -> int:
    """Revoke an API token."""
    revoked = await inv.api().mutate(
        ops.REVOKE_API_TOKEN, {"id": token_id(inv.value("token"))}, "revokeApiToken", "ApiToken"
    )
    if inv.json:
        output.dump_json(inv, revoked)
    else:
        output.note(inv, f"Revoked API token {revoked['name']} ({revoked['id']}).")
    return 0
