"""Who gets an order: qualified (skill), serving the site, on duty now; then the least
loaded (fewest open orders) or, as an option, round-robin (longest since last assigned).

Duty is a weekly roster in the site's local time, or ``on_duty`` for someone clocked in by
hand (covering a colleague); the roster is what a property manager actually maintains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.workorders.tables import Technician, TechnicianShift, WorkOrder

#: States in which an order keeps its technicians busy (completed awaits someone else).
BUSY_STATES = ("assigned", "accepted", "in_progress", "paused")


def in_shift(shifts: Iterable[TechnicianShift], local: datetime) -> bool:
    """Whether the local time falls in one of the weekly shifts (overnight ones included)."""
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    yesterday = (day - 1) % 7
    for s in shifts:
        if s.end_min > s.start_min:
            if s.weekday == day and s.start_min <= minute < s.end_min:
                return True
        elif (s.weekday == day and minute >= s.start_min) or (
                s.weekday == yesterday and minute < s.end_min):
            return True
    return False


def on_duty(tech: Technician, shifts: Sequence[TechnicianShift], now: datetime,
            tz: ZoneInfo) -> bool:
    return tech.active and (tech.on_duty or in_shift(shifts, now.astimezone(tz)))


async def open_loads(session: AsyncSession) -> Counter[int]:
    """Open orders per technician id (an order with two people counts for both)."""
    rows = (await session.execute(
        select(WorkOrder.assignee_ids).where(WorkOrder.state.in_(BUSY_STATES)))).scalars()
    load: Counter[int] = Counter()
    for ids in rows:
        load.update(ids or [])
    return load


async def candidates(session: AsyncSession, *, site_id: int, skill: str | None,
                     now: datetime, tz: ZoneInfo) -> list[Technician]:
    """Active technicians with the skill, serving the site and on duty at ``now``."""
    techs = (await session.execute(
        select(Technician).where(Technician.active.is_(True)).order_by(Technician.id)
    )).scalars().all()
    shifts = (await session.execute(select(TechnicianShift))).scalars().all()
    by_tech: dict[int, list[TechnicianShift]] = {}
    for s in shifts:
        by_tech.setdefault(s.technician_id, []).append(s)
    return [t for t in techs
            if (skill is None or skill in (t.skills or []))
            and site_id in (t.site_ids or [])
            and on_duty(t, by_tech.get(t.id, []), now, tz)]


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def choose(techs: Sequence[Technician], load: Counter[int],
           round_robin: bool = False) -> Technician | None:
    """Least loaded first (ties: longest since last assigned, then lowest id); or, with
    ``round_robin``, longest since last assigned regardless of load."""
    if not techs:
        return None

    def waited(t: Technician) -> datetime:
        return t.last_assigned_at or _NEVER

    if round_robin:
        return min(techs, key=lambda t: (waited(t), t.id))
    return min(techs, key=lambda t: (load[t.id], waited(t), t.id))
