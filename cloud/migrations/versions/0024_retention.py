"""Issue 16: retention windows, purge runs, pseudonymised residents.

Revision ID: 0024_retention
Revises: 0023_blobs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_retention"
down_revision: str | None = "0023_blobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
COMPANY_DEFAULT_WHERE = "site_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "retention_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("data_class", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_retention_windows_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_windows")),
        sa.UniqueConstraint("site_id", "data_class",
                            name=op.f("uq_retention_windows_site_id_data_class")),
    )
    op.create_index("ix_retention_windows_company_default", "retention_windows",
                    ["data_class"], unique=True,
                    postgresql_where=sa.text(COMPANY_DEFAULT_WHERE),
                    sqlite_where=sa.text(COMPANY_DEFAULT_WHERE))
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("pseudonymised_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("pseudonymised_at")
    op.drop_index("ix_retention_windows_company_default", table_name="retention_windows")
    op.drop_table("retention_windows")
