"""Choosing the run store for the configured database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from crontopus.server.db.engine import SessionFactory
from crontopus.server.storage.postgres_run_store import PostgresRunStore
from crontopus.server.storage.run_store import RunStore, SessionRunStore
from crontopus.server.storage.sqlite_run_store import SqliteRunStore


def create_run_store(
    engine: AsyncEngine, session: SessionFactory, busy_timeout: float = 30.0
) -> RunStore:
    """The fastest store that is correct for `engine`'s database."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return SqliteRunStore(database, busy_timeout)
    if engine.dialect.name == "postgresql":
        return PostgresRunStore(engine, session)
    return SessionRunStore(session)
