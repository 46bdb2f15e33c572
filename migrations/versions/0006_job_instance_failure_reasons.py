"""job instance failure reasons

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Why the endpoint could not install a job (the driver's refusal), shown where the FAILED
    # state is shown; null for every other state and for reports of agents that predate it.
    with op.batch_alter_table("job_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_instances", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
