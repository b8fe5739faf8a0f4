"""Door schedules from the site file: when a door stands normally open, and first-card unlock.

A door's ``normally_open`` windows (the time-profile windows of ``edge.access.credentials``:
ISO weekdays and ``from``/``to`` in the site's time zone, a ``to`` not after ``from`` running
past midnight) say when it stands open; ``first_card`` keeps it controlled within a window
until the first granted card there, then open for the rest of that window. Built by
``edge.config.schedule_schema``; run by ``edge.access.scheduler``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge.access.credentials import Window

#: How far ahead the next change of a schedule is looked for (a week and a day).
LOOKAHEAD_DAYS = 8


@dataclass(frozen=True, slots=True)
class DoorSchedule:
    door: str
    windows: tuple[Window, ...]
    first_card: bool = False
    #: The site-file time profile the windows came from, for messages (None: written inline).
    profile: str | None = None

    def is_open(self, local: datetime) -> bool:
        """Whether ``local`` (site time) falls in one of the windows."""
        return any(w.covers(local) for w in self.windows)

    def state(self, at: datetime, tz: ZoneInfo) -> tuple[bool, datetime | None]:
        """(inside a window now, the UTC instant that changes it — None: never in sight)."""
        local = at.astimezone(tz)
        now_open = self.is_open(local)
        for candidate in self._boundaries(local, tz):
            if self.is_open(candidate) != now_open:
                return now_open, candidate.astimezone(UTC)
        return now_open, None

    def _boundaries(self, local: datetime, tz: ZoneInfo) -> list[datetime]:
        times: set[time] = set()
        for w in self.windows:
            times.update((w.start, w.end))
        out = []
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            for t in times:
                at = datetime.combine(day, t, tzinfo=tz)
                if at > local:
                    out.append(at)
        return sorted(out)


@dataclass(frozen=True, slots=True)
class DoorSchedules:
    """Every scheduled door of a site, by door id."""

    doors: tuple[DoorSchedule, ...]
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # a bad zone fails at load, not at the first window

    def get(self, door: str) -> DoorSchedule | None:
        for d in self.doors:
            if d.door == door:
                return d
        return None

    def __iter__(self) -> Iterator[DoorSchedule]:
        return iter(self.doors)

    def __len__(self) -> int:
        return len(self.doors)
