"""Billing: fee items, bill runs, bills and bill lines.

Revision ID: 0012_billing
Revises: 0011_staff_auth
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_billing"
down_revision: str | None = "0011_staff_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(14, 2)
QTY = sa.Numeric(20, 6)
PRICE = sa.Numeric(16, 6)
TS = sa.DateTime(timezone=True)


def _site(table: str) -> list[Any]:
    return [sa.Column("site_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                    name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE")]


def upgrade() -> None:
    op.create_table(
        "fee_items",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("fee_items"),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cycle", sa.String(length=16), nullable=False),
        sa.Column("rule", JSON_DOC, nullable=False),
        sa.Column("late_fee", JSON_DOC, nullable=True),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_items")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_fee_items_site_id_code")),
    )
    op.create_table(
        "bill_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("bill_runs"),
        sa.Column("cycle", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("units_total", sa.Integer(), nullable=False),
        sa.Column("units_done", sa.Integer(), nullable=False),
        sa.Column("bills", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_runs")),
        sa.UniqueConstraint("site_id", "cycle", "period",
                            name=op.f("uq_bill_runs_site_id_cycle_period")),
    )
    op.create_table(
        "bills",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("bills"),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("cycle", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("paid", MONEY, nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("hold_reasons", JSON_DOC, nullable=True),
        sa.Column("void_reason", sa.String(length=500), nullable=True),
        sa.Column("issued_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.ForeignKeyConstraint(["run_id"], ["bill_runs.id"],
                                name=op.f("fk_bills_run_id_bill_runs"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"],
                                name=op.f("fk_bills_unit_id_units"), ondelete="RESTRICT"),
        sa.UniqueConstraint("run_id", "unit_id", name=op.f("uq_bills_run_id_unit_id")),
        sa.UniqueConstraint("number", name=op.f("uq_bills_number")),
    )
    op.create_index(op.f("ix_bills_site_id_state_due_date"), "bills",
                    ["site_id", "state", "due_date"])
    op.create_index(op.f("ix_bills_unit_id"), "bills", ["unit_id"])
    op.create_table(
        "bill_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fee_item_id", sa.Integer(), nullable=True),
        sa.Column("fee_code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("unit_price", PRICE, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("source", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_lines")),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"],
                                name=op.f("fk_bill_lines_bill_id_bills"), ondelete="CASCADE"),
    )
    op.create_index(op.f("ix_bill_lines_bill_id"), "bill_lines", ["bill_id"])
    op.create_table(
        "billed_charges",
        sa.Column("charge_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("charge_id", name=op.f("pk_billed_charges")),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"],
                                name=op.f("fk_billed_charges_bill_id_bills"), ondelete="CASCADE"),
    )
    op.create_index(op.f("ix_billed_charges_bill_id"), "billed_charges", ["bill_id"])


def downgrade() -> None:
    op.drop_table("billed_charges")
    op.drop_table("bill_lines")
    op.drop_table("bills")
    op.drop_table("bill_runs")
    op.drop_table("fee_items")
