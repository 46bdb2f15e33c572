"""`members list|add|invite|invitations|uninvite|remove|role`."""

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


INVITATION_COLUMNS = [
    column("EMAIL", "email"),
    column("ROLE", "role"),
    Column("INVITED BY", lambda i: i["invitedBy"] or "-"),
    Column("SENT", lambda i: short_time(i["createdAt"])),
    Column("EXPIRES", lambda i: short_time(i["expiresAt"])),
]


async def list_invitations(inv: Invocation) -> int:
    """List the tenant's pending invitations (never their tokens)."""
    data = await inv.api().execute(ops.INVITATIONS)
    output.listing(inv, INVITATION_COLUMNS, data["invitations"])
    return 0


async def revoke_invitation(inv: Invocation) -> int:
    """Revoke the pending invitation sent to an address; its link stops working."""
    wanted = inv.value("email").strip().lower()
    pending = (await inv.api().execute(ops.INVITATIONS))["invitations"]
    match = next((i for i in pending if i["email"] == wanted), None)
    if match is None:
        raise UserFailure(
            f"no pending invitation to {wanted} (`crontopus members invitations` lists them)"
        )
    revoked = await inv.api().mutate(
        ops.REVOKE_INVITATION, {"id": match["id"]}, "revokeInvitation", "Invitation"
    )
    if inv.json:
        output.dump_json(inv, revoked)
    else:
        output.note(inv, f"Revoked the invitation to {revoked['email']}; its link no longer works.")
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
