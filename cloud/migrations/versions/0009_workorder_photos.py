"""Photos on work orders: re-encoded JPEG and thumbnail, one row per distinct upload.

``uq_work_order_photos_work_order_id_sha256`` makes a retried upload of the same bytes
find the first copy instead of storing a second.

Revision ID: 0009_workorder_photos
Revises: 0008_rule_sets
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_workorder_photos"
down_revision: str | None = "0008_rule_sets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_order_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("thumb", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name=op.f("fk_work_order_photos_work_order_id_work_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_photos")),
        sa.UniqueConstraint("work_order_id", "sha256",
                            name=op.f("uq_work_order_photos_work_order_id_sha256")),
    )
    op.create_index(op.f("ix_work_order_photos_work_order_id"), "work_order_photos",
                    ["work_order_id"])


def downgrade() -> None:
    op.drop_table("work_order_photos")
