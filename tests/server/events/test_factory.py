"""Choosing the event bus: PostgreSQL's with a PostgreSQL database, unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from crontopus.server.errors import ConfigurationError
from crontopus.server.events.broadcaster import InProcessBroadcaster
from crontopus.server.events.factory import create_broadcaster
from crontopus.server.events.postgres import PostgresBroadcaster, dsn_of
from crontopus.server.settings import EventBus, Settings

POSTGRES = "postgresql://crontopus@db.internal/crontopus"


def settings_of(tmp_path: Path, **environ: str) -> Settings:
    return Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), **environ})


def test_a_sqlite_server_uses_the_in_process_bus(tmp_path: Path) -> None:
    assert isinstance(create_broadcaster(settings_of(tmp_path)), InProcessBroadcaster)


def test_a_postgresql_server_uses_listen_notify(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, CRONTOPUS_DATABASE_URL=POSTGRES)
    assert isinstance(create_broadcaster(settings), PostgresBroadcaster)


def test_a_single_postgresql_server_may_keep_events_in_process(tmp_path: Path) -> None:
    settings = settings_of(
        tmp_path, CRONTOPUS_DATABASE_URL=POSTGRES, CRONTOPUS_EVENT_BUS="inprocess"
    )
    assert settings.event_bus is EventBus.INPROCESS
    assert isinstance(create_broadcaster(settings), InProcessBroadcaster)


def test_the_postgresql_bus_on_sqlite_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CRONTOPUS_EVENT_BUS: postgres needs"):
        settings_of(tmp_path, CRONTOPUS_EVENT_BUS="postgres")
    built = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db",
        secret_key="k" * 40,
        event_bus=EventBus.POSTGRES,
    )
    with pytest.raises(ConfigurationError, match="CRONTOPUS_EVENT_BUS"):
        create_broadcaster(built)


def test_an_unknown_bus_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'redis' is not an event bus.*inprocess or"):
        settings_of(tmp_path, CRONTOPUS_EVENT_BUS="redis")


def test_the_listener_dsn_is_the_database_url_without_the_driver() -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:5432/crontopus?ssl=require"
    assert dsn_of(url) == "postgresql://u:p@127.0.0.1:5432/crontopus?ssl=require"
