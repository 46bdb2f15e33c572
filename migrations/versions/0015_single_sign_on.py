"""single sign-on: OpenID Connect identities, SSO-only tenants, the provider of a session

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=63), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oidc_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_identities")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_oidc_identities_provider")),
    )
    op.create_index(
        op.f("ix_oidc_identities_user_id"), "oidc_identities", ["user_id"], unique=False
    )
    # Plain ADD COLUMN, never a batch copy: on SQLite, dropping the old `tenants` table of a
    # copy would cascade-delete every row that refers to it.
    op.add_column("tenants", sa.Column("sso_provider", sa.String(length=63), nullable=True))
    op.add_column("user_sessions", sa.Column("provider", sa.String(length=63), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no table copy, so no cascading deletes).
    op.drop_column("user_sessions", "provider")
    op.drop_column("tenants", "sso_provider")
    op.drop_index(op.f("ix_oidc_identities_user_id"), table_name="oidc_identities")
    op.drop_table("oidc_identities")
