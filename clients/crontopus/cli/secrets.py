"""`secrets list|set|delete`: values jobs take at run time instead of from Git.

A value is read from standard input or a file, never from the command line, where process
lists and shell history would keep it.
"""

from __future__ import annotations

from pathlib import Path

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.errors import UsageFailure
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import Column, column, short_time

COLUMNS = [
    column("NAME", "name"),
    Column("UPDATED", lambda s: short_time(s["updatedAt"])),
    column("BY", "updatedBy"),
    Column("CREATED", lambda s: short_time(s["createdAt"])),
]


async def list_secrets(inv: Invocation) -> int:
    """List the tenant's secrets by name (values are never shown)."""
    data = await inv.api().execute(ops.SECRETS)
    output.listing(inv, COLUMNS, data["secrets"])
    return 0


def read_value(inv: Invocation) -> str:
    """Return the value from --from-file or standard input (one trailing newline dropped)."""
    source: str | None = inv.value("from_file")
    if source is not None:
        try:
            text = Path(source).read_bytes().decode("utf-8")
        except OSError as error:
            raise UsageFailure(
                f"--from-file: cannot read {source} ({error.strerror or error})"
            ) from None
        except UnicodeDecodeError:
            raise UsageFailure(f"--from-file: {source} is not UTF-8 text") from None
        return text
    if inv.stdin.isatty():
        raise UsageFailure(
            'pipe the value in on standard input (printf %s "$VALUE" | crontopus secrets set '
            "NAME) or pass --from-file PATH; values are never taken from the command line"
        )
    text = inv.stdin.read()
    # `echo value |` adds a newline nobody meant as part of the secret.
    return text[:-1] if text.endswith("\n") else text


async def set_secret(inv: Invocation) -> int:
    """Create a secret or replace its value."""
    name: str = inv.value("name")
    value = read_value(inv)
    if not value:
        raise UsageFailure("the value is empty: pipe it in or name a file with --from-file")
    secret = await inv.api().mutate(
        ops.SET_SECRET, {"name": name, "value": value}, "setSecret", "Secret"
    )
    if inv.json:
        output.dump_json(inv, secret)
    else:
        output.note(
            inv,
            f"Set secret {secret['name']}; jobs referencing it (secretRef: {secret['name']}) "
            "get the value from their next run.",
        )
    return 0


async def delete_secret(inv: Invocation) -> int:
    """Delete a secret."""
    deleted = await inv.api().mutate(
        ops.DELETE_SECRET, {"name": inv.value("name")}, "deleteSecret", "DeleteSecretPayload"
    )
    if inv.json:
        output.dump_json(inv, deleted["secret"])
    else:
        output.note(inv, f"Deleted secret {deleted['secret']['name']}.")
    return 0
