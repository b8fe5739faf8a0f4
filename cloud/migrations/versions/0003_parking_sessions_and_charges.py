"""Parking sessions and charges.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
MONEY = sa.Numeric(precision=14, scale=2)


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "parking_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("session_uuid", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _ts("entry_ts"),
        _ts("exit_ts"),
        sa.Column("entry_lane", sa.String(length=64), nullable=True),
        sa.Column("exit_lane", sa.String(length=64), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("fee", MONEY, nullable=True),
        sa.Column("paid", MONEY, nullable=True),
        sa.Column("anomalies", JSON_DOC, nullable=False),
        sa.Column("entry_event_id", sa.BigInteger(), nullable=True),
        sa.Column("exit_event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_sessions")),
        sa.UniqueConstraint("site_id", "session_uuid",
                            name=op.f("uq_parking_sessions_site_id_session_uuid")),
    )
    op.create_index(op.f("ix_parking_sessions_site_id"), "parking_sessions", ["site_id"])
    op.create_table(
        "charges",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid", MONEY, nullable=False),
        sa.Column("recheck", JSON_DOC, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint("site_id", "source", "source_ref",
                            name=op.f("uq_charges_site_id_source_source_ref")),
    )
    op.create_index(op.f("ix_charges_site_id"), "charges", ["site_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_charges_site_id"), table_name="charges")
    op.drop_table("charges")
    op.drop_index(op.f("ix_parking_sessions_site_id"), table_name="parking_sessions")
    op.drop_table("parking_sessions")
