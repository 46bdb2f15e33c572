"""Alembic environment for Crontopus; the server passes its own connection in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from crontopus.server.db.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `crontopus-server migrate`, which supplies the engine")
run_migrations(connection)
