"""the commit last announced for a tenant's repository, so that one process announces it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: on SQLite, dropping the old `tenants` table of a
    # copy would cascade-delete every row that refers to it.
    op.add_column("tenants", sa.Column("announced_commit", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "announced_commit")
