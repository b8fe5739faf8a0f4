"""Issue 16: indexes for keyset pagination.

Revision ID: 0028_read_paths
Revises: 0027_shared_state
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0028_read_paths"
down_revision: str | None = "0027_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
