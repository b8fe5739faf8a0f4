"""Hourly rollups (``cockpit_hourly``): the one bulk write ingest makes, and what panels read.

Writing: ``add(session, rows)`` adds sums to their (site, metric, subject type, subject, hour)
cell with one upsert (``value = cockpit_hourly.value + excluded.value``), so batches in any
order and size add up; rows are summed per cell first (one statement may not touch a row
twice). Ingest calls it inside the batch's transaction, so a rollup is applied exactly once,
like every other effect of an event.

Reading (every function takes UTC instants; "days" are the site's, from its zone):

* ``series``: every cell of one metric and subject type over ``[start, end)``.
* ``totals``: the sum per subject over ``[start, end)`` (today's kWh per building, the top
  devices, income today).
* ``hourly``: 24 numbers for one subject over one of the site's days, by local hour.
* ``daily_totals``: one number per site day for the ``days`` days up to today (the trend);
  ``daily_by_subject`` the same for every building (or lot, door…) at once, summed in SQL.
* ``hourly_today``: ``hourly`` for today (``day_offset=-1``: yesterday).
* ``meter_anomalies`` and ``elevator_cars``: the live tables the energy and elevator panels show.

Hour buckets are UTC hours; a zone a whole number of hours off UTC (every zone in China) maps
them to its local hours exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.cockpit.tables import CockpitElevator, CockpitHourly, CockpitMeterState
from cloud.db.dialect import dialect_insert, dialect_name, pg_driver
from cloud.db.models import Device

HOURLY = cast(Table, CockpitHourly.__table__)
ZERO = Decimal(0)

# -- metrics and subjects (docs/cockpit.md) ---------------------------------------------------

ENERGY_KWH = "energy_kwh"
WATER_M3 = "water_m3"
PARKING_ENTRIES = "parking_entries"
PARKING_EXITS = "parking_exits"
PARKING_INCOME_FEN = "parking_income_fen"
GATE_OPENED = "gate_opened"
DOOR_EVENTS = "door_events"
DOOR_FORCED = "door_forced"
DOOR_HELD = "door_held"
ALARM_EVENTS = "alarm_events"
METRICS = (ENERGY_KWH, WATER_M3, PARKING_ENTRIES, PARKING_EXITS, PARKING_INCOME_FEN,
           GATE_OPENED, DOOR_EVENTS, DOOR_FORCED, DOOR_HELD, ALARM_EVENTS)

SITE, DEVICE, BUILDING, LOT, LANE, DOOR = "site", "device", "building", "lot", "lane", "door"
#: The subject of a ``site`` row.
WHOLE_SITE = ""

#: What a meter's ``anomaly`` means (``cockpit_meter_state.anomaly``), zh / en.
ANOMALY_LABELS: dict[str, tuple[str, str]] = {
    "energy_backwards": ("电表读数倒退（换表或清零）", "energy counter went backwards (replaced "
                         "or reset)"),
    "energy_implausible": ("电表读数异常跳增", "energy counter rose implausibly"),
    "water_backwards": ("水表读数倒退（换表或清零）", "water counter went backwards (replaced "
                        "or reset)"),
    "water_implausible": ("水表读数异常跳增", "water counter rose implausibly"),
}


class Cell(NamedTuple):
    """One rollup addition: ``value`` is added to the cell's sum."""

    site_id: int
    metric: str
    subject_type: str
    subject: str
    hour: datetime
    value: Decimal


