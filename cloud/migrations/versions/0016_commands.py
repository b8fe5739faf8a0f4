"""Remote commands: the ``commands`` table (issue 13, the command channel).

Every command the console sends an edge on ``down/cmd``, who issued it, its state
(``cloud/commands/states.py``) and the edge's reply from ``up/cmd-reply``.

Revision ID: 0016_commands
Revises: 0015_workorder_unit
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_commands"
down_revision: str | None = "0015_workorder_unit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("cmd_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("args", JSON_DOC, nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("issued_by_ref", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_commands_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
        sa.UniqueConstraint("cmd_id", name=op.f("uq_commands_cmd_id")),
    )
    op.create_index("ix_commands_site_id_id", "commands", ["site_id", "id"])
    op.create_index(op.f("ix_commands_state"), "commands", ["state"])
    op.create_index(op.f("ix_commands_not_after"), "commands", ["not_after"])


def downgrade() -> None:
    op.drop_table("commands")
