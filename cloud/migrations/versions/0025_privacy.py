"""Issue 16: data-subject requests, face consents.

Revision ID: 0025_privacy
Revises: 0024_retention
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0025_privacy"
down_revision: str | None = "0024_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
