"""Work orders name the unit a resident's call is about (``work_orders.unit``, its code).

The customer-service desk logs repair calls and complaints for a unit and lists a unit's
orders; the code is kept as the register writes it (like the parking records' ``unit_ref``),
and existing orders have none.

Revision ID: 0015_workorder_unit
Revises: 0014_event_epochs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_workorder_unit"
down_revision: str | None = "0014_event_epochs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("work_orders", sa.Column("unit", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_work_orders_site_id_unit"), "work_orders", ["site_id", "unit"])


def downgrade() -> None:
    op.drop_index(op.f("ix_work_orders_site_id_unit"), table_name="work_orders")
    op.drop_column("work_orders", "unit")
