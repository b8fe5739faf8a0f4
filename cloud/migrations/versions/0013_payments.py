"""Payments, their allocation to bills, receipts, prepaid balances and reminders.

Revision ID: 0013_payments
Revises: 0012_billing
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_payments"
down_revision: str | None = "0012_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(14, 2)
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> Any:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("to_balance", MONEY, nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("payer", sa.String(length=100), nullable=True),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("receipt_number", sa.String(length=40), nullable=True),
        sa.Column("taken_by", sa.String(length=64), nullable=False),
        sa.Column("taken_by_name", sa.String(length=100), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        _fk("payments", "site_id", "sites", "CASCADE"),
        _fk("payments", "unit_id", "units", "RESTRICT"),
        _fk("payments", "reverses_id", "payments", "RESTRICT"),
        sa.UniqueConstraint("site_id", "idempotency_key",
                            name=op.f("uq_payments_site_id_idempotency_key")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_payments_reverses_id")),
    )
    op.create_index(op.f("ix_payments_unit_id"), "payments", ["unit_id"])
    op.create_index(op.f("ix_payments_site_id_received_at"), "payments",
                    ["site_id", "received_at"])
    op.create_table(
        "payment_allocations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("principal", MONEY, nullable=False),
        sa.Column("late_fee", MONEY, nullable=False),
        sa.Column("fees", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
        _fk("payment_allocations", "payment_id", "payments", "RESTRICT"),
        _fk("payment_allocations", "bill_id", "bills", "RESTRICT"),
    )
    op.create_index(op.f("ix_payment_allocations_payment_id"), "payment_allocations",
                    ["payment_id"])
    op.create_index(op.f("ix_payment_allocations_bill_id"), "payment_allocations", ["bill_id"])
    op.create_table(
        "prepaid_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("bill_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prepaid_entries")),
        _fk("prepaid_entries", "site_id", "sites", "CASCADE"),
        _fk("prepaid_entries", "unit_id", "units", "RESTRICT"),
        _fk("prepaid_entries", "payment_id", "payments", "RESTRICT"),
        _fk("prepaid_entries", "bill_id", "bills", "RESTRICT"),
    )
    op.create_index(op.f("ix_prepaid_entries_unit_id_id"), "prepaid_entries",
                    ["unit_id", "id"])
    op.create_table(
        "receipt_counters",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "year", name=op.f("pk_receipt_counters")),
        _fk("receipt_counters", "site_id", "sites", "CASCADE"),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("red", sa.Boolean(), nullable=False),
        sa.Column("reverses_number", sa.String(length=40), nullable=True),
        sa.Column("body", JSON_DOC, nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        _fk("receipts", "site_id", "sites", "CASCADE"),
        _fk("receipts", "payment_id", "payments", "RESTRICT"),
        _fk("receipts", "unit_id", "units", "RESTRICT"),
        sa.UniqueConstraint("number", name=op.f("uq_receipts_number")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_receipts_payment_id")),
        sa.UniqueConstraint("site_id", "year", "seq", name=op.f("uq_receipts_site_id_year_seq")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        _fk("notifications", "site_id", "sites", "CASCADE"),
        _fk("notifications", "bill_id", "bills", "RESTRICT"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notifications_idempotency_key")),
    )
    op.create_index(op.f("ix_notifications_state_next_attempt_at"), "notifications",
                    ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("receipts")
    op.drop_table("receipt_counters")
    op.drop_table("prepaid_entries")
    op.drop_table("payment_allocations")
    op.drop_table("payments")
