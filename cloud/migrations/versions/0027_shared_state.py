"""Issue 16: login rate limits, import jobs, rule windows and timers in the database.

Revision ID: 0027_shared_state
Revises: 0026_jobs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0027_shared_state"
down_revision: str | None = "0026_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
