"""Invitations by e-mail end to end with a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crontopus.server.settings import Settings
from tests.server.conftest import PASSWORD, Api, Persona, login
from tests.server.mail_fixtures import PUBLIC_URL, mail_settings, mail_sink
from tests.server.smtp_sink import MailSink, link_in, token_in

__all__ = ["mail_sink"]

INVITE = """
mutation Invite($email: String!, $role: Role!) {
  inviteMember(email: $email, role: $role) {
    __typename
    ... on Invitation { id email role expiresAt }
    ... on Membership { role user { username } }
    ... on ValidationError { fields { path message } }
    ... on UserError { message }
  }
}
"""
ACCEPT = """
mutation Accept($token: String!, $username: String!, $password: String!) {
  acceptInvitation(token: $token, username: $username, password: $password) {
    __typename
    ... on AuthPayload { role tenant { slug } user { username email emailVerified } }
    ... on ValidationError { fields { path message } }
  }
}
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mail_sink: MailSink) -> Settings:
    return mail_settings(database_url, tmp_path, mail_sink, CRONTOPUS_ALLOW_SIGNUP="false")


async def invite(api: Api, who: Persona, email: str, role: str = "MEMBER") -> dict[str, Any]:
    data = await api.execute(INVITE, {"email": email, "role": role}, who.access_token)
    result: dict[str, Any] = data["inviteMember"]
    return result


async def create_user(api: Api, username: str) -> None:
    # Sign-up is off here: people come from the operator's command path.
    from crontopus.server.services.accounts import create_account

    state = api.app.state.crontopus
    async with state.session() as session:
        await create_account(
            session, state.settings.password_policy, username, f"{username}@example.com",
            PASSWORD, state.on_tenant_created,
        )  # fmt: skip
        await session.commit()


@pytest.fixture
async def alice(api: Api) -> Persona:
    await create_user(api, "alice")
    return await login(api, "alice")


