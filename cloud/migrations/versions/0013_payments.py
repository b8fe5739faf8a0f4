"""Payments, their allocation to bills, receipts, prepaid balances and reminders.

Revision ID: 0013_payments
Revises: 0012_billing
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013_payments"
down_revision: str | None = "0012_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
