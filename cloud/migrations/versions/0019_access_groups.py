"""Access groups: the ``access_groups`` table (a named set of doors per site) and the
``groups`` a card is issued with (``access_cards.groups``).

Revision ID: 0019_access_groups
Revises: 0018_access_passes
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_access_groups"
down_revision: str | None = "0018_access_passes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "access_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("zh", sa.String(length=64), nullable=True),
        sa.Column("doors", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_access_groups_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_groups")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_access_groups_site_id_name")),
    )
    op.add_column("access_cards", sa.Column("groups", JSON_DOC, nullable=True))


def downgrade() -> None:
    op.drop_column("access_cards", "groups")
    op.drop_table("access_groups")
