"""Schedules: when each site's recurring work is due, in the site's time zone, and the tick
that turns a due schedule into one job.

A spec is ``{"time": "HH:MM"}`` (daily: reminders, late fees, purge) or, for a bill run,
``{"time": "HH:MM", "day_of_month": 1..28, "cycle": "monthly"|"quarterly"|"yearly"}``
(quarterly on the first month of each quarter, yearly in January). Slots are local wall times
of the site (Asia/Shanghai unless the site says otherwise), stored in UTC.

The tick takes each due schedule once (``FOR UPDATE SKIP LOCKED``), enqueues one job keyed
``<schedule id>:<slot>`` for the latest slot that has passed, and moves ``next_due`` to the
first slot after now: a console down for three days runs the missed work once, not three
times, and two consoles ticking together make one job (the key is unique).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Site
from cloud.jobs.claim import enqueue
from cloud.jobs.tables import SCHEDULE_KINDS, Schedule
from contract import Clock

log = structlog.get_logger(__name__)

DEFAULT_ZONE = "Asia/Shanghai"
CYCLES = ("monthly", "quarterly", "yearly")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: The first month of each period of a cycle (a quarterly run bills the quarter just ended).
_MONTHS = {"monthly": tuple(range(1, 13)), "quarterly": (1, 4, 7, 10), "yearly": (1,)}
DEFAULT_SPECS: dict[str, dict[str, Any]] = {
    "bill_run": {"time": "02:00", "day_of_month": 1, "cycle": "monthly"},
    "reminders": {"time": "09:00"},
    "late_fees": {"time": "01:00"},
    "purge": {"time": "03:30"},
}


class SpecError(ValueError):
    """A refused schedule field, named for the form (zh-CN and English)."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field, self.zh, self.en = field, zh, en


@dataclass(frozen=True)
class Spec:
    at: time
    day_of_month: int | None = None
    cycle: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": self.at.strftime("%H:%M")}
        if self.day_of_month is not None:
            out.update(day_of_month=self.day_of_month, cycle=self.cycle)
        return out


def parse_spec(kind: str, spec: object) -> Spec:
    """``spec`` checked for ``kind``; SpecError names the first wrong field."""
    if kind not in SCHEDULE_KINDS:
        raise SpecError("kind", f"类型须为 {', '.join(SCHEDULE_KINDS)}",
                        f"kind must be one of {', '.join(SCHEDULE_KINDS)}")
    if not isinstance(spec, dict):
        raise SpecError("spec", "spec 须为对象", "spec must be an object")
    allowed = ("time", "day_of_month", "cycle") if kind == "bill_run" else ("time",)
    for name in spec:
        if name not in allowed:
            raise SpecError(f"spec.{name}"[:64], f"未知字段：{name}"[:80],
                            f"unknown field: {name}"[:80])
    raw = spec.get("time")
    match = _TIME.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise SpecError("spec.time", "时间须为 HH:MM（00:00–23:59）",
                        "time must be HH:MM (00:00–23:59)")
    at = time(int(match[1]), int(match[2]))
    if kind != "bill_run":
        return Spec(at)
    day = spec.get("day_of_month", 1)
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise SpecError("spec.day_of_month", "每月日期须为 1–28 的整数",
                        "day_of_month must be a whole number from 1 to 28")
    cycle = spec.get("cycle", "monthly")
    if cycle not in CYCLES:
        raise SpecError("spec.cycle", f"周期须为 {', '.join(CYCLES)}",
                        f"cycle must be one of {', '.join(CYCLES)}")
    return Spec(at, day, str(cycle))


def zone_of(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def _local_days(spec: Spec, start: date) -> Any:
    """The local dates a schedule fires on, from ``start`` on (endless)."""
    if spec.day_of_month is None:
        day = start
        while True:
            yield day
            day += timedelta(days=1)
    months = _MONTHS[spec.cycle or "monthly"]
    year, month = start.year, start.month
    while True:
        if month in months:
            day = date(year, month, spec.day_of_month)
            if day >= start:
                yield day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def next_slot(spec: Spec, tz: ZoneInfo, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (UTC). A local time that does not exist on a
    day (a DST gap elsewhere) is taken as the zone resolves it; the slot stays after
    ``after``."""
    local_after = after.astimezone(tz)
    for day in _local_days(spec, local_after.date() - timedelta(days=1)):
        slot = datetime.combine(day, spec.at, tzinfo=tz).astimezone(after.tzinfo)
        if slot > after:
            return slot
    raise AssertionError("unreachable")  # pragma: no cover - the days never end


def _period(cycle: str, local: date) -> str:
    """The label of the period that ended before ``local`` (what a bill run on that day
    bills): the previous month, quarter or year."""
    if cycle == "yearly":
        return str(local.year - 1)
    if cycle == "quarterly":
        q = (local.month - 1) // 3  # the quarter before the current one, 0 = last year's Q4
        return f"{local.year - 1}-Q4" if q == 0 else f"{local.year}-Q{q}"
    first = local.replace(day=1) - timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def job_payload(kind: str, spec: Spec, tz: ZoneInfo, slot: datetime) -> dict[str, Any]:
    """What the job of one slot does: the site-local day it is for (and a bill run's
    cycle and period)."""
    local = slot.astimezone(tz).date()
    out: dict[str, Any] = {"slot": slot.isoformat(), "as_of": local.isoformat()}
    if kind == "bill_run":
        cycle = spec.cycle or "monthly"
        out.update(cycle=cycle, period=_period(cycle, local))
    return out


def slot_key(schedule_id: int, slot: datetime) -> str:
    return f"{schedule_id}:{slot.isoformat()}"


async def tick(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> list[int]:
    """Turn every due schedule into one job; the ids of the jobs enqueued."""
    now = clock.now()
    made: list[int] = []
    async with sessions() as session, session.begin():
        rows = (await session.execute(
            select(Schedule, Site.timezone).join(Site, Site.id == Schedule.site_id)
            .where(Schedule.enabled.is_(True), Schedule.next_due <= now)
            .order_by(Schedule.id).with_for_update(of=Schedule, skip_locked=True))).all()
        for schedule, timezone in rows:
            made.append(await _fire(session, schedule, zone_of(timezone), now))
    if made:
        log.info("schedules.fired", jobs=made)
    return made


async def _fire(session: AsyncSession, schedule: Schedule, tz: ZoneInfo, now: datetime) -> int:
    spec = parse_spec(schedule.kind, schedule.spec)
    assert schedule.next_due is not None
    slot = schedule.next_due
    while (following := next_slot(spec, tz, slot)) <= now:
        slot = following  # the latest slot that has passed: missed ones run once, as this
    job_id = await enqueue(session, kind=schedule.kind, key=slot_key(schedule.id, slot),
                           site_id=schedule.site_id, payload={
                               **job_payload(schedule.kind, spec, tz, slot),
                               "schedule": schedule.id}, now=now)
    schedule.last_slot, schedule.next_due = slot, next_slot(spec, tz, now)
    return job_id


async def site_zone_of(session: AsyncSession, site_id: int) -> ZoneInfo:
    timezone = (await session.execute(select(Site.timezone).where(
        Site.id == site_id))).scalar_one_or_none()
    return zone_of(timezone)
