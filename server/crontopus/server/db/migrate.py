"""Run Alembic migrations from inside the server (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from crontopus.server.db.engine import create_engine


def migrations_dir() -> Path:
    """Locate the Alembic scripts: inside the wheel, or the repository's `migrations/`."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if (packaged / "env.py").exists():
        return packaged
    # Editable install: server/crontopus/server/db/migrate.py -> repository root.
    source = Path(__file__).resolve().parents[4] / "migrations"
    if (source / "env.py").exists():
        return source
    raise FileNotFoundError("Crontopus migrations are missing from this installation")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    await _run(database_url, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrate the database down to `revision`."""
    await _run(database_url, lambda cfg: command.downgrade(cfg, revision))


async def _run(database_url: str, action: object) -> None:
    assert callable(action)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:

            def run(sync_connection: Connection) -> None:
                config = alembic_config(database_url)
                config.attributes["connection"] = sync_connection
                action(config)

            await connection.run_sync(run)
    finally:
        await engine.dispose()
