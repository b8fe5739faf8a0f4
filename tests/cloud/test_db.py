"""The cloud schema: migrations match the models, times come back aware UTC, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

import cloud.features  # noqa: F401  (every feature's tables join Base.metadata)
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Base, Device, Meter, Site

CST = timezone(timedelta(hours=8))


async def test_migration_produces_the_models_schema(empty_db_url: str) -> None:
    db_url = empty_db_url
    await migrate(db_url)
    await migrate(db_url)  # idempotent: the server runs it on every start
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            def diff(sync: Connection) -> list[object]:
                ctx = MigrationContext.configure(
                    sync, opts={"compare_type": True, "compare_server_default": True})
                return list(compare_metadata(ctx, Base.metadata))
            assert await conn.run_sync(diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert {"sites", "devices", "meters", "events", "seq_gaps", "readings",
            "telemetry_cursors"} <= tables


async def test_times_round_trip_as_aware_utc_and_values_as_decimal(db_url: str) -> None:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    seen = datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=CST)  # 01:30 UTC
    try:
        async with sessions() as s, s.begin():
            site = Site(slug="demo", name="演示小区")
            s.add(site)
            await s.flush()
            dev = Device(site_id=site.id, key="m1", last_seen_at=seen)
            s.add(dev)
            await s.flush()
            s.add(Meter(device_id=dev.id, last_energy_kwh=Decimal("12345678.123456")))
        async with sessions() as s:
            got = (await s.scalars(select(Device.last_seen_at))).one()
            kwh = (await s.scalars(select(Meter.last_energy_kwh))).one()
            site = (await s.scalars(select(Site))).one()
    finally:
        await engine.dispose()
    assert got == seen and got.utcoffset() == timedelta(0)
    assert got.hour == 1  # stored as UTC, not as the local wall time
    assert kwh == Decimal("12345678.123456")
    assert (site.timezone, site.acked_seq, site.online) == ("Asia/Shanghai", 0, False)


async def test_naive_datetimes_are_refused(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        async with session_factory(engine)() as s:
            s.add(Site(slug="demo", last_seen_at=datetime(2026, 1, 1)))
            with pytest.raises(Exception, match="naive datetime"):
                await s.flush()
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await engine.dispose()
    assert mode == "wal" and busy and int(busy) > 0


def test_utc_is_assumed_for_naive_values_read_from_sqlite() -> None:
    from sqlalchemy.dialects import sqlite

    from cloud.db.types import UTCDateTime
    value = UTCDateTime().process_result_value(datetime(2026, 1, 1, 8), sqlite.dialect())
    assert value == datetime(2026, 1, 1, 8, tzinfo=UTC)


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
        pg_url: str) -> None:
    """A restart or a terminated backend leaves closed connections in the pool; the next
    checkout gets a working one (no ping round trip per checkout: ``cloud.db.engine``)."""
    import asyncio

    import asyncpg
    from sqlalchemy import text

    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            pooled = (await conn.get_raw_connection()).driver_connection
            assert pooled is not None
            closed = asyncio.Event()
            pooled.add_termination_listener(lambda _c: closed.set())
        killer = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        async with asyncio.timeout(10):  # the close reaches the pooled connection
            await closed.wait()
        async with engine.connect() as conn:
            again = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again != pid
    finally:
        await engine.dispose()

