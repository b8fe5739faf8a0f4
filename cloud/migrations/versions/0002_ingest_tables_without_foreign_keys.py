"""Readings and events carry no foreign keys.

``readings`` and ``events`` are the hot writes of ingest (one event row and several reading
rows per event). Their rows are written only by the ingestor, in the same transaction that
creates or locks the site and device they point at, so the referential checks PostgreSQL ran
per row (five per meter reading event) protected nothing and cost more than the inserts.
Nothing deletes sites, devices or events; a future retention job deletes by time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FKS = {
    "readings": (("device_id", "devices", "CASCADE"), ("event_id", "events", "CASCADE"),
                 ("site_id", "sites", "CASCADE")),
    "events": (("device_id", "devices", "SET NULL"), ("site_id", "sites", "CASCADE")),
}


def upgrade() -> None:
    for table, fks in FKS.items():
        with op.batch_alter_table(table) as batch:
            for col, ref, _ in fks:
                batch.drop_constraint(op.f(f"fk_{table}_{col}_{ref}"), type_="foreignkey")


def downgrade() -> None:
    for table, fks in FKS.items():
        with op.batch_alter_table(table) as batch:
            for col, ref, ondelete in fks:
                batch.create_foreign_key(op.f(f"fk_{table}_{col}_{ref}"), ref, [col], ["id"],
                                         ondelete=ondelete)