async def test_an_invitation_mail_makes_an_account_in_the_inviting_tenant(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    pending = await invite(api, alice, "Frank@Example.com", "ADMIN")
    assert pending["__typename"] == "Invitation"
    assert (pending["email"], pending["role"]) == ("frank@example.com", "ADMIN")
    (mail,) = await mail_sink.wait_for("frank@example.com")
    assert mail["Subject"] == "[Crontopus] alice invites you to alice"
    assert link_in(mail).startswith(f"{PUBLIC_URL}/accept-invitation#token=")
    token = token_in(mail)
    joined = await api.execute(ACCEPT, {"token": token, "username": "frank", "password": PASSWORD})
    assert joined["acceptInvitation"] == {
        "__typename": "AuthPayload",
        "role": "ADMIN",
        "tenant": {"slug": "alice"},
        "user": {"username": "frank", "email": "frank@example.com", "emailVerified": True},
    }
    again = await api.execute(ACCEPT, {"token": token, "username": "frank2", "password": PASSWORD})
    assert "already used" in again["acceptInvitation"]["fields"][0]["message"]


async def test_an_address_with_an_account_is_added_at_once_without_mail(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    await create_user(api, "grace")
    added = await invite(api, alice, "grace@example.com", "VIEWER")
    assert added == {"__typename": "Membership", "role": "VIEWER", "user": {"username": "grace"}}
    assert all(m["To"] != "grace@example.com" for m in mail_sink.messages)


async def test_a_member_cannot_invite(api: Api, alice: Persona, mail_sink: MailSink) -> None:
    await invite(api, alice, "heidi@example.com", "MEMBER")
    (mail,) = await mail_sink.wait_for("heidi@example.com")
    await api.execute(ACCEPT, {"token": token_in(mail), "username": "heidi", "password": PASSWORD})
    heidi = await login(api, "heidi")
    refused = await invite(api, heidi, "ivan@example.com")
    assert refused["__typename"] == "PermissionError"


PENDING = "{ invitations { id email role invitedBy createdAt expiresAt } }"
REVOKE = """
mutation Revoke($id: UUID!) {
  revokeInvitation(id: $id) {
    __typename
    ... on Invitation { email role }
    ... on UserError { message }
  }
}
"""


async def test_pending_invitations_list_who_was_invited_by_whom_without_the_token(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    await invite(api, alice, "judy@example.com", "VIEWER")
    await invite(api, alice, "karl@example.com", "ADMIN")
    body = await api.post(PENDING, None, alice.access_token)
    listed = body["data"]["invitations"]
    assert [(i["email"], i["role"], i["invitedBy"]) for i in listed] == [
        ("karl@example.com", "ADMIN", "alice"),
        ("judy@example.com", "VIEWER", "alice"),
    ]
    assert all(i["createdAt"] < i["expiresAt"] for i in listed)
    (mail,) = await mail_sink.wait_for("judy@example.com")
    assert token_in(mail) not in str(body)


async def test_an_accepted_invitation_is_no_longer_pending(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    await invite(api, alice, "leo@example.com")
    (mail,) = await mail_sink.wait_for("leo@example.com")
    await api.execute(ACCEPT, {"token": token_in(mail), "username": "leo", "password": PASSWORD})
    assert (await api.execute(PENDING, None, alice.access_token))["invitations"] == []


async def test_a_revoked_invitation_link_stops_working_and_the_audit_log_says_who_revoked_it(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    pending = await invite(api, alice, "mallory@example.com", "MEMBER")
    (mail,) = await mail_sink.wait_for("mallory@example.com")
    revoked = await api.execute(REVOKE, {"id": pending["id"]}, alice.access_token)
    assert revoked["revokeInvitation"] == {
        "__typename": "Invitation",
        "email": "mallory@example.com",
        "role": "MEMBER",
    }
    assert (await api.execute(PENDING, None, alice.access_token))["invitations"] == []
    refused = await api.execute(
        ACCEPT, {"token": token_in(mail), "username": "mallory", "password": PASSWORD}
    )
    assert "not a valid link" in refused["acceptInvitation"]["fields"][0]["message"]
    audit = await api.execute(
        "{ auditEvents(first: 10) { edges { node { action actor target details } } } }",
        None,
        alice.access_token,
    )
    (event,) = [
        e["node"] for e in audit["auditEvents"]["edges"] if e["node"]["action"] == "member.uninvite"
    ]
    assert event == {
        "action": "member.uninvite",
        "actor": "alice",
        "target": "email:mallory@example.com",
        "details": {"role": "MEMBER"},
    }
    again = await api.execute(REVOKE, {"id": pending["id"]}, alice.access_token)
    assert again["revokeInvitation"]["__typename"] == "NotFoundError"


async def test_another_tenants_invitation_is_not_found_and_not_listed(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    pending = await invite(api, alice, "nina@example.com")
    await create_user(api, "oscar")
    oscar = await login(api, "oscar")
    assert (await api.execute(PENDING, None, oscar.access_token))["invitations"] == []
    refused = await api.execute(REVOKE, {"id": pending["id"]}, oscar.access_token)
    assert refused["revokeInvitation"]["__typename"] == "NotFoundError"
    still = await api.execute(PENDING, None, alice.access_token)
    assert [i["email"] for i in still["invitations"]] == ["nina@example.com"]


async def test_a_member_can_neither_list_nor_revoke_invitations(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    pending = await invite(api, alice, "olga@example.com")
    await create_user(api, "pat")
    await api.execute(
        'mutation { addMember(username: "pat", role: MEMBER) { __typename } }',
        None,
        alice.access_token,
    )
    pat = await login(api, "pat", tenant="alice")
    error = await api.error_of(PENDING, None, pat.access_token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    refused = await api.execute(REVOKE, {"id": pending["id"]}, pat.access_token)
    assert refused["revokeInvitation"]["__typename"] == "PermissionError"
