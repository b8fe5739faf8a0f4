"""Column types that behave the same on PostgreSQL and SQLite.

SQLite has no timezone-aware timestamps and no 64-bit autoincrement under ``BIGINT``; these
types hide both differences so the rest of the cloud sees aware UTC datetimes and works on
either database unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

#: Primary keys of the big tables: BIGSERIAL on PostgreSQL, ROWID alias on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

#: Event payloads: JSONB on PostgreSQL (indexable), JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")

#: Meter values that may become money: exact decimals, six places.
Quantity = Numeric(20, 6, asdecimal=True)

#: Largest absolute value ``Quantity`` can hold (NUMERIC(20,6) has 14 integer digits).
QUANTITY_LIMIT = 10**14

#: Money in yuan with fen precision (amounts are Decimal end to end, never float).
Money = Numeric(14, 2, asdecimal=True)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    Refuses naive datetimes on the way in: a naive time is ambiguous and would silently be
    off by the site's UTC offset (eight hours in China).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
