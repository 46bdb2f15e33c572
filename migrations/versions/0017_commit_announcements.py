"""commit announcements: the commit of each tenant's repository announced last

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:00:00.000000

With an external Git store every server process adopts each commit and the first to claim it
announces it (services/announcements.py). A claim reads and replaces the tenant's last
announced commit under an advisory lock, in the transaction that sends the announcement: one
row per tenant, found by its primary key, gone with the tenant. It is only a record of what
was announced: without a row, the next commit is simply announced.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commit_announcements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("commit_id", sa.String(length=64), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_commit_announcements_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_commit_announcements")),
    )


def downgrade() -> None:
    op.drop_table("commit_announcements")
