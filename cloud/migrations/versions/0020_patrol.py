"""Patrol (巡更, issue 14): checkpoints, routes, plans, guards' tags and their handover
history, and what the edge and the phones report: rounds, visits and QR scans.

Revision ID: 0020_patrol
Revises: 0019_access_groups
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

revision: str = "0020_patrol"
down_revision: str | None = "0019_access_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def _id_site(table: str) -> list[SchemaItem]:
    return [sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("site_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                    name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))]


def _coded(table: str, *columns: SchemaItem) -> None:
    """A table edited in the console: one row per site and code."""
    op.create_table(
        table, *_id_site(table),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        *columns,
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("site_id", "code", name=op.f(f"uq_{table}_site_id_code")),
    )


def upgrade() -> None:
    _coded("patrol_checkpoints",
           sa.Column("building", sa.String(length=64), nullable=False),
           sa.Column("floor", sa.String(length=32), nullable=False),
           sa.Column("area", sa.String(length=64), nullable=False),
           sa.Column("receiver", sa.String(length=64), nullable=True),
           sa.Column("qr", sa.Boolean(), nullable=False),
           sa.Column("sticker_n", sa.Integer(), nullable=False))
    _coded("patrol_routes",
           sa.Column("ordered", sa.Boolean(), nullable=False),
           sa.Column("points", JSON_DOC, nullable=False))
    _coded("patrol_plans",
           sa.Column("route", sa.String(length=64), nullable=False),
           sa.Column("days", JSON_DOC, nullable=False),
           sa.Column("start_time", sa.String(length=8), nullable=False),
           sa.Column("end_time", sa.String(length=8), nullable=False),
           sa.Column("every_s", sa.Integer(), nullable=False),
           sa.Column("start_window_s", sa.Integer(), nullable=False),
           sa.Column("tolerance_s", sa.Integer(), nullable=False),
           sa.Column("late_s", sa.Integer(), nullable=False),
           sa.Column("tolerances", JSON_DOC, nullable=False),
           sa.Column("escalate_s", sa.Integer(), nullable=False))
    op.create_table(
        "patrol_tags", *_id_site("patrol_tags"),
        sa.Column("tag", sa.String(length=96), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("guard", sa.String(length=64), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
    )
    op.create_index("ix_patrol_tags_site_id_tag", "patrol_tags", ["site_id", "tag"])
    op.create_table(
        "patrol_tag_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("guard", sa.String(length=64), nullable=False),
        sa.Column("from_at", TS, nullable=False),
        sa.Column("to_at", TS, nullable=True),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["tag_id"], ["patrol_tags.id"],
                                name=op.f("fk_patrol_tag_history_tag_id_patrol_tags"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_tag_history")),
    )
    op.create_index(op.f("ix_patrol_tag_history_tag_id"), "patrol_tag_history", ["tag_id"])
    op.create_table(
        "patrol_rounds", *_id_site("patrol_rounds"),
        sa.Column("round_id", sa.String(length=96), nullable=False),
        sa.Column("plan", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=True),
        sa.Column("scheduled_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("guard", sa.String(length=64), nullable=True),
        sa.Column("tag", sa.String(length=96), nullable=True),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("out_of_order", sa.Integer(), nullable=False),
        sa.Column("missed_checkpoints", JSON_DOC, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("site_id", "round_id", name=op.f("uq_patrol_rounds_site_id_round_id")),
    )
    op.create_index("ix_patrol_rounds_site_id_scheduled_at", "patrol_rounds",
                    ["site_id", "scheduled_at"])
    op.create_table(
        "patrol_visits", *_id_site("patrol_visits"),
        sa.Column("round_id", sa.String(length=96), nullable=True),
        sa.Column("plan", sa.String(length=64), nullable=True),
        sa.Column("checkpoint", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("due", TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("guard", sa.String(length=64), nullable=True),
        sa.Column("tag", sa.String(length=96), nullable=True),
        sa.Column("receiver", sa.String(length=64), nullable=True),
        sa.Column("rssi", sa.Integer(), nullable=True),
        sa.Column("dwell_s", sa.Float(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("event_id", name=op.f("uq_patrol_visits_event_id")),
    )
    op.create_index("ix_patrol_visits_site_id_at", "patrol_visits", ["site_id", "at"])
    op.create_index("ix_patrol_visits_site_id_round_id", "patrol_visits",
                    ["site_id", "round_id"])
    op.create_table(
        "patrol_scans", *_id_site("patrol_scans"),
        sa.Column("checkpoint", sa.String(length=64), nullable=False),
        sa.Column("guard", sa.String(length=64), nullable=False),
        sa.Column("phone_time", TS, nullable=True),
        sa.Column("server_time", TS, nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("sticker_n", sa.Integer(), nullable=False),
        sa.Column("flags", JSON_DOC, nullable=False),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        sa.Column("command_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_patrol_scans_site_id_server_time", "patrol_scans",
                    ["site_id", "server_time"])


def downgrade() -> None:
    for table in ("patrol_scans", "patrol_visits", "patrol_rounds", "patrol_tag_history",
                  "patrol_tags", "patrol_plans", "patrol_routes", "patrol_checkpoints"):
        op.drop_table(table)
