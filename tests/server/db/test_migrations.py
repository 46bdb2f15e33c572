"""Alembic revisions build exactly the models' schema, and downgrade cleanly, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
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


async def test_live_refresh_token_families_become_sessions_on_upgrade(empty_database: str) -> None:
    # The tables as revision 0007 has them (the models have moved on since).
    when = sa.DateTime(timezone=True)
    tenants = sa.table(
        "tenants",
        *(sa.column(n) for n in ("slug", "name")),
        sa.column("id", sa.Uuid()),
        sa.column("created_at", when),
    )
    users = sa.table(
        "users",
        *(sa.column(n) for n in ("username", "email", "password_hash")),
        sa.column("id", sa.Uuid()),
        sa.column("created_at", when),
    )
    refresh = sa.table("refresh_tokens", sa.column("token_hash"),
                       *(sa.column(n, sa.Uuid()) for n in ("id", "tenant_id", "user_id",
                                                           "family_id")),
                       *(sa.column(n, when) for n in ("created_at", "expires_at",
                                                      "revoked_at")))  # fmt: skip
    await upgrade(empty_database, "0007")
    tenant, user, family, dead = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                tenants.insert().values(id=tenant, slug="a", name="a", created_at=now)
            )
            await connection.execute(
                users.insert().values(
                    id=user, username="alice", email="a@example.com", password_hash="x",
                    created_at=now,
                )
            )  # fmt: skip
            # Two links of a live family, and a family that was logged out.
            for family_id, revoked in ((family, None), (family, None), (dead, now)):
                await connection.execute(
                    refresh.insert().values(
                        id=uuid.uuid4(), tenant_id=tenant, user_id=user, family_id=family_id,
                        token_hash=uuid.uuid4().hex, created_at=now,
                        expires_at=now + timedelta(days=30), revoked_at=revoked,
                    )
                )  # fmt: skip
        await upgrade(empty_database)
        sessions = sa.table("user_sessions", *(sa.column(n, sa.Uuid()) for n in ("id", "user_id")))
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.select(sessions.c.id, sessions.c.user_id))).all()
    finally:
        await engine.dispose()
    # Nobody is logged out by the upgrade; what was already ended stays ended.
    assert [tuple(row) for row in rows] == [(family, user)]


async def _endpoint_index(url: str) -> tuple[str, str]:
    """The definition of the runs-by-endpoint index, and the plan of a query by endpoint."""
    engine = create_engine(url)
    query = (
        "SELECT * FROM runs WHERE tenant_id = {t} AND endpoint_id = {e} "
        "ORDER BY started_at DESC, id DESC LIMIT 51"
    )
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                definition = await connection.scalar(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = :name"),
                    {"name": "ix_runs_tenant_endpoint_started"},
                )
                plan = await connection.execute(
                    sa.text("EXPLAIN QUERY PLAN " + query.format(t=":t", e=":e")),
                    {"t": uuid.uuid4().hex, "e": uuid.uuid4().hex},
                )
                return str(definition), str(plan.all())
            definition = await connection.scalar(
                sa.text("SELECT pg_get_indexdef('ix_runs_tenant_endpoint_started'::regclass)")
            )
            # A generic plan (as for a prepared statement), which cannot know the endpoint.
            await connection.execute(sa.text("SET enable_seqscan = off"))
            await connection.execute(sa.text("SET plan_cache_mode = force_generic_plan"))
            await connection.execute(
                sa.text("PREPARE by_endpoint(uuid, uuid) AS " + query.format(t="$1", e="$2"))
            )
            plan = await connection.execute(
                sa.text(f"EXPLAIN EXECUTE by_endpoint('{uuid.uuid4()}', '{uuid.uuid4()}')")
            )
            return str(definition), str(plan.all())
    finally:
        await engine.dispose()


async def test_runs_without_an_endpoint_are_left_out_of_the_endpoint_index(
    empty_database: str,
) -> None:
    await upgrade(empty_database, "0017")
    definition, plan = await _endpoint_index(empty_database)
    assert "NOT NULL" not in definition.upper()
    await upgrade(empty_database)
    definition, plan = await _endpoint_index(empty_database)
    assert "endpoint_id IS NOT NULL" in definition
    # Queries by one endpoint still use it: `endpoint_id = …` implies the index's predicate.
    assert "ix_runs_tenant_endpoint_started" in plan
    await downgrade(empty_database, "0017")
    definition, plan = await _endpoint_index(empty_database)
    assert "NOT NULL" not in definition.upper()
