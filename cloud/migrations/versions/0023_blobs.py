"""Issue 16: blob store index (images out of the events table).

Revision ID: 0023_blobs
Revises: 0022_cockpit_rollups
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0023_blobs"
down_revision: str | None = "0022_cockpit_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
