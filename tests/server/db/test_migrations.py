"""Alembic revisions build exactly the models' schema, and downgrade cleanly, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from crontopus.server.db.engine import create_engine
from crontopus.server.db.migrate import downgrade, migrations_dir, upgrade
from crontopus.server.db.models import Base
from tests.server.conftest import (
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    admin_url = require_postgres()
    name = f"crontopus_migrations_{uuid.uuid4().hex[:10]}"
    url = await create_postgres_database(admin_url, name)
    yield url
    await drop_postgres_database(admin_url, name)


async def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def compare(sync_connection: Connection) -> list[object]:
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                return list(compare_metadata(context, Base.metadata))

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_the_migrated_schema_equals_the_models(empty_database: str) -> None:
    await upgrade(empty_database)
    assert await _differences(empty_database) == []


async def test_downgrade_to_base_and_upgrade_again_works(empty_database: str) -> None:
    await upgrade(empty_database)
    await downgrade(empty_database, "base")
    assert await _tables(empty_database) <= {"alembic_version"}
    await upgrade(empty_database)
    assert await _differences(empty_database) == []


def test_the_migrations_ship_inside_the_server_package_or_the_source_tree() -> None:
    directory = migrations_dir()
    assert (directory / "env.py").exists()
    assert any((directory / "versions").glob("0001_*.py"))
