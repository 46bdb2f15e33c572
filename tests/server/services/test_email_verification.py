"""E-mail verification end to end with a real SMTP server: the sign-up link, the required
mode, and an address change with its notice, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crontopus.server.settings import Settings
from tests.server.conftest import LOGIN, PASSWORD, REGISTER, Api, Persona
from tests.server.mail_fixtures import PUBLIC_URL, mail_settings, mail_sink
from tests.server.smtp_sink import MailSink, bodies, link_in, token_in

__all__ = ["mail_sink"]

ME = "{ me { emailVerificationPending user { email emailVerified } } }"
VERIFY = """
mutation Verify($token: String!) {
  verifyEmail(token: $token) {
    __typename
    ... on EmailVerified { user { username emailVerified } }
    ... on ValidationError { fields { path message } }
  }
}
"""
REGISTER_PENDING = """
mutation Register($username: String!, $email: String!, $password: String!) {
  register(username: $username, email: $email, password: $password) {
    __typename
    ... on VerificationPending { message user { username emailVerified } }
  }
}
"""
CHANGE_EMAIL = """
mutation Change($password: String!, $email: String!) {
  changeEmail(currentPassword: $password, newEmail: $email) {
    __typename
    ... on EmailChanged { verificationSent user { email emailVerified } }
    ... on ValidationError { fields { path message } }
  }
}
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mail_sink: MailSink) -> Settings:
    return mail_settings(database_url, tmp_path, mail_sink)


async def verify(api: Api, token: str) -> dict[str, Any]:
    result: dict[str, Any] = (await api.execute(VERIFY, {"token": token}))["verifyEmail"]
    return result


async def test_the_sign_up_link_verifies_the_address_once(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    before = await api.execute(ME, token=alice.access_token)
    assert before["me"]["emailVerificationPending"] is True
    (mail,) = await mail_sink.wait_for("alice@example.com")
    assert mail["Subject"] == "[Crontopus] Confirm your e-mail address"
    assert link_in(mail).startswith(f"{PUBLIC_URL}/verify-email#token=")
    result = await verify(api, token_in(mail))
    assert result == {
        "__typename": "EmailVerified",
        "user": {"username": "alice", "emailVerified": True},
    }
    after = await api.execute(ME, token=alice.access_token)
    assert after["me"]["emailVerificationPending"] is False
    again = await verify(api, token_in(mail))
    assert "already used" in again["fields"][0]["message"]


async def test_required_verification_holds_the_login_until_the_link_is_followed(
    api: Api, database_url: str, tmp_path: Path, mail_sink: MailSink
) -> None:
    # The fixture's settings say optional; this server object says required.
    from crontopus.server.app import create_app, create_state

    settings = mail_settings(
        database_url, tmp_path, mail_sink, CRONTOPUS_EMAIL_VERIFICATION="required"
    )
    state = create_state(settings)
    await state.start()
    try:
        strict = Api(api.client, app=create_app(settings, state))
        async with strict.client_from("198.51.100.9") as client:
            strict.client = client
            signed_up = await strict.execute(
                REGISTER_PENDING,
                {"username": "dana", "email": "dana@example.com", "password": PASSWORD},
            )
            assert signed_up["register"]["__typename"] == "VerificationPending"
            assert "d***@example.com" in signed_up["register"]["message"]
            refused = await strict.execute(LOGIN, {"username": "dana", "password": PASSWORD})
            assert refused["login"]["__typename"] == "AuthenticationError"
            assert "confirm your e-mail address first" in refused["login"]["message"]
            (mail,) = await mail_sink.wait_for("dana@example.com")
            assert (await verify(strict, token_in(mail)))["__typename"] == "EmailVerified"
            allowed = await strict.execute(LOGIN, {"username": "dana", "password": PASSWORD})
            assert allowed["login"]["__typename"] == "AuthPayload"
    finally:
        await state.stop()


async def test_an_address_change_notifies_the_old_address_and_verifies_the_new(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    (signup,) = await mail_sink.wait_for("alice@example.com")
    await verify(api, token_in(signup))
    changed = await api.execute(
        CHANGE_EMAIL, {"password": PASSWORD, "email": "a.new@example.com"}, alice.access_token
    )
    assert changed["changeEmail"] == {
        "__typename": "EmailChanged",
        "verificationSent": True,
        "user": {"email": "a.new@example.com", "emailVerified": False},
    }
    _, notice = await mail_sink.wait_for("alice@example.com", count=2)
    assert notice["Subject"] == "[Crontopus] Your e-mail address was changed"
    assert "a.new@example.com" in bodies(notice)[0]
    (link,) = await mail_sink.wait_for("a.new@example.com")
    # The sign-up link was for the old address: it no longer verifies anything.
    stale = await verify(api, token_in(signup))
    assert stale["__typename"] == "ValidationError"
    assert (await verify(api, token_in(link)))["__typename"] == "EmailVerified"


async def test_a_taken_address_is_refused(api: Api, alice: Persona, bob: Persona) -> None:
    taken = await api.execute(
        CHANGE_EMAIL, {"password": PASSWORD, "email": "bob@example.com"}, alice.access_token
    )
    assert (
        taken["changeEmail"]["fields"][0]["message"] == "is already registered to another account"
    )


async def test_register_still_answers_a_session_when_verification_is_optional(
    api: Api, mail_sink: MailSink
) -> None:
    data = await api.execute(
        REGISTER, {"username": "erin", "email": "erin@example.com", "password": PASSWORD}
    )
    assert data["register"]["__typename"] == "AuthPayload"
