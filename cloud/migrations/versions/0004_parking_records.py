"""Parking records edited through the API and pushed to the edge; the lane view's index.

Vehicles, spaces, monthly and visitor passes, the blacklist and lot tariffs, each unique per
site (by plate, by lot and code, by lot), and one version counter per site and dataset. They
are low-volume configuration written by staff, so unlike the ingest tables they keep their
foreign key to ``sites``.

``ix_events_plate_reads`` is partial (``plate.read`` rows only): the lane view reads "the last
reads of this camera" without the hot meter-reading inserts paying for another index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
PLATE_READ_WHERE = "kind = 'plate.read'"


def _common(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"),
                                ondelete="CASCADE"),
    ]


def _unique(table: str, *cols: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*cols, name=op.f(f"uq_{table}_{'_'.join(cols)}"))


def upgrade() -> None:
    op.create_table(
        "parking_vehicles",
        *_common("parking_vehicles"),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("unit_ref", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("lots", JSON_DOC, nullable=False),
        _unique("parking_vehicles", "site_id", "plate"),
    )
    op.create_table(
        "parking_spaces",
        *_common("parking_spaces"),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_ref", sa.String(length=64), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        _unique("parking_spaces", "site_id", "lot", "code"),
    )
    op.create_table(
        "parking_monthly_passes",
        *_common("parking_monthly_passes"),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("lots", JSON_DOC, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("remind_days", sa.Integer(), nullable=False),
        _unique("parking_monthly_passes", "site_id", "plate"),
    )
    op.create_table(
        "parking_visitor_passes",
        *_common("parking_visitor_passes"),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("host_unit", sa.String(length=64), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        _unique("parking_visitor_passes", "site_id", "plate"),
    )
    op.create_table(
        "parking_blacklist",
        *_common("parking_blacklist"),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        _unique("parking_blacklist", "site_id", "plate"),
    )
    op.create_table(
        "parking_tariffs",
        *_common("parking_tariffs"),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("doc", JSON_DOC, nullable=False),
        _unique("parking_tariffs", "site_id", "lot"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_dataset_versions_site_id_sites"),
                                ondelete="CASCADE"),
        _unique("dataset_versions", "site_id", "name"),
    )
    op.create_index("ix_events_plate_reads", "events", ["site_id", "device", "seq"],
                    postgresql_where=sa.text(PLATE_READ_WHERE),
                    sqlite_where=sa.text(PLATE_READ_WHERE))


def downgrade() -> None:
    op.drop_index("ix_events_plate_reads", table_name="events")
    for table in ("dataset_versions", "parking_tariffs", "parking_blacklist",
                  "parking_visitor_passes", "parking_monthly_passes", "parking_spaces",
                  "parking_vehicles"):
        op.drop_table(table)
