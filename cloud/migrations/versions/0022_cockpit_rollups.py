"""Cockpit rollups (issue 15): hourly sums maintained at ingest, each meter's last counters
(and whether they misbehaved), each elevator car's live state.

Revision ID: 0022_cockpit_rollups
Revises: 0021_edge_health
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_cockpit_rollups"
down_revision: str | None = "0021_edge_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
QUANTITY = sa.Numeric(precision=20, scale=6)


def upgrade() -> None:
    op.create_table(
        "cockpit_hourly",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("hour", TS, nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "metric", "subject_type", "subject", "hour",
                                name=op.f("pk_cockpit_hourly")),
    )
    op.create_index(op.f("ix_cockpit_hourly_site_id_metric_subject_type_hour"),
                    "cockpit_hourly", ["site_id", "metric", "subject_type", "hour"])
    op.create_table(
        "cockpit_meter_state",
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("last_kwh", QUANTITY, nullable=True),
        sa.Column("last_m3", QUANTITY, nullable=True),
        sa.Column("last_ts", TS, nullable=True),
        sa.Column("anomaly", sa.String(length=32), nullable=True),
        sa.Column("anomaly_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_cockpit_meter_state")),
    )
    op.create_index(op.f("ix_cockpit_meter_state_site_id"), "cockpit_meter_state",
                    ["site_id"])
    op.create_table(
        "cockpit_elevators",
        sa.Column("site_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("since", TS, nullable=False),
        sa.Column("updated_ts", TS, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "device", name=op.f("pk_cockpit_elevators")),
    )


def downgrade() -> None:
    for table in ("cockpit_elevators", "cockpit_meter_state", "cockpit_hourly"):
        op.drop_table(table)
