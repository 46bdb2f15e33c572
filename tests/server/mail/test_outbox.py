"""The mail outbox against a real SMTP server that goes away and comes back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crontopus.server.app import AppState
from crontopus.server.db.models import OutboxMail
from crontopus.server.mail.outbox import backoff, enqueue
from crontopus.server.mail.templates import Letter
from crontopus.server.settings import Settings
from tests.server.mail_fixtures import mail_settings
from tests.server.smtp_sink import MailSink, bodies

LETTER = Letter("[Crontopus] Hello", "Hello in text", "<p>Hello in <b>HTML</b></p>")


@pytest.fixture
def mail_sink() -> MailSink:
    return MailSink()  # not started: the SMTP server is away at first


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mail_sink: MailSink) -> Settings:
    return mail_settings(database_url, tmp_path, mail_sink)


async def queued(state: AppState) -> int:
    async with state.session() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMail)) or 0)


async def test_mail_waits_while_smtp_is_away_and_goes_out_when_it_is_back(
    state: AppState, mail_sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="crontopus.server.mail")
    async with state.session() as session:
        for number in range(3):
            assert enqueue(session, state.settings.mail, f"n{number}@example.com", LETTER)
        await session.commit()
    # Several attempts fail while the server is away (backoff 0.2 s, 0.4 s, ...).
    import asyncio

    await asyncio.sleep(1.0)
    assert await queued(state) == 3
    mail_sink.start()
    try:
        state.mail.wake()
        received = await mail_sink.wait_for("n2@example.com")
        await mail_sink.wait_for("n0@example.com")
        await mail_sink.wait_for("n1@example.com")
    finally:
        mail_sink.stop()
    text, html = bodies(received[0])
    assert (text.strip(), html.strip()) == (LETTER.text, LETTER.html)
    assert received[0]["From"] == "Crontopus <crontopus@example.com>"
    for _ in range(50):
        if await queued(state) == 0:
            break
        await asyncio.sleep(0.05)
    assert await queued(state) == 0, "a sent mail is deleted: its body may hold a live link"
    lines = [r.getMessage() for r in caplog.records if r.name == "crontopus.server.mail"]
    away = [line for line in lines if "queued mail waits" in line]
    assert len(away) == 1, lines  # one line for the outage, not one per mail and attempt
    assert any("answers again" in line for line in lines)


def test_the_wait_between_attempts_doubles_up_to_an_hour(settings: Settings) -> None:
    mail = settings.mail.__class__(retry_backoff=30)
    assert [backoff(mail, n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(mail, 20).total_seconds() == 3600


def test_nothing_is_queued_without_an_smtp_server(tmp_path: Path) -> None:
    plain = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    assert plain.mail.enabled is False
    assert enqueue(None, plain.mail, "x@example.com", LETTER) is False  # type: ignore[arg-type]
