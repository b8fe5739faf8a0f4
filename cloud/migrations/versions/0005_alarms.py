"""Alarms, their history, the events folded into them and the edge's linkage reports.

``uq_alarms_active_fold`` is a partial unique index over the active states only: one active
alarm per condition (site, fold key), while resolved and false alarms may repeat it. Like the
other tables the ingestor writes, none has a foreign key to ``sites`` or ``events``; the
alarm's own children point at it and go with it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ACTIVE_WHERE = "state IN ('open', 'acknowledged', 'in_progress')"


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _alarm_fk(table: str, nullable: bool = False) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("alarm_id", sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"],
                                name=op.f(f"fk_{table}_alarm_id_alarms"), ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fold_key", sa.String(length=255), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("condition", sa.String(length=64), nullable=True),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("location", JSON_DOC, nullable=True),
        sa.Column("location_text", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _ts("first_ts", nullable=False),
        _ts("last_ts", nullable=False),
        _ts("opened_at", nullable=False),
        _ts("acknowledged_at"),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        _ts("resolved_at"),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("escalated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), server_default=sa.text("0"),
                  nullable=False),
        _ts("escalated_at"),
        _ts("restored_at"),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_uuid", sa.String(length=64), nullable=False),
        sa.Column("evidence", JSON_DOC, nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("uq_alarms_active_fold", "alarms", ["site_id", "fold_key"], unique=True,
                    postgresql_where=sa.text(ACTIVE_WHERE), sqlite_where=sa.text(ACTIVE_WHERE))
    op.create_index(op.f("ix_alarms_site_id_source_key"), "alarms", ["site_id", "source_key"])
    op.create_index(op.f("ix_alarms_site_id_opened_at"), "alarms", ["site_id", "opened_at"])
    op.create_index(op.f("ix_alarms_updated_at"), "alarms", ["updated_at"])
    op.create_index(op.f("ix_alarms_state"), "alarms", ["state"])

    op.create_table(
        "alarm_actions",
        sa.Column("id", BIG_ID, nullable=False),
        *_alarm_fk("alarm_actions"),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=True),
        _ts("at", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_actions")),
    )
    op.create_index(op.f("ix_alarm_actions_alarm_id"), "alarm_actions", ["alarm_id"])

    op.create_table(
        "alarm_events",
        sa.Column("id", BIG_ID, nullable=False),
        *_alarm_fk("alarm_events"),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_uuid", sa.String(length=64), nullable=False),
        _ts("ts", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_events")),
    )
    op.create_index(op.f("ix_alarm_events_alarm_id"), "alarm_events", ["alarm_id"])
    op.create_index(op.f("ix_alarm_events_site_id_event_uuid"), "alarm_events",
                    ["site_id", "event_uuid"])

    op.create_table(
        "alarm_linkage",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        *_alarm_fk("alarm_linkage", nullable=True),
        sa.Column("cause_uuid", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        _ts("ts", nullable=False),
        sa.Column("action", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("detail", JSON_DOC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_linkage")),
    )
    op.create_index(op.f("ix_alarm_linkage_alarm_id"), "alarm_linkage", ["alarm_id"])
    op.create_index(op.f("ix_alarm_linkage_site_id_cause_uuid"), "alarm_linkage",
                    ["site_id", "cause_uuid"])


def downgrade() -> None:
    op.drop_table("alarm_linkage")
    op.drop_table("alarm_events")
    op.drop_table("alarm_actions")
    op.drop_index("uq_alarms_active_fold", table_name="alarms")
    op.drop_table("alarms")
