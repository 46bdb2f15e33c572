"""runs are indexed by endpoint only when they have one

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 14:00:00.000000

Every query that reads runs by endpoint asks for one endpoint (`endpoint_id = …`), which no
run without an endpoint matches; yet each such run (a check-in sent with an API token, not
by an agent) still cost an entry in `ix_runs_tenant_endpoint_started`, written with the run
and removed when it is pruned. The index now holds only runs with an endpoint: both
databases prove that `endpoint_id = …` implies `endpoint_id IS NOT NULL`, so the same
queries use it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_runs_tenant_endpoint_started"
COLUMNS = ["tenant_id", "endpoint_id", "started_at", "id"]


def upgrade() -> None:
    op.drop_index(NAME, table_name="runs")
    op.create_index(
        NAME,
        "runs",
        COLUMNS,
        unique=False,
        sqlite_where=sa.text("endpoint_id IS NOT NULL"),
        postgresql_where=sa.text("endpoint_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="runs")
    op.create_index(NAME, "runs", COLUMNS, unique=False)
