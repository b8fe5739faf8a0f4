"""The ``patrol`` dataset as the edge tracks it: typed plans, routes, checkpoints and tags,
and the schedule of a plan's rounds in site time.

Reading is forgiving per entry: a plan naming an unknown route, a route with no usable point, a
bad time of day… is skipped with its reason (logged, and kept in ``PatrolPlans.skipped`` for
/healthz), never the whole document — one typo in the console must not stop every round.
The rules themselves are ``contract.patrol``'s module docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

log = structlog.get_logger("edge.patrol.plans")

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    code: str
    name: str
    receiver: str | None = None
    qr: bool = False
    building: str = ""
    floor: str = ""
    area: str = ""


@dataclass(frozen=True, slots=True)
class Point:
    checkpoint: str
    offset_s: int


@dataclass(frozen=True, slots=True)
class Route:
    code: str
    name: str
    ordered: bool
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    route: Route
    days: frozenset[int]
    start: time
    end: time
    every_s: int
    start_window_s: int
    tolerance_s: int
    late_s: int
    tolerances: Mapping[str, int] = field(default_factory=dict)
    escalate_s: int = 0

    def tolerance_for(self, checkpoint: str) -> int:
        return self.tolerances.get(checkpoint, self.tolerance_s)


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    guard: str
    label: str = ""


@dataclass(slots=True)
class PatrolPlans:
    """One dataset version, typed. ``skipped``: (where, why) of each entry left out."""

    version: int = 0
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def checkpoint_at(self, receiver: str) -> str | None:
        """The checkpoint a receiver stands at (the first one naming it), if any."""
        for cp in self.checkpoints.values():
            if cp.receiver == receiver:
                return cp.code
        return None

    def guard_of(self, tag: str | None) -> str | None:
        """The guard a tag is issued to; None for an unissued (or no) tag."""
        entry = self.tags.get(tag) if tag else None
        return entry.guard if entry else None


class _Skip(ValueError):
    """One entry cannot be used: the message says why."""


def _int(raw: Any, what: str, minimum: int = 0) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < minimum:
        raise _Skip(f"{what} must be an integer ≥ {minimum}, not {raw!r}")
    return raw


def _str(raw: Any, what: str) -> str:
    if not isinstance(raw, str):
        raise _Skip(f"{what} must be text, not {raw!r}")
    return raw


def parse_time_of_day(raw: Any, what: str = "time") -> time:
    """``HH:MM:SS`` (or ``HH:MM``) → a time of day; _Skip (a ValueError) when it is not one."""
    if isinstance(raw, str):
        parts = raw.strip().split(":")
        if len(parts) in (2, 3) and all(p.isdigit() and len(p) == 2 for p in parts):
            h, m, s = (int(p) for p in (*parts, "00")[:3])
            if h < 24 and m < 60 and s < 60:
                return time(h, m, s)
    raise _Skip(f"{what} must be HH:MM:SS, not {raw!r}")


def _checkpoint(code: str, raw: Any) -> Checkpoint:
    if not isinstance(raw, dict):
        raise _Skip("not an object")
    receiver = raw.get("receiver")
    if receiver is not None:
        receiver = _str(receiver, "receiver") or None
    return Checkpoint(code=code, name=_str(raw.get("name", code), "name") or code,
                      receiver=receiver, qr=bool(raw.get("qr", False)),
                      building=str(raw.get("building") or ""), floor=str(raw.get("floor") or ""),
                      area=str(raw.get("area") or ""))


def _route(code: str, raw: Any, checkpoints: Mapping[str, Checkpoint]) -> Route:
    if not isinstance(raw, dict) or not isinstance(raw.get("points"), list):
        raise _Skip("not an object with a points list")
    points: list[Point] = []
    seen: set[str] = set()
    for i, p in enumerate(raw["points"]):
        if not isinstance(p, dict) or p.get("checkpoint") not in checkpoints:
            raise _Skip(f"points[{i}] names no known checkpoint ({p!r})")
        if p["checkpoint"] in seen:
            raise _Skip(f"points[{i}]: checkpoint {p['checkpoint']!r} twice")
        seen.add(p["checkpoint"])
        points.append(Point(p["checkpoint"], _int(p.get("offset_s", 0), f"points[{i}].offset_s")))
    if not points:
        raise _Skip("empty route")
    return Route(code=code, name=_str(raw.get("name", code), "name") or code,
                 ordered=bool(raw.get("ordered", False)), points=tuple(points))


def _plan(code: str, raw: Any, routes: Mapping[str, Route]) -> Plan:
    if not isinstance(raw, dict):
        raise _Skip("not an object")
    route = routes.get(raw.get("route"))  # type: ignore[arg-type]
    if route is None:
        raise _Skip(f"unknown or unusable route {raw.get('route')!r}")
    days = raw.get("days")
    if (not isinstance(days, list) or not days
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                       for d in days)):
        raise _Skip(f"days must be ISO weekdays 1..7, not {days!r}")
    tolerances = raw.get("tolerances") or {}
    if not isinstance(tolerances, dict):
        raise _Skip("tolerances must be an object")
    return Plan(code=code, name=_str(raw.get("name", code), "name") or code, route=route,
                days=frozenset(days), start=parse_time_of_day(raw.get("start"), "start"),
                end=parse_time_of_day(raw.get("end"), "end"),
                every_s=_int(raw.get("every_s", 0), "every_s"),
                start_window_s=_int(raw.get("start_window_s", 0), "start_window_s"),
                tolerance_s=_int(raw.get("tolerance_s", 0), "tolerance_s"),
                late_s=_int(raw.get("late_s", 0), "late_s"),
                tolerances={str(k): _int(v, f"tolerances.{k}") for k, v in tolerances.items()},
                escalate_s=_int(raw.get("escalate_s", 0), "escalate_s"))


def _section(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = doc.get(name)
    return raw if isinstance(raw, dict) else {}


def read_plans(doc: Any) -> PatrolPlans:
    """A ``PatrolDocument`` (as JSON decoded it) → ``PatrolPlans``; entries it cannot use are
    skipped with a logged reason. ValueError only when it is not a document at all."""
    if not isinstance(doc, dict):
        raise ValueError("the patrol dataset must be a JSON object")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(f"the patrol dataset needs an integer version, not {version!r}")
    out = PatrolPlans(version=version)

    def take(section: str, parse: Any, into: dict[str, Any]) -> None:
        for code, raw in _section(doc, section).items():
            try:
                into[str(code)] = parse(str(code), raw)
            except _Skip as exc:
                out.skipped.append((f"{section}.{code}", str(exc)))

    take("checkpoints", _checkpoint, out.checkpoints)
    take("routes", lambda c, r: _route(c, r, out.checkpoints), out.routes)
    take("plans", lambda c, r: _plan(c, r, out.routes), out.plans)
    take("tags", lambda k, r: Tag(k, _str(r.get("guard") if isinstance(r, dict) else None,
                                          "guard"), str(r.get("label") or "")), out.tags)
    for where, why in out.skipped:
        log.warning("patrol.dataset_entry_skipped", version=version, where=where, why=why)
    return out


# -- the schedule ---------------------------------------------------------------------------

def round_id(plan: str, scheduled: datetime) -> str:
    """``<plan>@<scheduled start, UTC ISO to the second, trailing Z>``: the same round is
    named alike by the edge, the console and a report, before and after a restart."""
    return f"{plan}@{scheduled.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def _shift_starts(plan: Plan, day: date, tz: ZoneInfo) -> list[datetime]:
    """The starts of the shift that begins on site date ``day`` (before the weekday filter),
    in UTC. Wall-clock arithmetic, then zoneinfo: a round "every 2 hours from 22:00" stays on
    the even hours across a DST change (a wall time in a DST gap lands an hour on)."""
    first = datetime.combine(day, plan.start)
    if plan.every_s <= 0:
        walls = [first]
    else:
        end = datetime.combine(day if plan.end > plan.start else day + DAY, plan.end)
        step = timedelta(seconds=plan.every_s)
        walls, at = [], first
        while at < end:
            walls.append(at)
            at += step
    return [w.replace(tzinfo=tz).astimezone(UTC) for w in walls]


def scheduled_starts(plan: Plan, tz: ZoneInfo, since_utc: datetime,
                     until_utc: datetime) -> list[datetime]:
    """The UTC starts of ``plan``'s rounds in ``[since_utc, until_utc)``, sorted, each on a
    day of ``plan.days`` (ISO weekday of that start in site time)."""
    if until_utc <= since_utc:
        return []
    day = since_utc.astimezone(tz).date() - DAY  # yesterday's overnight shift reaches today
    last = until_utc.astimezone(tz).date()
    found: set[datetime] = set()
    while day <= last:
        for s in _shift_starts(plan, day, tz):
            if since_utc <= s < until_utc and s.astimezone(tz).isoweekday() in plan.days:
                found.add(s)
        day += DAY
    return sorted(found)


def next_start(plan: Plan, tz: ZoneInfo, after_utc: datetime) -> datetime | None:
    """The first start strictly after ``after_utc`` (within 8 days: every plan has one a week)."""
    since = after_utc + timedelta(microseconds=1)
    for lo, hi in ((0, 1), (1, 8)):  # usually tomorrow at the latest: look there first
        got = scheduled_starts(plan, tz, since + lo * DAY, since + hi * DAY)
        if got:
            return got[0]
    return None