def hour_of(ts: datetime) -> datetime:
    """The UTC hour (its first instant) ``ts`` falls in."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: rollups take timezone-aware times only")
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def merged(rows: Iterable[Cell]) -> list[Cell]:
    """``rows`` summed per cell (zero sums left out), in key order."""
    sums: dict[tuple[int, str, str, str, datetime], Decimal] = defaultdict(Decimal)
    for r in rows:
        sums[(r.site_id, r.metric, r.subject_type, r.subject, r.hour)] += r.value
    return [Cell(*k, v) for k, v in sorted(sums.items()) if v]


_PG_ADD = (
    "INSERT INTO cockpit_hourly (site_id, metric, subject_type, subject, hour, value)"
    " SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
    " $6::numeric[])"
    " ON CONFLICT (site_id, metric, subject_type, subject, hour)"
    " DO UPDATE SET value = cockpit_hourly.value + excluded.value")


async def add(session: AsyncSession, rows: Iterable[Cell]) -> int:
    """Add ``rows`` to their cells in one statement; the number of cells touched.

    PostgreSQL: one ``INSERT … SELECT unnest(…) ON CONFLICT … DO UPDATE`` (one round trip
    whatever the batch size; the session's transaction must already be open, as it is in
    ingest). SQLite: the same upsert as one executemany.
    """
    cells = merged(rows)
    if not cells:
        return 0
    if dialect_name(session) == "postgresql":
        driver = await pg_driver(session)
        await driver.execute(_PG_ADD, *(list(col) for col in zip(*cells, strict=True)))
        return len(cells)
    ins = dialect_insert(session, HOURLY)
    stmt = ins.on_conflict_do_update(
        index_elements=["site_id", "metric", "subject_type", "subject", "hour"],
        set_={"value": HOURLY.c.value + ins.excluded.value})
    await session.execute(stmt, [c._asdict() for c in cells])
    return len(cells)


# -- reading ------------------------------------------------------------------------------


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant the site's ``day`` starts (its local midnight)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the site's ``day`` in UTC (23 or 25 hours across a DST change)."""
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


def _where(site_id: int, metric: str, subject_type: str, start: datetime,
           end: datetime) -> list[ColumnElement[bool]]:
    t = CockpitHourly
    return [t.site_id == site_id, t.metric == metric, t.subject_type == subject_type,
            t.hour >= start, t.hour < end]


async def series(session: AsyncSession, site_id: int, metric: str, subject_type: str,
                 start: datetime, end: datetime,
                 subject: str | None = None) -> dict[tuple[str, datetime], Decimal]:
    """Every cell of ``metric`` for ``subject_type`` (one ``subject`` when given) with an hour
    in ``[start, end)``: ``{(subject, hour): value}``; hours without data are absent."""
    t = CockpitHourly
    q = select(t.subject, t.hour, t.value).where(*_where(site_id, metric, subject_type, start,
                                                         end))
    if subject is not None:
        q = q.where(t.subject == subject)
    return {(s, h): v for s, h, v in (await session.execute(q)).all()}


async def totals(session: AsyncSession, site_id: int, metric: str, subject_type: str,
                 start: datetime, end: datetime,
                 subjects: Sequence[str] | None = None) -> dict[str, Decimal]:
    """The sum per subject over ``[start, end)`` (subjects without data are absent)."""
    t = CockpitHourly
    q = (select(t.subject, func.sum(t.value))
         .where(*_where(site_id, metric, subject_type, start, end)).group_by(t.subject))
    if subjects is not None:
        q = q.where(t.subject.in_(list(subjects)))
    return {s: Decimal(v) for s, v in (await session.execute(q)).all() if v is not None}


async def total(session: AsyncSession, site_id: int, metric: str, start: datetime,
                end: datetime) -> Decimal:
    """The site's sum of ``metric`` over ``[start, end)`` (0 without data)."""
    found = await totals(session, site_id, metric, SITE, start, end, [WHOLE_SITE])
    return found.get(WHOLE_SITE, ZERO)


async def top(session: AsyncSession, site_id: int, metric: str, subject_type: str,
              start: datetime, end: datetime, limit: int = 5) -> list[tuple[str, Decimal]]:
    """The ``limit`` subjects with the highest sum over ``[start, end)``, highest first
    (ties by subject), positive sums only."""
    t = CockpitHourly
    summed = func.sum(t.value)
    q = (select(t.subject, summed).where(*_where(site_id, metric, subject_type, start, end))
         .group_by(t.subject).having(summed > 0).order_by(summed.desc(), t.subject)
         .limit(limit))
    return [(s, Decimal(v)) for s, v in (await session.execute(q)).all()]


async def hourly(session: AsyncSession, site_id: int, metric: str, subject_type: str,
                 subject: str, day: date, tz: ZoneInfo) -> list[Decimal]:
    """24 sums for the site's ``day``, index = local hour (across a DST change the repeated
    hour adds up and the skipped one stays 0)."""
    start, end = day_bounds(day, tz)
    out = [ZERO] * 24
    for (_, hour), value in (await series(session, site_id, metric, subject_type, start, end,
                                          subject)).items():
        out[hour.astimezone(tz).hour] += value
    return out


