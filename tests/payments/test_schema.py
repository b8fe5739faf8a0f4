"""The payments migration creates exactly the tables of ``cloud.payments.tables``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

import cloud.features  # noqa: F401  (every feature's tables join Base.metadata)
import cloud.payments.tables as payments
from cloud.db.engine import make_engine, migrate
from cloud.db.models import Base

MINE = {"payments", "payment_allocations", "prepaid_entries", "receipt_counters", "receipts",
        "notifications"}


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part in MINE:
            return part
        if name in MINE:
            return str(name)
    return None


async def test_payment_tables_match_their_models(db_url: str) -> None:
    assert {t.name for t in payments.Base.metadata.sorted_tables} >= MINE
    await migrate(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            def diff(sync: Connection) -> list[object]:
                ctx = MigrationContext.configure(
                    sync, opts={"compare_type": True, "compare_server_default": True})
                return list(compare_metadata(ctx, Base.metadata))
            diffs = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert [d for d in diffs if _table_of(d) in MINE] == []
