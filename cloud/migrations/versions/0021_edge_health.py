"""Edge health (issue 15): the latest report each site's edge sent on ``up/health`` (outbox
depth, the oldest buffered event's age, devices online per family, patrol receivers heard).

Revision ID: 0021_edge_health
Revises: 0020_patrol
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_edge_health"
down_revision: str | None = "0020_patrol"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "edge_health",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", TS, nullable=False),
        sa.Column("edge_ts", TS, nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("oldest_age_s", sa.Float(), nullable=True),
        sa.Column("devices", JSON_DOC, nullable=False),
        sa.Column("patrol_receivers", JSON_DOC, nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_edge_health_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_edge_health")),
    )


def downgrade() -> None:
    op.drop_table("edge_health")
