"""Issue 16: retention windows, purge runs, pseudonymised residents.

Revision ID: 0024_retention
Revises: 0023_blobs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0024_retention"
down_revision: str | None = "0023_blobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
