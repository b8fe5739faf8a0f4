"""Billing: a full monthly bill run for 100,000 units with 100,000 meters on PostgreSQL
(issue 5 target: < 60 s on this machine). ``--quick`` bills 5,000 units.

The community is generated with COPY (units, devices, meters and two boundary readings per
meter; timed separately), then ``cloud.billing.runs.execute`` bills it in batches of 1,000
units: area fee by unit type, a fixed fee and tiered electricity from the readings.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from benchmarks.common import Figures, header
from tests.support.services import fresh_pg_database

UNITS = 100_000
QUICK_UNITS = 5_000
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
START = datetime(2026, 10, 31, 15, 50, tzinfo=UTC)  # 23:50 local on 31 October
END = datetime(2026, 11, 30, 15, 59, tzinfo=UTC)  # 23:59 local on 30 November


async def _generate(url: str, units: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        site_id = await conn.fetchval(
            "INSERT INTO sites (slug, name, timezone, online, acked_seq) "
            "VALUES ('bench', '基准小区', 'Asia/Shanghai', false, 0) RETURNING id")
        buildings = max(1, units // 1000)
        await conn.copy_records_to_table("buildings", columns=[
            "id", "site_id", "code", "name", "created_at", "updated_at"], records=[
            (b + 1, site_id, f"B{b + 1}", f"{b + 1}号楼", NOW, NOW) for b in range(buildings)])
        await conn.copy_records_to_table("units", columns=[
            "id", "site_id", "building_id", "code", "area", "unit_type", "status",
            "created_at", "updated_at"], records=[
            (i + 1, site_id, i // 1000 + 1, f"{i // 1000 + 1}-{i % 1000:04d}",
             Decimal(60 + i % 90) + Decimal("0.35"),
             "commercial" if i % 50 == 0 else "residential",
             "vacant" if i % 40 == 0 else "occupied", NOW, NOW) for i in range(units)])
        await conn.copy_records_to_table("devices", columns=[
            "id", "site_id", "key", "kind", "online"], records=[
            (i + 1, site_id, f"em-{i}", "meter", True) for i in range(units)])
        await conn.copy_records_to_table("billing_meters", columns=[
            "id", "site_id", "code", "utility", "scope", "unit_id", "device_key", "register",
            "multiplier", "installed_at", "initial_reading", "created_at", "updated_at"],
            records=[(i + 1, site_id, f"E-{i}", "electricity", "unit", i + 1, f"em-{i}",
                      "energy_import_kwh", Decimal(1), datetime(2024, 12, 31, 16, tzinfo=UTC),
                      Decimal(0), NOW, NOW) for i in range(units)])
        readings = []
        for i in range(units):
            v0 = Decimal(1000 + i % 5000)
            readings.append((site_id, i + 1, START, "energy_import_kwh", v0, "kWh", 0, NOW))
            readings.append((site_id, i + 1, END, "energy_import_kwh",
                             v0 + Decimal(50 + (i * 37) % 600) + Decimal("0.25"), "kWh", 0,
                             NOW))
        await conn.copy_records_to_table("readings", columns=[
            "site_id", "device_id", "ts", "name", "value", "unit", "event_id", "received_at"],
            records=readings)
        for table in ("buildings", "units", "devices", "billing_meters"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _fees(sessions: Any) -> None:
    from sqlalchemy import select

    from cloud.auth.audit import SYSTEM
    from cloud.db.models import Site
    from cloud.sample_community import load_fee_items

    async with sessions() as session, session.begin():
        site = (await session.execute(select(Site).where(Site.slug == "bench"))).scalar_one()
        await load_fee_items(session, site, [
            {"code": "PF", "name": "物业费", "kind": "area",
             "rule": {"rates": {"residential": "2.20", "commercial": "4.50"},
                      "vacant_share": "0.5"}},
            {"code": "RUB", "name": "垃圾清运费", "kind": "fixed",
             "rule": {"amount": "15.00", "exclude_vacant": True}},
            {"code": "ELEC", "name": "电费", "kind": "metered",
             "rule": {"utility": "electricity", "tiers": [
                 {"upto": "200", "price": "0.5283"}, {"upto": "400", "price": "0.5783"},
                 {"upto": None, "price": "0.8283"}]}}], SYSTEM, NOW)


async def _bench(units: int, fig: Figures) -> None:
    from sqlalchemy import select

    from cloud.auth.audit import SYSTEM
    from cloud.billing.runs import execute, open_run
    from cloud.db.engine import make_engine, migrate, session_factory
    from cloud.db.models import Site
    from cloud.payments.balances import apply_prepaid
    from contract import FakeClock

    with fresh_pg_database() as url:
        await migrate(url)
        t = time.perf_counter()
        await _generate(url, units)
        fig.add(f"generate {units:,} units + meters + {2 * units:,} readings (COPY)",
                f"{time.perf_counter() - t:.1f} s")
        engine = make_engine(url)
        sessions = session_factory(engine)
        try:
            await _fees(sessions)
            async with sessions() as session, session.begin():
                site = (await session.execute(select(Site).where(Site.slug == "bench"))
                        ).scalar_one()
                run, _ = await open_run(session, site=site, cycle="monthly", period="2026-11",
                                        actor=SYSTEM, now=NOW)
                run_id = run.id
            t = time.perf_counter()
            done = await execute(sessions, run_id, clock=FakeClock(NOW), actor=SYSTEM,
                                 settle=apply_prepaid)
            wall = time.perf_counter() - t
        finally:
            await engine.dispose()
    fig.add("bill run wall time", f"{wall:.1f} s", "< 60 s (100,000 units)")
    fig.add("units per second", f"{units / wall:,.0f}")
    fig.add("bills / run total", f"{done.bills:,} / {done.total} yuan")


def run(quick: bool = False) -> Figures:
    units = QUICK_UNITS if quick else UNITS
    fig = header(f"Billing: monthly bill run, {units:,} units and meters on PostgreSQL")
    asyncio.run(_bench(units, fig))
    return fig
