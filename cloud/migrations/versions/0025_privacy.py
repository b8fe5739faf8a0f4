"""Issue 16: data-subject requests, face consents.

Revision ID: 0025_privacy
Revises: 0024_retention
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025_privacy"
down_revision: str | None = "0024_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_by_name", sa.String(100), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("detail", JSON_DOC, nullable=False),
        _fk("privacy_requests", "site_id", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(op.f("ix_privacy_requests_resident_id_id"), "privacy_requests",
                    ["resident_id", "id"])
    op.create_index(op.f("ix_privacy_requests_site_id_at"), "privacy_requests",
                    ["site_id", "at"])
    op.create_table(
        "face_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("given_at", TS, nullable=False),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("evidence", sa.String(500), nullable=True),
        _fk("face_consents", "resident_id", "residents"),
        _fk("face_consents", "site_id", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_consents")),
    )
    op.create_index(op.f("ix_face_consents_resident_id_purpose"), "face_consents",
                    ["resident_id", "purpose"])
    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("blob_ref", sa.String(80), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _fk("faces", "resident_id", "residents"),
        _fk("faces", "site_id", "sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faces")),
    )
    op.create_index(op.f("ix_faces_resident_id"), "faces", ["resident_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_faces_resident_id"), table_name="faces")
    op.drop_table("faces")
    op.drop_index(op.f("ix_face_consents_resident_id_purpose"), table_name="face_consents")
    op.drop_table("face_consents")
    op.drop_index(op.f("ix_privacy_requests_site_id_at"), table_name="privacy_requests")
    op.drop_index(op.f("ix_privacy_requests_resident_id_id"), table_name="privacy_requests")
    op.drop_table("privacy_requests")
