"""A round's lifecycle and a checkpoint's states as data: ``rounds.py`` moves a round only
through ``ROUND_LIFECYCLE`` (``advance`` refuses anything else), and docs/patrol.md's tables
say the same thing, so the tracker cannot invent a path the console does not expect.

Round: ``scheduled`` (trackable from ``S - start_window_s``) → ``started`` (first visit by a
guard's tag; an ordered route's first checkpoint) → ``completed`` (every checkpoint visited) or
``incomplete`` (every checkpoint visited or missed, at least one missed); ``scheduled`` →
``missed`` (nobody started it by ``S + start_window_s``).

Checkpoint of a started round: ``pending`` → ``on_time`` (visited by due + tolerance) |
``late`` (by due + tolerance + late_s) | ``missed`` (unvisited at that deadline). A visit to
an ordered route's checkpoint while an earlier one is pending is also counted out of order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from contract.envelope import format_ts, parse_ts
from edge.patrol.plans import PatrolPlans, Plan, round_id

RoundState = Literal["scheduled", "started", "completed", "incomplete", "missed"]
PointState = Literal["pending", "on_time", "late", "missed"]

ROUND_STATE_ZH: Final[dict[RoundState, str]] = {
    "scheduled": "待开始", "started": "进行中", "completed": "已完成",
    "incomplete": "未完成（有漏巡）", "missed": "未开始（漏巡）",
}
POINT_STATE_ZH: Final[dict[PointState, str]] = {
    "pending": "待巡", "on_time": "按时", "late": "迟到", "missed": "漏巡",
}

OPEN: Final = frozenset({"scheduled", "started"})
FINAL: Final = frozenset({"completed", "incomplete", "missed"})
VISITED: Final = frozenset({"on_time", "late"})


@dataclass(frozen=True, slots=True)
class Move:
    """An action on a round: the states it may be taken from and the state it leads to."""

    action: str
    sources: frozenset[str]
    target: RoundState


ROUND_LIFECYCLE: Final[dict[str, Move]] = {m.action: m for m in (
    Move("start", frozenset({"scheduled"}), "started"),
    Move("complete", frozenset({"started"}), "completed"),
    Move("end_incomplete", frozenset({"started"}), "incomplete"),
    Move("miss", frozenset({"scheduled"}), "missed"),
)}


class RoundStateError(ValueError):
    """A move the lifecycle does not have (a bug in the tracker, never a site condition)."""


def advance(state: RoundState, action: str) -> RoundState:
    """The state after ``action``; RoundStateError when the table has no such move."""
    move = ROUND_LIFECYCLE.get(action)
    if move is None or state not in move.sources:
        raise RoundStateError(f"cannot {action} a round that is {state}")
    return move.target


def point_state(at_s: float, due_s: float, tolerance_s: int, late_s: int) -> PointState:
    """How a visit at ``at_s`` to a checkpoint due at ``due_s`` counts (epoch seconds):
    on time up to due + tolerance, late up to the deadline (inclusive), missed after it."""
    if at_s <= due_s + tolerance_s:
        return "on_time"
    if at_s <= due_s + tolerance_s + late_s:
        return "late"
    return "missed"


# -- a round as the tracker holds it (and patrol.db keeps it, as JSON) -----------------------

@dataclass(slots=True)
class PointTrack:
    """One checkpoint of a round: when it is due, its deadline, and how it went."""

    checkpoint: str
    name: str
    offset_s: int
    tolerance_s: int
    due: datetime  # scheduled + offset_s
    deadline: datetime  # due + tolerance + late_s: missed when unvisited at this instant
    state: PointState = "pending"
    out_of_order: bool = False
    visited_at: datetime | None = None
    guard: str | None = None


def _point(scheduled: datetime, late_s: int, checkpoint: str, name: str, offset_s: int,
           tolerance_s: int) -> PointTrack:
    due = scheduled + timedelta(seconds=offset_s)
    return PointTrack(checkpoint, name, offset_s, tolerance_s, due,
                      due + timedelta(seconds=tolerance_s + late_s))


@dataclass(slots=True)
class Round:
    """A scheduled round with the plan it was planned from (a dataset update later does not
    move it). ``emitted``: the keys of the events it has emitted, so none is made twice."""

    id: str
    plan: str
    plan_name: str
    route: str
    route_name: str
    ordered: bool
    scheduled: datetime
    start_window_s: int
    late_s: int
    escalate_s: int
    points: list[PointTrack]
    state: RoundState = "scheduled"
    guard: str | None = None
    tag: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    emitted: list[str] = field(default_factory=list)
    _index: dict[str, PointTrack] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index = {p.checkpoint: p for p in self.points}

    @classmethod
    def planned(cls, plan: Plan, scheduled: datetime, data: PatrolPlans) -> Round:
        points = []
        for p in plan.route.points:
            cp = data.checkpoints.get(p.checkpoint)
            points.append(_point(scheduled, plan.late_s, p.checkpoint,
                                 cp.name if cp else p.checkpoint, p.offset_s,
                                 plan.tolerance_for(p.checkpoint)))
        return cls(id=round_id(plan.code, scheduled), plan=plan.code, plan_name=plan.name,
                   route=plan.route.code, route_name=plan.route.name,
                   ordered=plan.route.ordered, scheduled=scheduled,
                   start_window_s=plan.start_window_s, late_s=plan.late_s,
                   escalate_s=plan.escalate_s, points=points)

    @property
    def opens_at(self) -> datetime:
        """The earliest a visit may start it (early start allowed by the window)."""
        return self.scheduled - timedelta(seconds=self.start_window_s)

    @property
    def start_deadline(self) -> datetime:
        return self.scheduled + timedelta(seconds=self.start_window_s)

    @property
    def last_deadline(self) -> datetime:
        return max(p.deadline for p in self.points)

    def point(self, checkpoint: str) -> PointTrack | None:
        return self._index.get(checkpoint)

    def next_deadline(self) -> datetime | None:
        """When this round next changes on its own: its start deadline while scheduled, the
        earliest pending checkpoint's deadline while started, never once it ended."""
        if self.state == "scheduled":
            return self.start_deadline
        if self.state == "started":
            return min((p.deadline for p in self.points if p.state == "pending"), default=None)
        return None

    def counts(self) -> dict[str, int]:
        return {"on_time": sum(p.state == "on_time" for p in self.points),
                "late": sum(p.state == "late" for p in self.points),
                "missed": sum(p.state == "missed" for p in self.points),
                "out_of_order": sum(p.out_of_order for p in self.points)}

    def to_json(self) -> dict[str, Any]:
        """Compact: a point's times follow from ``scheduled`` and its offsets (a 200-point
        round is written on every change, so it must stay cheap)."""
        return {"id": self.id, "plan": self.plan, "plan_name": self.plan_name,
                "route": self.route, "route_name": self.route_name, "ordered": self.ordered,
                "scheduled": format_ts(self.scheduled), "start_window_s": self.start_window_s,
                "late_s": self.late_s, "escalate_s": self.escalate_s, "state": self.state,
                "guard": self.guard, "tag": self.tag, "started_at": _ts(self.started_at),
                "ended_at": _ts(self.ended_at), "emitted": list(self.emitted),
                "points": [[p.checkpoint, p.name, p.offset_s, p.tolerance_s, p.state,
                            p.out_of_order, _ts(p.visited_at), p.guard] for p in self.points]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Round:
        scheduled, late_s = parse_ts(raw["scheduled"]), raw["late_s"]
        points = []
        for cp, name, offset_s, tolerance_s, state, ooo, visited_at, guard in raw["points"]:
            p = _point(scheduled, late_s, cp, name, offset_s, tolerance_s)
            p.state, p.out_of_order, p.visited_at, p.guard = state, ooo, _parse(visited_at), guard
            points.append(p)
        return cls(id=raw["id"], plan=raw["plan"], plan_name=raw["plan_name"],
                   route=raw["route"], route_name=raw["route_name"], ordered=raw["ordered"],
                   scheduled=scheduled, start_window_s=raw["start_window_s"], late_s=late_s,
                   escalate_s=raw["escalate_s"], points=points, state=raw["state"],
                   guard=raw["guard"], tag=raw["tag"], started_at=_parse(raw["started_at"]),
                   ended_at=_parse(raw["ended_at"]), emitted=list(raw["emitted"]))


def _ts(at: datetime | None) -> str | None:
    return None if at is None else format_ts(at)


def _parse(raw: str | None) -> datetime | None:
    return None if raw is None else parse_ts(raw)
