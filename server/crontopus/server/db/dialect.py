"""The statements whose form differs between SQLite and PostgreSQL, in one place.

Both dialects spell `INSERT … ON CONFLICT` the same way in SQL, but SQLAlchemy builds it from a
dialect-specific `insert`; everything that upserts or skips duplicates gets it from here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(dialect: str, table: Any) -> Any:
    """Return `dialect`'s INSERT (which knows ON CONFLICT) for `table`."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert(session: AsyncSession, table: Any) -> Any:
    """Return the INSERT (which knows ON CONFLICT) of the session's database for `table`."""
    return insert_for(session.get_bind().dialect.name, table)


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"
