"""Staff accounts, sessions, API tokens and login attempts.

Revision ID: 0011_staff_auth
Revises: 0010_records
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0011_staff_auth"
down_revision: str | None = "0010_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