async def hourly_today(session: AsyncSession, site_id: int, metric: str, tz: ZoneInfo,
                       now: datetime, subject_type: str = SITE, subject: str = WHOLE_SITE,
                       day_offset: int = 0) -> list[Decimal]:
    """``hourly`` for today in the site's zone (``day_offset=-1``: yesterday); ``now`` is the
    console's clock."""
    day = now.astimezone(tz).date() + timedelta(days=day_offset)
    return await hourly(session, site_id, metric, subject_type, subject, day, tz)


def _days(days: int, tz: ZoneInfo, now: datetime) -> list[date]:
    today = now.astimezone(tz).date()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


async def daily_by_subject(session: AsyncSession, site_id: int, metric: str,
                           subject_type: str, days: int, tz: ZoneInfo, now: datetime,
                           subjects: Sequence[str] | None = None,
                           ) -> tuple[list[date], dict[str, list[Decimal]]]:
    """The site days up to and including today (oldest first) and, per subject with data,
    one sum per day — summed in the database (one row per subject and day comes back, not one
    per hour: a 30-day trend of 40 buildings is 1,200 rows, not 28,800)."""
    span = _days(days, tz, now)
    ends = [day_start(d + timedelta(days=1), tz) for d in span]
    t = CockpitHourly
    day_ix = case(*[(t.hour < b, i) for i, b in enumerate(ends)], else_=days)
    inner = (select(t.subject.label("subject"), day_ix.label("d"), t.value.label("value"))
             .where(*_where(site_id, metric, subject_type, day_start(span[0], tz), ends[-1])))
    if subjects is not None:
        inner = inner.where(t.subject.in_(list(subjects)))
    sub = inner.subquery()
    q = select(sub.c.subject, sub.c.d, func.sum(sub.c.value)).group_by(sub.c.subject, sub.c.d)
    out: dict[str, list[Decimal]] = {}
    for subject, d, value in (await session.execute(q)).all():
        if value is not None and 0 <= int(d) < days:
            out.setdefault(subject, [ZERO] * days)[int(d)] += Decimal(value)
    return span, out


@dataclass(frozen=True, slots=True)
class DailyTotals:
    days: list[date]
    values: list[Decimal]
    #: Whether any cell existed in the period (a panel says "no data" instead of zeros).
    any_data: bool


async def daily_totals(session: AsyncSession, site_id: int, metric: str, subject_type: str,
                       subject: str, days: int, tz: ZoneInfo, now: datetime) -> DailyTotals:
    """One sum per site day for the ``days`` days up to and including today (oldest first)."""
    span, found = await daily_by_subject(session, site_id, metric, subject_type, days, tz, now,
                                         [subject])
    values = found.get(subject)
    return DailyTotals(span, values or [ZERO] * days, values is not None)


class MeterAnomaly(NamedTuple):
    device_id: int
    device: str
    reason: str
    at: datetime


async def meter_anomalies(session: AsyncSession, site_id: int,
                          since: datetime | None = None) -> list[MeterAnomaly]:
    """Meters whose counters last misbehaved (at or after ``since`` when given), newest
    first; ``reason`` is a key of ``ANOMALY_LABELS``."""
    s = CockpitMeterState
    q = (select(s.device_id, Device.key, s.anomaly, s.anomaly_at)
         .join(Device, Device.id == s.device_id)
         .where(s.site_id == site_id, s.anomaly.is_not(None), s.anomaly_at.is_not(None))
         .order_by(s.anomaly_at.desc(), Device.key))
    if since is not None:
        q = q.where(s.anomaly_at >= since)
    return [MeterAnomaly(int(i), k, str(a), at) for i, k, a, at in (await session.execute(q)).all()
            if at is not None]


async def elevator_cars(session: AsyncSession, site_id: int) -> list[CockpitElevator]:
    """Every elevator car's live state, by building and device."""
    e = CockpitElevator
    q = select(e).where(e.site_id == site_id).order_by(e.building, e.device)
    return list((await session.scalars(q)).all())
