"""`members list|add|invite|remove|role`."""

from __future__ import annotations

from typing import Any

from crontopus.cli import operations as ops
from crontopus.cli import output
from crontopus.cli.api import unwrap
from crontopus.cli.errors import UserFailure
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import Column, column, short_time

COLUMNS = [
    Column("USER", lambda m: m["user"]["username"]),
    Column("EMAIL", lambda m: m["user"]["email"]),
    column("ROLE", "role"),
    Column("SINCE", lambda m: short_time(m["createdAt"])),
    Column("ID", lambda m: m["user"]["id"]),
]


async def list_members(inv: Invocation) -> int:
    """List the members of the tenant with their roles."""
    data = await inv.api().execute(ops.MEMBERS)
    output.listing(inv, COLUMNS, data["members"])
    return 0


async def add_member(inv: Invocation) -> int:
    """Add a registered user to the tenant with a role."""
    variables = {"username": inv.value("username"), "role": inv.value("role")}
    added = await inv.api().mutate(ops.ADD_MEMBER, variables, "addMember", "Membership")
    if inv.json:
        output.dump_json(inv, added)
    else:
        output.note(inv, f"Added {added['user']['username']} as {added['role'].lower()}.")
    return 0


async def invite_member(inv: Invocation) -> int:
    """Add someone by e-mail address: an account with it joins now, anyone else is mailed."""
    variables = {"email": inv.value("email"), "role": inv.value("role")}
    data = await inv.api().execute(ops.INVITE_MEMBER, variables)
    result = data["inviteMember"]
    if result.get("__typename") != "Invitation":
        result = unwrap(result, "Membership")
    shown = {key: value for key, value in result.items() if key != "__typename"}
    if inv.json:
        output.dump_json(inv, shown)
    elif result["__typename"] == "Invitation":
        output.note(
            inv,
            f"Invited {result['email']} as {result['role'].lower()}: the mailed link works "
            f"once, until {short_time(result['expiresAt'])}.",
        )
    else:
        output.note(
            inv,
            f"{result['user']['username']} has an account with that address and is now a "
            f"member ({result['role'].lower()}).",
        )
    return 0


async def remove_member(inv: Invocation) -> int:
    """Remove a member; their sessions in this tenant end at once."""
    member = await _member(inv, inv.value("username"))
    result = await inv.api().mutate(
        ops.REMOVE_MEMBER, {"userId": member["user"]["id"]}, "removeMember", "RemoveMemberPayload"
    )
    if inv.json:
        output.dump_json(inv, result["user"])
    else:
        output.note(inv, f"Removed {result['user']['username']} from the tenant.")
    return 0


async def change_role(inv: Invocation) -> int:
    """Give a member another role, effective on their next request."""
    member = await _member(inv, inv.value("username"))
    variables = {"userId": member["user"]["id"], "role": inv.value("role")}
    changed = await inv.api().mutate(
        ops.CHANGE_MEMBER_ROLE, variables, "changeMemberRole", "Membership"
    )
    if inv.json:
        output.dump_json(inv, changed)
    else:
        output.note(inv, f"{changed['user']['username']} is now {changed['role'].lower()}.")
    return 0


async def _member(inv: Invocation, username: str) -> dict[str, Any]:
    members = (await inv.api().execute(ops.MEMBERS))["members"]
    wanted = username.strip().lower()
    for member in members:
        if member["user"]["username"] == wanted:
            found: dict[str, Any] = member
            return found
    raise UserFailure(f"{username!r} is not a member of this tenant (`crontopus members list`)")
