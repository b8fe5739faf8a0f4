"""The property register (companies, buildings, units, residents, billing meters) and the
audit log.

Revision ID: 0010_records
Revises: 0009_workorder_photos
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_records"
down_revision: str | None = "0009_workorder_photos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QTY = sa.Numeric(20, 6)
AREA = sa.Numeric(10, 2)


def _stamps() -> list[Any]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False)]


def _site(table: str) -> list[Any]:
    return [sa.Column("site_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                    name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE")]


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("code", name=op.f("uq_companies_code")),
    )
    op.create_table(
        "site_companies",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_companies")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_site_companies_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_site_companies_company_id_companies"),
                                ondelete="RESTRICT"),
    )
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("buildings"),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("floors", sa.Integer(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_buildings_site_id_code")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("units"),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("area", AREA, nullable=False),
        sa.Column("inner_area", AREA, nullable=True),
        sa.Column("unit_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.id"],
                                name=op.f("fk_units_building_id_buildings"), ondelete="RESTRICT"),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_units_site_id_code")),
    )
    op.create_index(op.f("ix_units_building_id"), "units", ["building_id"])
    op.create_table(
        "residents",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("residents"),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("id_number", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("move_in", sa.Date(), nullable=True),
        sa.Column("move_out", sa.Date(), nullable=True),
        sa.Column("lease_start", sa.Date(), nullable=True),
        sa.Column("lease_end", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"],
                                name=op.f("fk_residents_unit_id_units"), ondelete="RESTRICT"),
    )
    op.create_index(op.f("ix_residents_unit_id"), "residents", ["unit_id"])
    op.create_index(op.f("ix_residents_site_id_role"), "residents", ["site_id", "role"])
    op.create_table(
        "billing_meters",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site("billing_meters"),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("utility", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("device_key", sa.String(length=128), nullable=True),
        sa.Column("register", sa.String(length=64), nullable=True),
        sa.Column("multiplier", QTY, nullable=False),
        sa.Column("rollover_at", QTY, nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("initial_reading", QTY, nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_reading", QTY, nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_meters")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"],
                                name=op.f("fk_billing_meters_unit_id_units"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.id"],
                                name=op.f("fk_billing_meters_building_id_buildings"),
                                ondelete="RESTRICT"),
    )
    op.create_index(op.f("ix_billing_meters_site_id_code"), "billing_meters", ["site_id", "code"])
    op.create_index(op.f("ix_billing_meters_unit_id"), "billing_meters", ["unit_id"])
    op.create_index(op.f("ix_billing_meters_device_key"), "billing_meters", ["device_key"])
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("before", JSON_DOC, nullable=True),
        sa.Column("after", JSON_DOC, nullable=True),
        sa.Column("detail", JSON_DOC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_entity_entity_id_id"), "audit_log",
                    ["entity", "entity_id", "id"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("billing_meters")
    op.drop_table("residents")
    op.drop_table("units")
    op.drop_table("buildings")
    op.drop_table("site_companies")
    op.drop_table("companies")
