"""The lane's decision chain: who may enter, what a stay costs, whether the gate opens.

Entry, in order: no plate → shut; blacklist → shut; owner/tenant vehicle → open; monthly pass
(valid, or within its grace days; a reminder when it ends soon) → open; pre-registered visitor
inside the time window → open; anyone else is a temporary vehicle → open while the lot has
room and the lane admits temporary vehicles. Exit: the open session of the plate (found with
the lane's plate matching rules) gives the entry time; owners, valid passes and visitors in
their window leave free; a temporary stay is quoted with the lot's tariff and the gate opens
when nothing is due (free minutes, or paid within the grace period). An exit without an entry
is charged by the tariff's lost-entry policy.

Every decision carries the trail of rules it went through and which stored plate matched by
which rule, because a guard asked "why did the gate open for that car?" must get an answer.
The chain is pure computation over the dataset and the session store; the lane service emits
the events and moves the gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from edge.parking.datasets import ParkingData, end_of_day, pass_state
from edge.parking.sessions import Session, SessionStore
from parkingrules.plates import Lookup, PlateInfo, PlateKind, Strictness, parse
from parkingrules.tariff import Quote, Tariff, quote

V = TypeVar("V")
ZERO = Decimal("0")


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class LaneRules:
    """What the site file says about one lane."""

    id: str
    lot: str
    direction: Direction
    strictness: Strictness = Strictness.OCR
    #: False for an owners-only lane: temporary vehicles are turned away at entry.
    temporary: bool = True


@dataclass(frozen=True, slots=True)
class LotInfo:
    id: str
    name: str
    capacity: int


@dataclass
class Decision:
    open: bool
    category: str  # owner | tenant | staff | pass | visitor | temporary | barred | unknown
    plate: PlateInfo
    lane: str
    lot: str
    at: datetime
    #: Each rule the chain went through and what it found, in order.
    trail: list[str] = field(default_factory=list)
    #: The stored plate that matched (may differ from the read under OCR rules) and the rule.
    matched: str | None = None
    match_rule: str | None = None
    led: list[str] = field(default_factory=list)
    quote: Quote | None = None
    tariff: Tariff | None = None
    #: Where the charged time starts (the entry, or the end of a pass or visitor window).
    charged_from: datetime | None = None
    lost_entry: bool = False
    due: Decimal = ZERO
    session: Session | None = None
    #: "already_inside", "exit_without_entry", "ambiguous_read" … for the cloud's attention.
    anomalies: list[str] = field(default_factory=list)
    reason: str = ""

    def log_fields(self) -> dict[str, Any]:
        return {"lane": self.lane, "lot": self.lot, "plate": self.plate.text,
                "open": self.open, "category": self.category, "matched": self.matched,
                "match_rule": self.match_rule, "trail": self.trail, "due": str(self.due),
                "anomalies": self.anomalies}


def money(amount: Decimal) -> str:
    return f"¥{amount:.2f}"


class DecisionChain:
    """Decides from the current dataset (swapped whole by ``use``) and the session store."""

    def __init__(self, data: ParkingData, sessions: SessionStore, lots: dict[str, LotInfo],
                 tz: ZoneInfo) -> None:
        self.data = data
        self.sessions = sessions
        self.lots = lots
        self.tz = tz

    def use(self, data: ParkingData) -> None:
        """Swap in a new dataset version (one assignment: no lane sees half of it)."""
        self.data = data

    # -- helpers ---------------------------------------------------------------------------

    def _look(self, d: Decision, what: str, found: Lookup[V], strictness: Strictness
              ) -> V | None:
        if found.match is not None:
            d.matched, d.match_rule = found.match.plate, str(found.match.rule)
            d.trail.append(f"{what}: {found.match.plate} ({found.match.rule})")
            return found.match.value
        if found.ambiguous:
            d.trail.append(f"{what}: ambiguous {','.join(found.ambiguous)} ({strictness})")
            d.anomalies.append("ambiguous_read")
        else:
            d.trail.append(f"{what}: none")
        return None

    def _applies(self, lots: frozenset[str], lot: str) -> bool:
        return not lots or lot in lots

    # -- entry -----------------------------------------------------------------------------

    def entry(self, lane: LaneRules, plate: PlateInfo, at: datetime) -> Decision:
        d = _begin(lane, plate, at)
        if d.reason:  # no plate: nothing to look up
            return d
        text, s = plate.text, lane.strictness
        barred = self._look(d, "blacklist", self.data.blacklist.lookup(text, s), s)
        if barred is not None:
            d.category, d.reason = "barred", f"blacklist: {barred.reason}"
            d.led += ["禁止通行", "No entry"]
            return d
        vehicle = self._look(d, "vehicles", self.data.vehicles.lookup(text, s), s)
        if vehicle is not None and self._applies(vehicle.lots, lane.lot):
            d.open, d.category, d.reason = True, vehicle.role, f"{vehicle.role} vehicle"
            d.led += ["欢迎回家", "Welcome home"]
            return self._inside_check(d)
        pas = self._look(d, "passes", self.data.passes.lookup(text, s), s)
        if pas is not None and self._applies(pas.lots, lane.lot):
            state, left = pass_state(pas, at, self.tz)
            d.trail.append(f"pass: {state}, {left} days left")
            if state in ("valid", "grace"):
                d.open, d.category, d.reason = True, "pass", f"monthly pass ({state})"
                if state == "grace":
                    d.led += ["月卡已过期 请续费", "Pass expired: renew"]
                elif left < pas.remind_days:
                    d.led += [f"月卡{left}天后到期", f"Pass ends in {left} days"]
                else:
                    d.led += ["月卡车 欢迎", "Pass holder: welcome"]
                return self._inside_check(d)
        visitor = self._look(d, "visitors", self.data.visitors.lookup(text, s), s)
        if visitor is not None:
            if visitor.start <= at <= visitor.end:
                d.open, d.category, d.reason = True, "visitor", "pre-registered visitor"
                d.led += ["访客 欢迎", "Visitor: welcome"]
                return self._inside_check(d)
            d.trail.append("visitor: outside the time window")
        if not lane.temporary:
            d.category, d.reason = "temporary", "lane admits registered vehicles only"
            d.led += ["非登记车辆", "Registered vehicles only"]
            return d
        if plate.problem is not None and d.matched is None:
            d.category, d.reason = "unknown", f"unreadable plate: {plate.problem}"
            d.led += ["车牌无法识别", "请联系岗亭 / Call the booth"]
            return d
        lot = self.lots.get(lane.lot)
        inside = self.sessions.inside(lane.lot)
        d.trail.append(f"lot: {inside}/{lot.capacity if lot else '?'} inside")
        if lot is not None and inside >= lot.capacity:
            d.category, d.reason = "temporary", "lot full"
            d.led += ["车位已满", "Lot full"]
            return d
        d.open, d.category, d.reason = True, "temporary", "temporary vehicle"
        d.led += ["临时车 欢迎", "Visitor parking: welcome"]
        return self._inside_check(d)

    def _inside_check(self, d: Decision) -> Decision:
        if self.sessions.find(d.lot, d.matched or d.plate.text, Strictness.EXACT).match:
            d.anomalies.append("already_inside")
            d.trail.append("session: already inside (replaced)")
        return d

    # -- exit ------------------------------------------------------------------------------

    def exit(self, lane: LaneRules, plate: PlateInfo, at: datetime) -> Decision:
        d = _begin(lane, plate, at)
        if d.reason:  # no plate: nothing to look up
            return d
        text, s = plate.text, lane.strictness
        session = self._look(d, "session", self.sessions.find(lane.lot, text, s), s)
        d.session = session
        key = session.plate if session is not None else text
        vehicle = self.data.vehicles.lookup(key, Strictness.EXACT if session else s).match
        if vehicle is not None and self._applies(vehicle.value.lots, lane.lot):
            d.trail.append(f"vehicles: {vehicle.plate} ({vehicle.rule})")
            d.open, d.category, d.reason = True, vehicle.value.role, "registered vehicle"
            d.led += ["一路平安", "Drive safely"]
            if session is None:
                d.anomalies.append("exit_without_entry")
            return d
        tariff = self.data.tariffs.get(lane.lot)
        if tariff is None:
            d.trail.append("tariff: none for this lot")
            d.category = session.category if session else "temporary"
            d.reason = "no tariff for the lot: call the booth"
            d.led += ["收费标准缺失", "请联系岗亭 / Call the booth"]
            return d
        cls, nev = plate.vehicle_class, plate.is_new_energy
        if session is None:
            d.anomalies.append("exit_without_entry")
            d.category, d.tariff, d.lost_entry = "temporary", tariff, True
            q = quote(tariff, at, at, vehicle_class=cls, new_energy=nev, lost_entry=True)
            return self._charge(d, q, "exit without entry: lost-entry policy")
        start = session.entry_ts
        d.category = session.category
        pas = self.data.passes.lookup(key, Strictness.EXACT).match
        if pas is not None and self._applies(pas.value.lots, lane.lot):
            state, _ = pass_state(pas.value, at, self.tz)
            d.trail.append(f"pass at exit: {state}")
            if state in ("valid", "grace"):
                d.open, d.category, d.reason = True, "pass", "monthly pass"
                d.led += ["一路平安", "Drive safely"]
                return d
            # A pass that ran out during the stay: charge from the end of its last good day.
            ended = end_of_day(pas.value.valid_to + timedelta(days=pas.value.grace_days),
                               self.tz)
            start = max(start, ended)
        visitor = self.data.visitors.lookup(key, Strictness.EXACT).match
        if visitor is not None and session.category == "visitor":
            if at <= visitor.value.end:
                d.open, d.reason = True, "visitor within the window"
                d.led += ["一路平安", "Drive safely"]
                return d
            start = max(start, visitor.value.end)
            d.trail.append("visitor: stayed past the window")
        d.tariff, d.charged_from = tariff, start
        q = quote(tariff, start, at, vehicle_class=cls, new_energy=nev, paid=session.paid,
                  paid_at=session.paid_at)
        return self._charge(d, q, "temporary stay")

    def _charge(self, d: Decision, q: Quote, why: str) -> Decision:
        d.quote, d.due = q, q.due
        d.trail.append(f"tariff: fee {q.fee}, due {q.due}")
        if q.due <= ZERO:
            d.open, d.reason = True, f"{why}: nothing due"
            d.led += ["一路平安", "Drive safely"] if q.fee == ZERO else \
                [f"已缴 {money(q.fee)}", "Paid, thank you"]
        else:
            d.reason = f"{why}: {q.due} due"
            d.led += [f"请缴费 {money(q.due)}", f"Please pay {money(q.due)}"]
        return d


def _begin(lane: LaneRules, plate: PlateInfo, at: datetime) -> Decision:
    """A shut decision for this read; already final (``reason`` set) when there is no plate."""
    d = Decision(open=False, category="unknown", plate=plate, lane=lane.id, lot=lane.lot, at=at)
    if plate.kind == PlateKind.NONE or not plate.text:
        d.trail.append("plate: none")
        d.led = ["无牌车", "请联系岗亭 / Call the booth"]
        d.reason = "no plate"
    else:
        d.led = [plate.text]
    return d


def read_plate(raw: str, colour: Any = None) -> PlateInfo:
    """Parse a camera read, with the camera's colour when it gave one."""
    return parse(raw, colour=colour) if colour is not None else parse(raw)


__all__ = ["Decision", "DecisionChain", "Direction", "LaneRules", "LotInfo", "money",
           "read_plate"]
