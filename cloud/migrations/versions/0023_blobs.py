"""Issue 16: blob store index (images out of the events table): one row per stored blob,
its site (NULL: shared by several), data class, content type and size.

Revision ID: 0023_blobs
Revises: 0022_cockpit_rollups
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_blobs"
down_revision: str | None = "0022_cockpit_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("ref", sa.String(71), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("data_class", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_blobs_site_id_sites"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_blobs")),
    )
    op.create_index(op.f("ix_blobs_site_id_data_class_created_at"), "blobs",
                    ["site_id", "data_class", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_blobs_site_id_data_class_created_at"), table_name="blobs")
    op.drop_table("blobs")
