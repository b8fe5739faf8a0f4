"""Billing periods in the site's calendar: "2026-11" (monthly), "2026-Q4", "2026" (yearly).

A period is the local dates [start, end); its boundaries are local midnight of ``start`` and of
``end`` in the site's time zone, as UTC instants. A meter reading belongs to the period when it
is at or before the end boundary, so a reading at 23:59 local on the last day is this month's,
and one at 00:00 on the first day of the next month closes this month too. A fee item is due
``due_days`` after the period's last day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
_MONTHLY = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTERLY = re.compile(r"^(\d{4})-Q([1-4])$")
_YEARLY = re.compile(r"^(\d{4})$")
MIN_YEAR, MAX_YEAR = 2000, 2100


class PeriodError(ValueError):
    """A cycle or period string we cannot read; ``field`` names which."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field, self.zh, self.en = field, zh, en


@dataclass(frozen=True, slots=True)
class Period:
    cycle: str
    label: str
    start: date
    end: date  # exclusive

    @property
    def months(self) -> int:
        return CYCLE_MONTHS[self.cycle]

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Local midnight of the first day and of the day after the last, as UTC instants."""
        return _midnight(self.start, tz), _midnight(self.end, tz)

    def due_date(self, due_days: int) -> date:
        return self.last_day + timedelta(days=due_days)

    def previous(self, n: int = 1) -> Period:
        """The period ``n`` cycles before this one."""
        y, m = self.start.year, self.start.month - n * self.months
        while m < 1:
            m += 12
            y -= 1
        return _from_month(self.cycle, y, m)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _add_months(y: int, m: int, n: int) -> date:
    m0 = m - 1 + n
    return date(y + m0 // 12, m0 % 12 + 1, 1)


def _from_month(cycle: str, y: int, m: int) -> Period:
    start = date(y, m, 1)
    end = _add_months(y, m, CYCLE_MONTHS[cycle])
    if cycle == "monthly":
        label = f"{y:04d}-{m:02d}"
    elif cycle == "quarterly":
        label = f"{y:04d}-Q{(m - 1) // 3 + 1}"
    else:
        label = f"{y:04d}"
    return Period(cycle, label, start, end)


def parse_period(cycle: str, label: str) -> Period:
    """The period ``label`` of ``cycle``; PeriodError naming ``cycle`` or ``period``."""
    if cycle not in CYCLE_MONTHS:
        raise PeriodError("cycle", f"周期须为 {', '.join(CYCLE_MONTHS)}",
                          f"cycle must be one of {', '.join(CYCLE_MONTHS)}")
    pattern = {"monthly": _MONTHLY, "quarterly": _QUARTERLY, "yearly": _YEARLY}[cycle]
    example = {"monthly": "2026-11", "quarterly": "2026-Q4", "yearly": "2026"}[cycle]
    match = pattern.match(label) if isinstance(label, str) else None
    if match is None:
        shown = str(label)[:20]
        raise PeriodError("period", f"{cycle} 周期的账期格式应为 {example}，收到 {shown!r}",
                          f"a {cycle} period is written like {example}, got {shown!r}")
    year = int(match.group(1))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError("period", f"年份须在 {MIN_YEAR} 到 {MAX_YEAR} 之间",
                          f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    if cycle == "monthly":
        month = int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError("period", "月份须在 01 到 12 之间", "the month must be 01 to 12")
    elif cycle == "quarterly":
        month = (int(match.group(2)) - 1) * 3 + 1
    else:
        month = 1
    return _from_month(cycle, year, month)
