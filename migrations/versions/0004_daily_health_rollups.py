"""daily health rollups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 05:08:01.304311
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "endpoint_health_daily",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_endpoint_health_daily_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "endpoint_id", "day", name=op.f("pk_endpoint_health_daily")
        ),
    )
    with op.batch_alter_table("endpoint_health_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_endpoint_health_daily_tenant_day", ["tenant_id", "day"], unique=False
        )

    op.create_table(
        "job_health_daily",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_job_health_daily_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "job_id", "day", name=op.f("pk_job_health_daily")),
    )
    with op.batch_alter_table("job_health_daily", schema=None) as batch_op:
        batch_op.create_index("ix_job_health_daily_tenant_day", ["tenant_id", "day"], unique=False)

    with op.batch_alter_table("endpoint_health_hourly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_endpoint_health_hourly_tenant_hour", ["tenant_id", "hour"], unique=False
        )

    with op.batch_alter_table("job_health_hourly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_job_health_hourly_tenant_hour", ["tenant_id", "hour"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("job_health_hourly", schema=None) as batch_op:
        batch_op.drop_index("ix_job_health_hourly_tenant_hour")

    with op.batch_alter_table("endpoint_health_hourly", schema=None) as batch_op:
        batch_op.drop_index("ix_endpoint_health_hourly_tenant_hour")

    with op.batch_alter_table("job_health_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_job_health_daily_tenant_day")

    op.drop_table("job_health_daily")
    with op.batch_alter_table("endpoint_health_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_endpoint_health_daily_tenant_day")

    op.drop_table("endpoint_health_daily")
