"""platform operators: operator flag, tenant suspension and quotas, operator audit, exports

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: on SQLite, dropping the old `tenants` or `users`
    # table of a copy would cascade-delete every row that refers to them.
    op.add_column(
        "users", sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("tenants", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tenants", sa.Column("suspension_reason", sa.String(length=500), nullable=True))
    op.add_column("tenants", sa.Column("quota_overrides", sa.JSON(), nullable=True))
    op.create_table(
        "operator_audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_slug", sa.String(length=63), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_audit_events")),
    )
    op.create_index(
        "ix_operator_audit_events_time", "operator_audit_events", ["created_at", "id"], unique=False
    )
    op.create_table(
        "tenant_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_slug", sa.String(length=63), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("head_commit", sa.String(length=64), nullable=True),
        sa.Column("last_run_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_exports")),
    )
    op.create_index(
        op.f("ix_tenant_exports_tenant_id"), "tenant_exports", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tenant_exports_tenant_id"), table_name="tenant_exports")
    op.drop_table("tenant_exports")
    op.drop_index("ix_operator_audit_events_time", table_name="operator_audit_events")
    op.drop_table("operator_audit_events")
    # SQLite 3.35+ drops a column in place (no table copy, so no cascading deletes).
    op.drop_column("tenants", "quota_overrides")
    op.drop_column("tenants", "suspension_reason")
    op.drop_column("tenants", "suspended_at")
    op.drop_column("users", "is_operator")
