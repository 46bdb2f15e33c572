"""Fixtures for tests of account mail: a running mail sink and settings that send to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from crontopus.server.settings import Settings
from tests.server.smtp_sink import MailSink

PUBLIC_URL = "https://crontopus.example.com"


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()


def mail_settings(database_url: str, tmp_path: Path, sink: MailSink, **env: str) -> Settings:
    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path / "data"),
            "CRONTOPUS_DATABASE_URL": database_url,
            "CRONTOPUS_SMTP_URL": sink.url,
            "CRONTOPUS_MAIL_FROM": "Crontopus <crontopus@example.com>",
            "CRONTOPUS_PUBLIC_URL": PUBLIC_URL,
            **env,
        }
    )
    # Retries a fraction of a second apart, so an outage test takes no minutes.
    mail = dataclasses.replace(settings.mail, retry_backoff=0.2)
    return dataclasses.replace(settings, mail=mail)
