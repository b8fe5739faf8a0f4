"""Issue 16: indexes for keyset pagination.

Revision ID: 0028_read_paths
Revises: 0027_shared_state
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0028_read_paths"
down_revision: str | None = "0027_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # GET /api/bills?site=…: one range scan per page (WHERE site_id = ? AND id > ? ORDER BY id).
    op.create_index(op.f("ix_bills_site_id_id"), "bills", ["site_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bills_site_id_id"), table_name="bills")
