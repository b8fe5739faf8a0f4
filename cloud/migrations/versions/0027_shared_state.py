"""Issue 16: login rate limits, import jobs, rule windows and timers in the database.

Revision ID: 0027_shared_state
Revises: 0026_jobs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027_shared_state"
down_revision: str | None = "0026_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rate_hits",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hits")),
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ["key", "at"])
    op.create_index("ix_rate_hits_at", "rate_hits", ["at"])
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("site", sa.String(63), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("result", JSON_DOC, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(op.f("ix_import_jobs_actor"), "import_jobs", ["actor"])
    op.create_index(op.f("ix_import_jobs_created_at"), "import_jobs", ["created_at"])
    op.create_table(
        "rule_windows",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site", sa.String(63), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_windows")),
    )
    op.create_index("ix_rule_windows_key", "rule_windows", ["site", "device", "rule_id"])
    op.create_index("ix_rule_windows_ts", "rule_windows", ["ts"])
    op.create_table(
        "rule_timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(63), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("cause_ts", TS, nullable=False),
        sa.Column("decision", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_timers")),
        sa.UniqueConstraint("site", "device", "rule_id",
                            name=op.f("uq_rule_timers_site_device_rule_id")),
    )
    op.create_index("ix_rule_timers_due_at", "rule_timers", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_rule_timers_due_at", table_name="rule_timers")
    op.drop_table("rule_timers")
    op.drop_index("ix_rule_windows_ts", table_name="rule_windows")
    op.drop_index("ix_rule_windows_key", table_name="rule_windows")
    op.drop_table("rule_windows")
    op.drop_index(op.f("ix_import_jobs_created_at"), table_name="import_jobs")
    op.drop_index(op.f("ix_import_jobs_actor"), table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_index("ix_rate_hits_at", table_name="rate_hits")
    op.drop_index("ix_rate_hits_key_at", table_name="rate_hits")
    op.drop_table("rate_hits")
