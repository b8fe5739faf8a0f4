"""Initial schema: sites, devices, meters, the event log, seq gaps, readings, export cursor.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
QUANTITY = sa.Numeric(precision=20, scale=6)


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(col: str, table: str, ref: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([col], [f"{ref}.id"], name=op.f(f"fk_{table}_{col}_{ref}"),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai",
                  nullable=False),
        sa.Column("online", sa.Boolean(), server_default=sa.false(), nullable=False),
        _ts("status_changed_at"),
        _ts("last_seen_at"),
        sa.Column("acked_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        _ts("last_batch_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("slug", name=op.f("uq_sites_slug")),
    )
    op.create_table(
        "telemetry_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_telemetry_cursors")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=True),
        sa.Column("unit_ref", sa.String(length=64), nullable=True),
        sa.Column("online", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("offline_reason", sa.String(length=64), nullable=True),
        _ts("status_changed_at"),
        _ts("last_seen_at"),
        _ts("last_event_at"),
        _fk("site_id", "devices", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("site_id", "key", name=op.f("uq_devices_site_id_key")),
    )
    op.create_table(
        "seq_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seq_from", sa.BigInteger(), nullable=False),
        sa.Column("seq_to", sa.BigInteger(), nullable=False),
        _ts("declared_at", nullable=False),
        _fk("site_id", "seq_gaps", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seq_gaps")),
        sa.UniqueConstraint("site_id", "seq_from", "seq_to",
                            name=op.f("uq_seq_gaps_site_id_seq_from_seq_to")),
    )
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        _ts("ts", nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        _ts("received_at", nullable=False),
        _fk("device_id", "events", "devices", ondelete="SET NULL"),
        _fk("site_id", "events", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("site_id", "seq", name=op.f("uq_events_site_id_seq")),
    )
    op.create_index(op.f("ix_events_site_id_kind_seq"), "events", ["site_id", "kind", "seq"])
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("unit_ref", sa.String(length=64), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=True),
        sa.Column("last_values", JSON_DOC, nullable=False),
        sa.Column("last_energy_kwh", QUANTITY, nullable=True),
        sa.Column("last_water_m3", QUANTITY, nullable=True),
        _ts("last_reading_at"),
        _fk("device_id", "meters", "devices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
        sa.UniqueConstraint("device_id", name=op.f("uq_meters_device_id")),
    )
    op.create_table(
        "readings",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        _ts("ts", nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", QUANTITY, nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("event_id", BIG_ID, nullable=False),
        _ts("received_at", nullable=False),
        _fk("device_id", "readings", "devices"),
        _fk("event_id", "readings", "events"),
        _fk("site_id", "readings", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
    )
    op.create_index(op.f("ix_readings_device_id_ts"), "readings", ["device_id", "ts"])


def downgrade() -> None:
    op.drop_index(op.f("ix_readings_device_id_ts"), table_name="readings")
    op.drop_table("readings")
    op.drop_table("meters")
    op.drop_index(op.f("ix_events_site_id_kind_seq"), table_name="events")
    op.drop_table("events")
    op.drop_table("seq_gaps")
    op.drop_table("devices")
    op.drop_table("telemetry_cursors")
    op.drop_table("sites")
