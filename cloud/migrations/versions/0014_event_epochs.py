"""Events keyed by (site, epoch, seq); a watermark per epoch; position conflicts quarantined.

An edge outbox now names itself with a random ``epoch`` made when it is created, so a replaced
box or a wiped data dir (seq back at 1) is a new epoch, not a run of "duplicates". Rows stored
before this revision get the fixed epoch ``legacy``; each site's acked mark becomes the
``legacy`` epoch's mark. ``ingest_conflicts`` keeps an event that arrived at a stored position
with another id (the evidence, stored once), and whether it stops its epoch's mark.

On SQLite the unique constraints change by copying the table (batch mode); the partial plate-read
index is dropped first and made again after, so the copy does not have to reflect its WHERE.

Revision ID: 0014_event_epochs
Revises: 0013_payments
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_event_epochs"
down_revision: str | None = "0013_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY = "legacy"
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
PLATE_READ_WHERE = "kind = 'plate.read'"  # as migration 0004 made it


def _plate_index(create: bool) -> None:
    if create:
        op.create_index("ix_events_plate_reads", "events", ["site_id", "device", "seq"],
                        postgresql_where=sa.text(PLATE_READ_WHERE),
                        sqlite_where=sa.text(PLATE_READ_WHERE))
    else:
        op.drop_index("ix_events_plate_reads", table_name="events")


def upgrade() -> None:
    _plate_index(create=False)
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("epoch", sa.String(length=64), server_default=LEGACY,
                                   nullable=False))
        batch.drop_constraint("uq_events_site_id_seq", type_="unique")
        batch.create_unique_constraint("uq_events_site_id_epoch_seq",
                                       ["site_id", "epoch", "seq"])
    _plate_index(create=True)
    with op.batch_alter_table("seq_gaps") as batch:
        batch.add_column(sa.Column("epoch", sa.String(length=64), server_default=LEGACY,
                                   nullable=False))
        batch.drop_constraint("uq_seq_gaps_site_id_seq_from_seq_to", type_="unique")
        batch.create_unique_constraint("uq_seq_gaps_site_id_epoch_seq_from_seq_to",
                                       ["site_id", "epoch", "seq_from", "seq_to"])
    op.create_table(
        "ingest_epochs",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=64), nullable=False),
        sa.Column("acked_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("held_at", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_at", TS, nullable=True),
        sa.Column("last_batch_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_ingest_epochs_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "epoch", name=op.f("pk_ingest_epochs")),
    )
    op.create_table(
        "ingest_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("stored_uuid", sa.String(length=64), nullable=False),
        sa.Column("incoming_uuid", sa.String(length=64), nullable=False),
        sa.Column("raw", JSON_DOC, nullable=False),
        sa.Column("holds", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("repeats", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("event_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_ingest_conflicts_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_conflicts")),
        sa.UniqueConstraint("site_id", "epoch", "seq", "incoming_uuid",
                            name=op.f("uq_ingest_conflicts_site_id_epoch_seq_incoming_uuid")),
    )
    op.execute(
        "INSERT INTO ingest_epochs (site_id, epoch, acked_seq, first_seen_at, last_batch_at)"
        f" SELECT id, '{LEGACY}', acked_seq, last_batch_at, last_batch_at FROM sites"
        " WHERE acked_seq > 0 OR last_batch_at IS NOT NULL")


def downgrade() -> None:
    op.drop_table("ingest_conflicts")
    op.drop_table("ingest_epochs")
    op.execute(f"DELETE FROM seq_gaps WHERE epoch <> '{LEGACY}'")
    with op.batch_alter_table("seq_gaps") as batch:
        batch.drop_constraint("uq_seq_gaps_site_id_epoch_seq_from_seq_to", type_="unique")
        batch.create_unique_constraint("uq_seq_gaps_site_id_seq_from_seq_to",
                                       ["site_id", "seq_from", "seq_to"])
        batch.drop_column("epoch")
    # Only the legacy epoch's rows fit the old (site, seq) key.
    op.execute(f"DELETE FROM events WHERE epoch <> '{LEGACY}'")
    _plate_index(create=False)
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_site_id_epoch_seq", type_="unique")
        batch.create_unique_constraint("uq_events_site_id_seq", ["site_id", "seq"])
        batch.drop_column("epoch")
    _plate_index(create=True)
