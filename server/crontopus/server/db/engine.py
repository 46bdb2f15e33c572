"""Engines and session factories for SQLite and PostgreSQL."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(database_url: str, *, timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL, foreign keys and a busy timeout.

    `timeout` bounds every wait on the database (a connection, a lock, SQLite's busy wait), so
    a request meets a held lock or an unreachable server as an error within that many seconds
    instead of hanging; the server passes CRONTOPUS_DATABASE_TIMEOUT, migrations wait longer.
    """
    # Errors never quote statement parameters: they may reach a log line or a message
    # about one tenant's request while holding another tenant's values.
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        wait = timeout if timeout is not None else 30.0
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": wait},
            pool_size=8,
            max_overflow=8,
            pool_timeout=wait,
            **kwargs,
        )
        event.listen(engine.sync_engine, "connect", partial(_configure_sqlite, wait))
        return engine
    if timeout is None:
        return create_async_engine(database_url, pool_size=10, max_overflow=10, **kwargs)
    connect_args = {
        "timeout": timeout,
        # A lock held elsewhere fails the statement after `timeout` (SQLSTATE 55P03).
        "server_settings": {"lock_timeout": str(round(timeout * 1000))},
    }
    return create_async_engine(
        database_url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        connect_args=connect_args,
        **kwargs,
    )


def _configure_sqlite(
    busy_seconds: float, dbapi_connection: Any, _record: ConnectionPoolEntry
) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed during a write. FULL sync: an answered check-in must survive
    # a power cut; group commit (one transaction per batch) keeps the fsync cost low.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={round(busy_seconds * 1000)}")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Return a factory of short-lived sessions; every resolver opens its own."""
    return async_sessionmaker(engine, expire_on_commit=False)
