"""Issue 16: claimed jobs, duty leases, per-site schedules.

Revision ID: 0026_jobs
Revises: 0025_privacy
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0026_jobs"
down_revision: str | None = "0025_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
