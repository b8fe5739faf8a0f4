"""``courtyard cloud cockpit rebuild [--site SLUG] [--days N]``: recompute a period's rollups
from the stored events (after an upgrade, or to repair).

Per site, in ONE transaction that first locks the site row (the lock every ingest batch of
the site takes, so no batch lands half-way through): delete the site's ``cockpit_hourly``
cells of the period (the ``days`` site days up to today), then replay the period's events in
one pass, in device-time order, through the same rules as ingest (``MeterBook``,
``cells_of``), printing one line per site day as the pass leaves it. Each meter starts from
its last reading before the period (``readings``), so the first rise of the period is the one
ingest booked; the meters' state ends as the replay leaves it. Running it twice gives the
same cells (idempotent).

Elevator cars are live state, not rollups: they are not rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.policy import DEFAULT_POLICY, AlarmPolicy
from cloud.cockpit import rollups as r
from cloud.cockpit.rollup_handlers import (
    ENERGY_REGISTER,
    WATER_REGISTERS,
    MeterBook,
    MeterState,
    buildings_of,
    cells_of,
    counted_kinds,
    meter_states,
    save_meter_states,
)
from cloud.cockpit.tables import CockpitHourly, CockpitMeterState
from cloud.db.models import Device, Event, Reading, Site
from cloud.db.site_selection import sites_named
from cloud.ingest.handlers import StoredEvent
from contract import Kind

log = structlog.get_logger(__name__)

#: Events read per round trip.
CHUNK = 5000
#: How far before the period a meter's last reading is looked for.
LOOKBACK = timedelta(days=31)
DEFAULT_DAYS = 30
DEFAULT_ZONE = "Asia/Shanghai"


@dataclass
class SiteRebuild:
    site: str
    days: int = 0
    events: int = 0
    cells: int = 0
    per_day: list[tuple[str, int]] = field(default_factory=list)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


async def _baselines(session: AsyncSession, site_id: int,
                     start: datetime) -> dict[int, MeterState]:
    """Each meter's counters as of its last reading before ``start`` (within ``LOOKBACK``),
    keeping an anomaly the meter showed before the period."""
    names = (ENERGY_REGISTER, *WATER_REGISTERS)
    ids = set((await session.scalars(select(Device.id).where(
        Device.site_id == site_id, Device.kind == "meter"))).all())
    ids |= set((await session.scalars(select(CockpitMeterState.device_id).where(
        CockpitMeterState.site_id == site_id))).all())
    if not ids:
        return {}
    rd = Reading
    newest = (select(rd.device_id, rd.name, func.max(rd.ts).label("ts"))
              .where(rd.device_id.in_(sorted(ids)), rd.name.in_(names),
                     rd.ts >= start - LOOKBACK, rd.ts < start)
              .group_by(rd.device_id, rd.name).subquery())
    rows = (await session.execute(
        select(rd.device_id, rd.name, rd.value, rd.ts)
        .join(newest, and_(rd.device_id == newest.c.device_id, rd.name == newest.c.name,
                           rd.ts == newest.c.ts)))).all()
    found: dict[int, dict[str, tuple[Any, datetime]]] = {}
    for device_id, name, value, ts in rows:
        found.setdefault(int(device_id), {})[name] = (value, ts)
    before = await meter_states(session, ids)
    out: dict[int, MeterState] = {}
    for device_id in ids:
        regs = found.get(device_id, {})
        water = next((regs[n] for n in WATER_REGISTERS if n in regs), None)
        energy = regs.get(ENERGY_REGISTER)
        stamps = [x[1] for x in (energy, water) if x is not None]
        old = before.get(device_id, MeterState())
        kept = old.anomaly_at is not None and old.anomaly_at < start
        out[device_id] = MeterState(
            last_kwh=energy[0] if energy else None, last_m3=water[0] if water else None,
            last_ts=max(stamps) if stamps else None,
            anomaly=old.anomaly if kept else None, anomaly_at=old.anomaly_at if kept else None)
    return out


async def _event_chunks(session: AsyncSession, site_id: int, kinds: Iterable[str],
                        start: datetime, end: datetime) -> AsyncIterator[list[StoredEvent]]:
    """The site's events of ``kinds`` with a device time in ``[start, end)``, by (ts, id),
    ``CHUNK`` at a time."""
    e = Event
    q = (select(e.id, e.seq, e.ts, e.kind, e.device, e.device_id, e.data, e.priority)
         .where(e.site_id == site_id, e.kind.in_(sorted(kinds)), e.ts >= start, e.ts < end)
         .order_by(e.ts, e.id).execution_options(yield_per=CHUNK))
    result = await session.stream(q)
    async for part in result.partitions(CHUNK):
        yield [StoredEvent(int(i), int(s), ts, k, d, int(di or 0), data or {}, int(p))
               for i, s, ts, k, d, di, data, p in part]


async def rebuild_site(session: AsyncSession, site: Site, days: int, now: datetime,
                       policy: AlarmPolicy, say: Callable[[str], None]) -> SiteRebuild:
    """Rebuild one site's period inside ``session``'s transaction (the caller commits)."""
    # Lock the site row first, as ingest does: its batches wait until this commits.
    await session.execute(update(Site).where(Site.id == site.id).values(slug=Site.slug))
    tz = _zone(site.timezone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start, end = r.day_start(first, tz), r.day_start(today + timedelta(days=1), tz)
    h = CockpitHourly
    await session.execute(delete(h).where(h.site_id == site.id, h.hour >= start,
                                          h.hour < end))
    states = await _baselines(session, site.id, start)
    units = {str(k): u for k, u in (await session.execute(
        select(Device.key, Device.unit_ref).where(Device.site_id == site.id))).all()}
    book = MeterBook(site.id, states, await buildings_of(session, site.id, units))
    kinds = counted_kinds(policy) | {Kind.METER_READING}
    done = SiteRebuild(site.slug)
    span = [first + timedelta(days=i) for i in range(days)]
    seen = dict.fromkeys(span, 0)
    told = 0  # days of ``span`` already printed

    def tell(upto: date) -> None:  # print every day before ``upto`` not printed yet
        nonlocal told
        while told < days and span[told] < upto:
            day = span[told]
            done.per_day.append((day.isoformat(), seen[day]))
            say(f"站点 {site.slug} {day.isoformat()}: {seen[day]:,} 事件 / events")
            told += 1

    # One pass over the period in device-time order (not one query per day: ``events`` has
    # no index on ``ts``, so every query reads the site's events of these kinds).
    async for events in _event_chunks(session, site.id, kinds, start, end):
        cells: list[r.Cell] = []
        for ev in events:
            day = ev.ts.astimezone(tz).date()
            tell(day)
            seen[day] = seen.get(day, 0) + 1
            if ev.kind == Kind.METER_READING:
                book.apply(ev)
            else:
                cells.extend(cells_of(site.id, ev, policy))
        cells.extend(book.cells)
        book.cells.clear()
        done.cells += await r.add(session, cells)
        done.events += len(events)
    tell(today + timedelta(days=1))
    done.days = days
    await save_meter_states(session, site.id, {i: book.states[i] for i in book.changed})
    return done


async def rebuild(sessions: async_sessionmaker[AsyncSession], *, now: datetime,
                  site: str | None = None, days: int = DEFAULT_DAYS,
                  policy: AlarmPolicy | None = None,
                  say: Callable[[str], None] = print) -> list[SiteRebuild]:
    """Rebuild ``site`` (every site when None) over the ``days`` site days up to ``now``'s;
    one transaction per site. Raises ``LookupError`` for an unknown site."""
    if days < 1:
        raise ValueError("days must be at least 1")
    out: list[SiteRebuild] = []
    for s in await sites_named(sessions, site):
        began = time.monotonic()
        async with sessions() as session, session.begin():
            done = await rebuild_site(session, s, days, now, policy or DEFAULT_POLICY, say)
        log.info("cockpit.rebuilt", site=s.slug, days=done.days, events=done.events,
                 cells=done.cells, seconds=round(time.monotonic() - began, 2))
        say(f"站点 {s.slug}: {done.days} 天 / days, {done.events:,} 事件 / events, "
            f"{done.cells:,} 项 / cells")
        out.append(done)
    return out


def main(site: str | None, days: int) -> int:
    """The CLI: migrate, rebuild, print per site and day; exit status 2 for an unknown site."""
    import sys
    from datetime import UTC

    from cloud.cli_task import run_on_console_db, say

    if days < 1:
        print(f"--days: 至少 1 天 / at least 1 (got {days})", file=sys.stderr)
        return 2

    async def work(sessions: Any, settings: Any) -> None:
        await rebuild(sessions, now=datetime.now(UTC), site=site, days=days, say=say)

    return run_on_console_db(work, site=site)
