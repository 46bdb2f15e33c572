"""`members invitations|uninvite` against a real server that queues invitation mail."""

from __future__ import annotations

from tests.clients.conftest import Cli, Server, User

# Invitation mail is queued in the database and sent by the mail worker later, so nothing
# needs to listen at this address for `members invite` to succeed.
SERVER_ENV = {
    "CRONTOPUS_SMTP_URL": "smtp://127.0.0.1:9",
    "CRONTOPUS_MAIL_FROM": "Crontopus <crontopus@example.com>",
    "CRONTOPUS_PUBLIC_URL": "https://crontopus.example.com",
}


def test_pending_invitations_are_listed_and_one_is_revoked_by_its_address(
    logged_in: Cli, server: Server, user: User
) -> None:
    for email, role in (("quinn@example.com", "viewer"), ("rosa@example.com", "admin")):
        sent = logged_in("members", "invite", email, "--role", role)
        assert sent.code == 0, sent.err
    listed = logged_in("members", "invitations", "--json")
    assert listed.code == 0, listed.err
    assert [(i["email"], i["role"], i["invitedBy"]) for i in listed.json()] == [
        ("rosa@example.com", "ADMIN", user.username),
        ("quinn@example.com", "VIEWER", user.username),
    ]
    assert set(listed.json()[0]) == {"id", "email", "role", "invitedBy", "createdAt", "expiresAt"}
    table = logged_in("members", "invitations").out
    assert "INVITED BY" in table
    assert "quinn@example.com" in table
    revoked = logged_in("members", "uninvite", "Quinn@Example.com")
    assert revoked.code == 0, revoked.err
    assert "Revoked the invitation to quinn@example.com" in revoked.err
    left = [i["email"] for i in logged_in("members", "invitations", "--json").json()]
    assert left == ["rosa@example.com"]


def test_uninviting_an_address_without_a_pending_invitation_says_how_to_find_them(
    logged_in: Cli,
) -> None:
    missing = logged_in("members", "uninvite", "nobody@example.com")
    assert missing.code == 1
    assert "no pending invitation to nobody@example.com" in missing.err
    assert "crontopus members invitations" in missing.err
