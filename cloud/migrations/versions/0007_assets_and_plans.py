"""Assets (the equipment ledger), the PM plans of each site, and the visits made into orders.

``uq_maintenance_visits_pm_key`` makes the PM generator idempotent: one order per visit.

Revision ID: 0007_assets_and_plans
Revises: 0006_workorders
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_assets_and_plans"
down_revision: str | None = "0006_workorders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _site_fk(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"),
                                ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site_fk("assets"),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("make", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("install_date", sa.Date(), nullable=False),
        sa.Column("warranty_until", sa.Date(), nullable=True),
        sa.Column("contract", sa.String(length=100), nullable=True),
        sa.Column("building", sa.String(length=100), nullable=True),
        sa.Column("device", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_assets_site_id_code")),
    )
    op.create_index(op.f("ix_assets_kind"), "assets", ["kind"])

    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        *_site_fk("maintenance_plans"),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("asset_kind", sa.String(length=32), nullable=False),
        sa.Column("definition", JSON_DOC, nullable=False),
        sa.Column("release_days_ahead", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_plans")),
        sa.UniqueConstraint("site_id", "plan_id",
                            name=op.f("uq_maintenance_plans_site_id_plan_id")),
    )

    op.create_table(
        "maintenance_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pm_key", sa.String(length=255), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("covers", JSON_DOC, nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name=op.f("fk_maintenance_visits_work_order_id_work_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"],
                                name=op.f("fk_maintenance_visits_asset_id_assets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["plan_id"], ["maintenance_plans.id"],
                                name=op.f("fk_maintenance_visits_plan_id_maintenance_plans"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_visits")),
        sa.UniqueConstraint("pm_key", name=op.f("uq_maintenance_visits_pm_key")),
    )
    for column in ("work_order_id", "asset_id", "plan_id"):
        op.create_index(op.f(f"ix_maintenance_visits_{column}"), "maintenance_visits",
                        [column])


def downgrade() -> None:
    op.drop_table("maintenance_visits")
    op.drop_table("maintenance_plans")
    op.drop_index(op.f("ix_assets_kind"), table_name="assets")
    op.drop_table("assets")
