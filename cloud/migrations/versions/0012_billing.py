"""Billing: fee items, bill runs, bills and lines, payments, receipts, balances, reminders.

Revision ID: 0012_billing
Revises: 0011_staff_auth
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0012_billing"
down_revision: str | None = "0011_staff_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
