"""Cockpit rollups on PostgreSQL: the 30-day energy trend of a site with 2,000 meters and a
year of hourly rollups must answer in < 200 ms.

The table is filled by bulk ``INSERT … SELECT generate_series`` straight into
``cockpit_hourly`` (what is measured is reading, not ingest): **building and site rows for a
whole year**, and **device rows for the last 30 days only** — a year of device rows would be
17.5 M rows per metric, too many for a quick run; the trend reads ``site`` and ``building``
subjects, and the index it uses starts with (site, metric, subject type), so device rows of
older months would not be on its path. Two metrics (kWh, m³), 40 buildings of 50 meters.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.common import Figures, header
from tests.support.services import fresh_pg_database

METERS = 2000
QUICK_METERS = 200
PER_BUILDING = 50
DEVICE_DAYS = 30
YEAR_H = 365 * 24
NOW = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
RUNS = 30


def _fill_sql(meters: int) -> list[str]:
    end = NOW.replace(minute=0)
    year = f"timestamptz '{end.isoformat()}' - make_interval(hours => h)"
    buildings = max(1, meters // PER_BUILDING)
    out = []
    for metric, scale in (("energy_kwh", "0.8"), ("water_m3", "0.02")):
        out.append(
            "INSERT INTO cockpit_hourly (site_id, metric, subject_type, subject, hour, value)"
            f" SELECT 1, '{metric}', 'device', 'm-' || lpad(d::text, 4, '0'), {year},"
            f" round(({scale} * (1 + (d * 7 + h) % 5))::numeric, 4)"
            f" FROM generate_series(0, {DEVICE_DAYS * 24 - 1}) h,"
            f" generate_series(0, {meters - 1}) d")
        out.append(
            "INSERT INTO cockpit_hourly (site_id, metric, subject_type, subject, hour, value)"
            f" SELECT 1, '{metric}', 'building', b::text, {year},"
            f" round(({scale} * {PER_BUILDING} * (1 + (b + h) % 5))::numeric, 4)"
            f" FROM generate_series(0, {YEAR_H - 1}) h, generate_series(1, {buildings}) b")
        out.append(
            "INSERT INTO cockpit_hourly (site_id, metric, subject_type, subject, hour, value)"
            f" SELECT 1, '{metric}', 'site', '', {year},"
            f" round(({scale} * {meters} * (1 + h % 5))::numeric, 4)"
            f" FROM generate_series(0, {YEAR_H - 1}) h")
    return out


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(samples) * 1000:.1f} / {p95 * 1000:.1f} ms"


async def _bench(meters: int, fig: Figures) -> None:
    import asyncpg

    from cloud.cockpit import rollups as r
    from cloud.db.engine import make_engine, session_factory

    with fresh_pg_database(migrated=True) as url:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute("INSERT INTO sites (id, slug, name) VALUES (1, 'bench', 'bench')")
            t = time.perf_counter()
            for sql in _fill_sql(meters):
                await conn.execute(sql)
            await conn.execute("ANALYZE cockpit_hourly")
            rows = await conn.fetchval("SELECT count(*) FROM cockpit_hourly")
            size = await conn.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('cockpit_hourly'))")
        finally:
            await conn.close()
        fig.add(f"fill {rows:,} rollup rows ({size})", f"{time.perf_counter() - t:.1f} s")
        engine = make_engine(url)
        sessions = session_factory(engine)
        today = NOW.astimezone(TZ).date()
        bounds = r.day_bounds(today, TZ)
        month = (r.day_start(today - timedelta(days=29), TZ), bounds[1])

        async def timed(what: str, target: str,
                        work: Callable[[AsyncSession], Awaitable[object]]) -> None:
            samples: list[float] = []
            async with sessions() as s:
                t0 = time.perf_counter()
                await work(s)  # the first run: cold caches, a new connection
                fig.add(f"{what} (first run)", f"{(time.perf_counter() - t0) * 1000:.1f} ms")
                for _ in range(RUNS):
                    t0 = time.perf_counter()
                    await work(s)
                    samples.append(time.perf_counter() - t0)
            fig.add(f"{what} (median / p95)", _ms(samples), target)

        async def trend(s: AsyncSession) -> None:
            for metric in (r.ENERGY_KWH, r.WATER_M3):
                await r.daily_totals(s, 1, metric, r.SITE, "", 30, TZ, NOW)

        try:
            await timed("30-day trend kWh + m³, site", "< 200 ms", trend)
            await timed("30-day trend kWh, every building (per day)", "< 200 ms",
                        lambda s: r.daily_by_subject(s, 1, r.ENERGY_KWH, r.BUILDING, 30, TZ, NOW))
            await timed("30-day kWh, every building (per hour)", "", lambda s: r.series(
                s, 1, r.ENERGY_KWH, r.BUILDING, *month))
            await timed("today kWh per building", "", lambda s: r.totals(
                s, 1, r.ENERGY_KWH, r.BUILDING, *bounds))
            await timed(f"top 5 of {meters:,} meters today", "", lambda s: r.top(
                s, 1, r.ENERGY_KWH, r.DEVICE, *bounds))
            await timed("24 hours today, site", "", lambda s: r.hourly_today(
                s, 1, r.ENERGY_KWH, TZ, NOW))
        finally:
            await engine.dispose()


def run(quick: bool = False) -> Figures:
    meters = QUICK_METERS if quick else METERS
    fig = header(f"Cockpit rollups: a year of hourly rollups, {meters:,} meters, on PostgreSQL "
                 f"(device rows: last {DEVICE_DAYS} days)")
    asyncio.run(_bench(meters, fig))
    return fig
