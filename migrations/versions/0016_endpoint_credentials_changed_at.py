"""endpoint credentials changed at: when an endpoint's token, labels or revocation last changed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:00:00.000000

A server re-checks the credentials of its agents' channel sockets every few seconds. Reading
every connected endpoint's row each time cost a server with ten thousand agents several
percent of a core; with this column it reads only the rows changed since its last look.

The column is stamped by a trigger, with the database's clock, whenever `token_hash`, `labels`
or `revoked_at` change: every writer is covered (another server process, an older release, a
hand-written UPDATE), and the readers compare it with the same clock.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite stores timestamps as text in SQLAlchemy's format (microseconds, six digits): the
# trigger writes the same format, so text comparison orders them.
SQLITE_TRIGGER = """
CREATE TRIGGER endpoints_credentials_changed
AFTER UPDATE OF token_hash, labels, revoked_at ON endpoints
FOR EACH ROW
WHEN OLD.token_hash IS NOT NEW.token_hash
  OR OLD.labels IS NOT NEW.labels
  OR OLD.revoked_at IS NOT NEW.revoked_at
BEGIN
  UPDATE endpoints SET credentials_changed_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')
  WHERE id = NEW.id;
END
"""

# `labels` is json, which has no equality operator: compared as text.
POSTGRES_FUNCTION = """
CREATE FUNCTION endpoints_credentials_changed() RETURNS trigger AS $$
BEGIN
  IF NEW.token_hash IS DISTINCT FROM OLD.token_hash
     OR NEW.labels::text IS DISTINCT FROM OLD.labels::text
     OR NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    NEW.credentials_changed_at := now();
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER endpoints_credentials_changed
BEFORE UPDATE OF token_hash, labels, revoked_at ON endpoints
FOR EACH ROW EXECUTE FUNCTION endpoints_credentials_changed()
"""


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy (a copy's DROP TABLE would cascade on SQLite).
    op.add_column(
        "endpoints",
        sa.Column("credentials_changed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        op.f("ix_endpoints_credentials_changed_at"),
        "endpoints",
        ["credentials_changed_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS endpoints_credentials_changed ON endpoints")
        op.execute("DROP FUNCTION IF EXISTS endpoints_credentials_changed()")
    else:
        op.execute("DROP TRIGGER IF EXISTS endpoints_credentials_changed")
    op.drop_index(op.f("ix_endpoints_credentials_changed_at"), table_name="endpoints")
    # SQLite 3.35+ drops a column in place (no table copy, so no cascading deletes).
    op.drop_column("endpoints", "credentials_changed_at")
