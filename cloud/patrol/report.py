"""Patrol report arithmetic: rounds grouped per guard, route or day, with their rates.

Pure functions over plain ``RoundFact`` rows, so the figures can be checked by hand; the
query that produces the facts and the HTTP routes are in ``report_routes``.

Definitions (the report's columns):

- **planned** (``rounds_planned``): the rounds in ``patrol_rounds`` whose scheduled start falls
  on the day (site time). The ingest stores every round the edge scheduled once it has an
  outcome or has started — including rounds nobody started (``patrol.round_missed``) — so a
  round missed is planned, not absent. Rounds still in progress count as planned but are
  neither completed, incomplete nor missed until they end.
- **completed**: outcome ``complete`` (every checkpoint visited, on time or late);
  **incomplete**: ended with at least one checkpoint missed; **missed**: never started within
  its start window.
- ``completion_rate`` = completed ÷ planned × 100, two decimals (half up), a Decimal string;
  null when nothing was planned.
- **checkpoints due** (``checkpoints_due``): over the rounds that ended, each checkpoint of the
  route once: ``on_time + late + missed`` of a completed or incomplete round, and every
  checkpoint of a missed round's route (none was visited, so all count as **missed**). A
  round in progress adds no checkpoint figures yet. ``out_of_order`` visits are also on time
  or late, so they are not a separate share.
- ``on_time_rate`` = on time ÷ checkpoints due × 100, same rounding; null when none was due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal

By = Literal["guard", "route", "day"]
BY_VALUES: Final[tuple[By, ...]] = ("guard", "route", "day")
ENDED: Final = ("completed", "incomplete", "missed")
TOTAL_KEY: Final = "total"
#: The group of rounds nobody started (a missed round names no guard).
NO_GUARD: Final = ""
WEEKDAYS_ZH: Final = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
COLUMNS: Final = ("rounds_planned", "rounds_completed", "rounds_incomplete", "rounds_missed",
                  "completion_rate", "checkpoints_due", "on_time", "late", "missed",
                  "on_time_rate")


@dataclass(frozen=True, slots=True)
class RoundFact:
    """One round of ``patrol_rounds`` as the report reads it."""

    day: date  # site-local date of the scheduled start
    route: str
    guard: str | None
    status: str  # scheduled | started | completed | incomplete | missed
    on_time: int = 0
    late: int = 0
    missed: int = 0
    route_points: int = 0  # the route's checkpoints (a missed round misses all of them)


@dataclass(slots=True)
class Tally:
    """The sums of one group."""

    rounds_planned: int = 0
    rounds_completed: int = 0
    rounds_incomplete: int = 0
    rounds_missed: int = 0
    checkpoints_due: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0

    def add(self, r: RoundFact) -> None:
        self.rounds_planned += 1
        if r.status == "completed":
            self.rounds_completed += 1
        elif r.status == "incomplete":
            self.rounds_incomplete += 1
        elif r.status == "missed":
            self.rounds_missed += 1
        if r.status in ("completed", "incomplete"):
            self.on_time += r.on_time
            self.late += r.late
            self.missed += r.missed
            self.checkpoints_due += r.on_time + r.late + r.missed
        elif r.status == "missed":
            self.missed += r.route_points
            self.checkpoints_due += r.route_points


def rate(part: int, whole: int) -> Decimal | None:
    """``part / whole`` in percent with two decimals, half up; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: str
    label: str
    tally: Tally = field(default_factory=Tally)

    @property
    def completion_rate(self) -> Decimal | None:
        return rate(self.tally.rounds_completed, self.tally.rounds_planned)

    @property
    def on_time_rate(self) -> Decimal | None:
        return rate(self.tally.on_time, self.tally.checkpoints_due)

    def values(self) -> list[Any]:
        """The figures in ``COLUMNS`` order (rates as Decimal or None)."""
        t = self.tally
        return [t.rounds_planned, t.rounds_completed, t.rounds_incomplete, t.rounds_missed,
                self.completion_rate, t.checkpoints_due, t.on_time, t.late, t.missed,
                self.on_time_rate]

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label}
        for name, value in zip(COLUMNS, self.values(), strict=True):
            out[name] = str(value) if isinstance(value, Decimal) else value
        return out


def key_of(r: RoundFact, by: By) -> str:
    if by == "guard":
        return r.guard or NO_GUARD
    if by == "route":
        return r.route
    return r.day.isoformat()


def day_label(day: date) -> str:
    return f"{day.isoformat()} {WEEKDAYS_ZH[day.weekday()]}"


def group(facts: Iterable[RoundFact], by: By,
          label: Callable[[str], str]) -> tuple[list[ReportRow], ReportRow]:
    """The rows of ``facts`` grouped ``by``, sorted by key, and the totals row. ``label``
    names a key (a guard's display name, a route's name)."""
    rows: dict[str, ReportRow] = {}
    total = ReportRow(TOTAL_KEY, "合计 / Total")
    for r in facts:
        k = key_of(r, by)
        if k not in rows:
            rows[k] = ReportRow(k, label(k))
        rows[k].tally.add(r)
        total.tally.add(r)
    return [rows[k] for k in sorted(rows)], total
