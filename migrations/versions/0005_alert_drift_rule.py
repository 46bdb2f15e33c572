"""alert drift rule

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 05:27:17.211208
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULES = ("FAILURE", "FAILURE_RATE", "MISSED_RUN", "TOO_LONG", "TOO_FAST", "ENDPOINT_OFFLINE")


def _rules(values: Sequence[str]) -> str:
    return "rule IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("alert_defaults", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drift", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    # The rule column is VARCHAR with a CHECK listing the values: a new rule widens the check.
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_incidents_alert_rule"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_incidents_alert_rule"), sa.text(_rules((*RULES, "ENDPOINT_DRIFT")))
        )


def downgrade() -> None:
    op.execute("DELETE FROM incidents WHERE rule = 'ENDPOINT_DRIFT'")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_incidents_alert_rule"), type_="check")
        batch_op.create_check_constraint(op.f("ck_incidents_alert_rule"), sa.text(_rules(RULES)))
    with op.batch_alter_table("alert_defaults", schema=None) as batch_op:
        batch_op.drop_column("drift")
