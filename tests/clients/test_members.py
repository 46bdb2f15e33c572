"""`members list|add|remove|role` against a real server, with a second registered user."""

from __future__ import annotations

from tests.clients.conftest import Cli, Server, User, register

MEMBER_KEYS = {"role", "createdAt", "user"}


def test_a_member_is_added_given_another_role_and_removed(
    logged_in: Cli, server: Server, user: User
) -> None:
    dave = register(server, "dave")
    added = logged_in("members", "add", dave.username, "--role", "viewer", "--json")
    assert added.code == 0, added.err
    assert set(added.json()) == MEMBER_KEYS
    listed = logged_in("members", "list", "--json").json()
    assert sorted((m["user"]["username"], m["role"]) for m in listed) == sorted(
        [(user.username, "OWNER"), (dave.username, "VIEWER")]
    )
    promoted = logged_in("members", "role", dave.username, "admin")
    assert promoted.code == 0, promoted.err
    assert f"{dave.username} is now admin" in promoted.err
    assert "ADMIN" in logged_in("members", "list").out
    removed = logged_in("members", "remove", dave.username, "--json")
    assert removed.code == 0, removed.err
    assert removed.json()["username"] == dave.username
    names = [m["user"]["username"] for m in logged_in("members", "list", "--json").json()]
    assert names == [user.username]


def test_member_commands_refuse_clearly(logged_in: Cli, server: Server, user: User) -> None:
    unknown = logged_in("members", "add", "ghost-nobody", "--role", "member")
    assert unknown.code == 1
    assert "register first" in unknown.err
    assert logged_in("members", "add", "x", "--role", "king").code == 2
    assert logged_in("members", "role", "nobody-here", "admin").code == 1
    last = logged_in("members", "role", user.username, "viewer")
    assert (last.code, "last owner" in last.err) == (1, True)


def test_an_invitation_by_address_adds_an_account_that_has_it(
    logged_in: Cli, server: Server, user: User
) -> None:
    erin = register(server, "erin")
    added = logged_in("members", "invite", f"{erin.username}@example.com", "--role", "member")
    assert added.code == 0, added.err
    assert f"{erin.username} has an account with that address and is now a member" in added.err
    # This server sends no mail: someone without an account cannot be invited, and is told why.
    nobody = logged_in("members", "invite", "nobody@example.com", "--role", "member")
    assert nobody.code == 1
    assert "this server sends no mail" in nobody.err
