"""Work orders, their history and labour/parts lines, technicians and their weekly roster.

``uq_work_orders_open_fold`` is a partial unique index over the open states only: one open
order per fault (site, fold key), while closed and cancelled orders may repeat it.
``ix_work_orders_site_id_request_id`` refuses a resubmitted staff or owner request.

Revision ID: 0006_workorders
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_workorders"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
QUANTITY = sa.Numeric(20, 6)
MONEY = sa.Numeric(14, 2)
OPEN_WHERE = ("state IN ('pool', 'assigned', 'accepted', 'in_progress', 'paused', "
              "'completed')")


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _order_fk(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["work_orders.id"],
                                name=op.f(f"fk_{table}_order_id_work_orders"),
                                ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_device", sa.String(length=128), nullable=True),
        sa.Column("source_event_uuid", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("fold_key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _ts("last_event_ts", nullable=False),
        _ts("opened_at", nullable=False),
        _ts("cause_ts", nullable=False),
        _ts("response_due", nullable=False),
        _ts("resolve_due", nullable=False),
        _ts("responded_at"),
        _ts("resolved_at"),
        _ts("closed_at"),
        sa.Column("response_breached", sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        sa.Column("resolve_breached", sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        sa.Column("skill", sa.String(length=32), nullable=True),
        sa.Column("assignee_ids", JSON_DOC, nullable=False),
        _ts("rating_requested_at"),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rating_note", sa.Text(), nullable=True),
        sa.Column("return_visit_note", sa.Text(), nullable=True),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_work_orders_number")),
    )
    op.create_index("uq_work_orders_open_fold", "work_orders", ["site_id", "fold_key"],
                    unique=True, postgresql_where=sa.text(OPEN_WHERE),
                    sqlite_where=sa.text(OPEN_WHERE))
    op.create_index(op.f("ix_work_orders_site_id_request_id"), "work_orders",
                    ["site_id", "request_id"], unique=True)
    op.create_index(op.f("ix_work_orders_state"), "work_orders", ["state"])
    op.create_index(op.f("ix_work_orders_site_id_opened_at"), "work_orders",
                    ["site_id", "opened_at"])

    op.create_table(
        "work_order_actions",
        sa.Column("id", BIG_ID, nullable=False),
        *_order_fk("work_order_actions"),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=True),
        _ts("at", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", JSON_DOC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_actions")),
    )
    op.create_index(op.f("ix_work_order_actions_order_id"), "work_order_actions",
                    ["order_id"])

    op.create_table(
        "work_order_lines",
        sa.Column("id", BIG_ID, nullable=False),
        *_order_fk("work_order_lines"),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("hours", QUANTITY, nullable=True),
        sa.Column("part", sa.String(length=128), nullable=True),
        sa.Column("qty", QUANTITY, nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        _ts("at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_lines")),
    )
    op.create_index(op.f("ix_work_order_lines_order_id"), "work_order_lines", ["order_id"])

    op.create_table(
        "technicians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("skills", JSON_DOC, nullable=False),
        sa.Column("site_ids", JSON_DOC, nullable=False),
        sa.Column("on_duty", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _ts("last_assigned_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technicians")),
        sa.UniqueConstraint("name", name=op.f("uq_technicians_name")),
    )
    op.create_table(
        "technician_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_min", sa.SmallInteger(), nullable=False),
        sa.Column("end_min", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"],
                                name=op.f("fk_technician_shifts_technician_id_technicians"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technician_shifts")),
    )
    op.create_index(op.f("ix_technician_shifts_technician_id"), "technician_shifts",
                    ["technician_id"])


def downgrade() -> None:
    op.drop_table("technician_shifts")
    op.drop_table("technicians")
    op.drop_table("work_order_lines")
    op.drop_table("work_order_actions")
    op.drop_index("uq_work_orders_open_fold", table_name="work_orders")
    op.drop_table("work_orders")
