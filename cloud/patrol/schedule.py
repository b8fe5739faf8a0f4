"""When a plan's rounds are scheduled: the same rules as the edge (``contract.patrol``), as a
pure function the console uses for the day's not-yet-seen rounds and the scan window.

Times of day are site time; a round is scheduled on a day only when the round's own start
falls on one of ``days`` (ISO weekdays, site time); ``end`` not after ``start`` runs past
midnight; ``every_s`` 0 is one round a day. Local times are built with zoneinfo (wall clock),
then turned into UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contract.patrol import PlanEntry


def round_id(plan: str, scheduled: datetime) -> str:
    """``<plan>@<scheduled, UTC ISO with Z>``: the id the edge gives the round."""
    return f"{plan}@{scheduled.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def parse_round_id(text: str) -> tuple[str, datetime] | None:
    """(plan, scheduled UTC) of a round id; None when it is not one."""
    plan, _, at = text.rpartition("@")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    if not plan or when.tzinfo is None:
        return None
    return plan, when.astimezone(UTC)


def _shift(plan: PlanEntry, day: date, tz: ZoneInfo) -> list[datetime]:
    """The round starts of the shift beginning on ``day``, before the ``days`` filter."""
    start = datetime.combine(day, time.fromisoformat(plan["start"]))
    end_t = time.fromisoformat(plan["end"])
    end = datetime.combine(day if end_t > start.time() else day + timedelta(days=1), end_t)
    if plan["every_s"] <= 0:
        local = [start]
    else:
        local, at = [], start
        while at < end:
            local.append(at)
            at += timedelta(seconds=plan["every_s"])
    return [t.replace(tzinfo=tz).astimezone(UTC) for t in local
            if t.isoweekday() in plan["days"]]


def scheduled_starts(plan: PlanEntry, tz: ZoneInfo, since: datetime,
                     until: datetime) -> list[datetime]:
    """The UTC round starts of ``plan`` in ``[since, until)``, sorted."""
    first = since.astimezone(tz).date() - timedelta(days=1)  # yesterday's shift may run on
    last = until.astimezone(tz).date()
    out: list[datetime] = []
    day = first
    while day <= last:
        out.extend(t for t in _shift(plan, day, tz) if since <= t < until)
        day += timedelta(days=1)
    return sorted(set(out))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants a site-local date runs between."""
    start = datetime.combine(day, time.min, tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tz).astimezone(UTC)
    return start, end
