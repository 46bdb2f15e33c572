"""Forgotten passwords end to end: the request, the mail from a real SMTP server, its link
followed through the GraphQL API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from crontopus.server.app import AppState
from crontopus.server.db.models import AccountToken
from crontopus.server.settings import Settings
from tests.server.conftest import LOGIN, PASSWORD, Api, Persona, login
from tests.server.mail_fixtures import PUBLIC_URL, mail_settings, mail_sink
from tests.server.smtp_sink import MailSink, bodies, link_in, token_in

__all__ = ["mail_sink"]

NEW_PASSWORD = "a brand new passphrase"
REQUEST = """
mutation Request($email: String!) {
  requestPasswordReset(email: $email) {
    __typename
    ... on PasswordResetRequested { message mailEnabled }
    ... on RateLimitedError { retryAfterSeconds }
  }
}
"""
RESET = """
mutation Reset($token: String!, $password: String!) {
  resetPassword(token: $token, newPassword: $password) {
    __typename
    ... on PasswordReset { endedSessions user { username emailVerified } }
    ... on ValidationError { fields { path message } }
  }
}
"""
ME = "{ me { user { username } } }"
RESET_SUBJECT = "[Crontopus] Reset your password"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mail_sink: MailSink) -> Settings:
    return mail_settings(database_url, tmp_path, mail_sink)


async def request_reset(api: Api, address: str) -> dict[str, Any]:
    data = await api.execute(REQUEST, {"email": address})
    result: dict[str, Any] = data["requestPasswordReset"]
    return result


async def reset(api: Api, token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    data = await api.execute(RESET, {"token": token, "password": password})
    result: dict[str, Any] = data["resetPassword"]
    return result


async def reset_mail(sink: MailSink, to: str = "alice@example.com") -> Any:
    await sink.wait_for(to)
    for _ in range(100):
        found = [m for m in sink.messages if m["To"] == to and m["Subject"] == RESET_SUBJECT]
        if found:
            return found[-1]
        import asyncio

        await asyncio.sleep(0.05)
    raise AssertionError(f"no reset mail: {sink.subjects}")


async def test_the_mailed_link_sets_a_new_password_and_ends_every_session(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    other = await login(api, "alice")
    answer = await request_reset(api, "Alice@Example.com")
    assert answer["__typename"] == "PasswordResetRequested"
    assert answer["mailEnabled"] is True
    mail = await reset_mail(mail_sink)
    assert mail["From"] == "Crontopus <crontopus@example.com>"
    link = link_in(mail)
    assert link.startswith(f"{PUBLIC_URL}/reset-password#token=cta_")
    text, html = bodies(mail)
    assert "60 minutes" in text
    assert "<a href=" in html

    result = await reset(api, token_in(mail))
    assert result["__typename"] == "PasswordReset", result
    assert result["endedSessions"] == 2
    assert result["user"] == {"username": "alice", "emailVerified": True}
    for session in (alice, other):
        error = await api.error_of(ME, token=session.access_token)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    old = await api.execute(LOGIN, {"username": "alice", "password": PASSWORD})
    assert old["login"]["__typename"] == "AuthenticationError"
    new = await api.execute(LOGIN, {"username": "alice", "password": NEW_PASSWORD})
    assert new["login"]["__typename"] == "AuthPayload"
    (notice,) = [m for m in mail_sink.messages if "password was changed" in m["Subject"]]
    assert "reset with a mailed link" in bodies(notice)[0]


async def test_a_link_works_once_and_not_after_it_expires(
    api: Api, state: AppState, alice: Persona, mail_sink: MailSink
) -> None:
    await request_reset(api, "alice@example.com")
    token = token_in(await reset_mail(mail_sink))
    assert (await reset(api, token))["__typename"] == "PasswordReset"
    again = await reset(api, token, "yet another passphrase")
    assert again["__typename"] == "ValidationError"
    assert "already used" in again["fields"][0]["message"]

    mail_sink.messages.clear()
    async with state.session() as session:  # the pause between two links to one account
        await session.execute(
            update(AccountToken).values(created_at=datetime.now(UTC) - timedelta(minutes=5))
        )
        await session.commit()
    await request_reset(api, "alice@example.com")
    token = token_in(await reset_mail(mail_sink))
    async with state.session() as session:
        await session.execute(
            update(AccountToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    expired = await reset(api, token)
    assert expired["__typename"] == "ValidationError"
    assert "expired" in expired["fields"][0]["message"]


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    known = await request_reset(api, "alice@example.com")
    unknown = await request_reset(api, "nobody@example.com")
    assert unknown == known
    await reset_mail(mail_sink)
    assert all(m["To"] != "nobody@example.com" for m in mail_sink.messages)


async def test_a_password_the_policy_refuses_does_not_spend_the_link(
    api: Api, alice: Persona, mail_sink: MailSink
) -> None:
    await request_reset(api, "alice@example.com")
    token = token_in(await reset_mail(mail_sink))
    short = await reset(api, token, "short")
    assert short["__typename"] == "ValidationError"
    assert short["fields"][0]["path"] == ["newPassword"]
    assert (await reset(api, token))["__typename"] == "PasswordReset"


async def test_a_forged_token_is_refused(api: Api, alice: Persona) -> None:
    result = await reset(api, "cta_not-a-real-token")
    assert result["__typename"] == "ValidationError"
    assert "copy the whole link" in result["fields"][0]["message"]


async def test_reset_requests_are_rate_limited_per_client_address(api: Api, alice: Persona) -> None:
    answers = [await request_reset(api, f"n{i}@example.com") for i in range(6)]
    assert [a["__typename"] for a in answers[:5]] == ["PasswordResetRequested"] * 5
    assert answers[5]["__typename"] == "RateLimitedError"
