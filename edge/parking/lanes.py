"""Parking lanes at the edge: a camera read becomes a decision, durable events and a gate move.

This is the ``Decider`` the LPR endpoint calls for every read. Order of work for one read:
decide (memory only) → store the session change → emit the events (durable) → move the gate
→ reply to the camera. The events and the session store are both on disk before the gate
opens, so a crash never leaves an open gate without a record, and the cloud is never needed.

Exits that owe money wait at the lane (``pending``) until a payment is recorded at the booth
or through the pay-at-exit API; the gate then opens and ``parking.exit`` carries the fee, the
amount paid and how.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from contract import Clock, Kind, NewEvent
from drivers.base import DriverStats, Emit
from drivers.lpr.model import LaneReply, PlateRead
from edge.parking.datasets import ParkingData
from edge.parking.decide import (
    Decision,
    DecisionChain,
    Direction,
    LaneRules,
    LotInfo,
    money,
    read_plate,
)
from edge.parking.sessions import Payment, Session, SessionStore
from parkingrules.plates import PlateInfo, colour_from_vzenith

log = structlog.get_logger("edge.parking")

ZERO = Decimal("0")
#: A car that has left (paid, or free) is often read again at the same exit while it is still
#: at the barrier: within this time the same plate opens again without a second exit record.
REREAD_WINDOW = timedelta(minutes=5)
PAY_METHODS = ("cash", "card", "wechat", "alipay", "bank_transfer", "other")


class Gate(Protocol):
    """What a lane needs of its barrier (drivers.gate controllers satisfy it)."""

    async def open(self, *, cause: str, by: str | None = None, reason: str | None = None,
                   plate: str | None = None, session: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class LaneSetup:
    rules: LaneRules
    camera: str
    gate: str | None
    #: The camera's own relay opens this gate: say so in the camera reply.
    camera_relay: bool
    #: A read of the plate that just left, within this time of the barrier opening, is the
    #: camera triggering again on the same car: it opens and records nothing.
    reread_window: timedelta = REREAD_WINDOW


@dataclass
class Pending:
    """A vehicle at an exit that owes money."""

    decision: Decision
    since: datetime


class PaymentError(ValueError):
    """A payment the lane cannot take; the message says why (zh / en)."""


class ParkingLanes:
    """Every lane of the site; ``decide`` is the LPR endpoint's Decider."""

    def __init__(self, lanes: list[LaneSetup], lots: dict[str, LotInfo], data: ParkingData,
                 sessions: SessionStore, gates: Mapping[str, Gate], emit: Emit, clock: Clock,
                 tz: ZoneInfo, site: str, stats: DriverStats | None = None) -> None:
        self.lanes = {lane.rules.id: lane for lane in lanes}
        self._by_camera = {lane.camera: lane for lane in lanes}
        self.chain = DecisionChain(data, sessions, lots, tz)
        self.sessions = sessions
        self.gates = gates
        self._emit = emit
        self._clock = clock
        self.tz = tz
        self.stats = stats or DriverStats()
        self.pending: dict[str, Pending] = {}
        #: lane → (plate, when) of its last completed exit, for re-reads at the barrier.
        self._last_exit: dict[str, tuple[str, datetime]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._log = log.bind(site=site)

    def use(self, data: ParkingData) -> None:
        self.chain.use(data)
        self._log.info("parking.dataset_in_use", version=data.version, **data.counts())

    # -- the Decider -----------------------------------------------------------------------

    async def decide(self, read: PlateRead) -> LaneReply:
        lane = self._by_camera.get(read.camera_id)
        if lane is None:
            self.stats.inc("reads_without_lane")
            return LaneReply(open=False, led_lines=[], voice=None, relay_pulse=False,
                             reason="camera is not on a lane")
        lock = self._locks.setdefault(lane.rules.id, asyncio.Lock())
        async with lock:  # one vehicle at a time per lane, as on the tarmac
            colour = colour_from_vzenith(read.colour_code) if read.colour_code else None
            plate = read_plate(read.plate_raw, colour)
            at = read.ts if read.offline else self._clock.now()
            if lane.rules.direction == Direction.IN:
                d = self.chain.entry(lane.rules, plate, at)
                await self._after_entry(lane, d, read)
            elif (again := self._reread(lane, plate, at)) is not None:
                d = again
            else:
                d = self.chain.exit(lane.rules, plate, at)
                await self._after_exit(lane, d, read)
        self.stats.inc("decisions_open" if d.open else "decisions_shut")
        self._log.info("parking.decision", offline=read.offline, reason=d.reason,
                       **d.log_fields())
        return LaneReply(open=d.open and not read.offline, led_lines=d.led, voice=None,
                         relay_pulse=d.open and lane.camera_relay and not read.offline,
                         reason=d.reason)

    async def _after_entry(self, lane: LaneSetup, d: Decision, read: PlateRead) -> None:
        if not d.open:
            await self._emit_refused(d, read)
            return
        key = d.matched if d.category != "temporary" and d.matched else d.plate.text
        session, replaced = await self.sessions.start(
            d.lot, key, d.category, d.at, d.lane,
            {"plate_read": read.plate_raw, "vehicle_class": d.plate.vehicle_class,
             "new_energy": d.plate.is_new_energy})
        d.session = session
        entry = self._emit(NewEvent(device=lane.rules.id, kind=Kind.PARKING_ENTRY, ts=d.at, data={
            "v": 1, "session": session.id, "lane": d.lane, "lot": d.lot, "plate": key,
            "plate_read": read.plate_raw, "category": d.category, "matched": d.matched,
            "match_rule": d.match_rule, "trail": d.trail, "anomalies": d.anomalies,
            "replaced_session": replaced.id if replaced else None, "offline": read.offline,
            "camera": read.camera_id}))
        if read.offline:
            await entry
        else:  # both records go into one outbox commit; both are durable before the reply
            await asyncio.gather(entry, self._open_gate(lane, d, cause="plate"))

    def _reread(self, lane: LaneSetup, plate: PlateInfo, at: datetime) -> Decision | None:
        """The car that just left this exit, read again at the barrier: open, record nothing."""
        last = self._last_exit.get(lane.rules.id)
        if last is None or last[0] != plate.text or not at - last[1] <= lane.reread_window:
            return None
        d = Decision(open=True, category="reread", plate=plate, lane=lane.rules.id,
                     lot=lane.rules.lot, at=at, reason="read again after its exit")
        d.trail.append(f"exit: {plate.text} left at {last[1].isoformat()}")
        d.led = [plate.text, "一路平安", "Drive safely"]
        self.stats.inc("exit_rereads")
        return d

    async def _after_exit(self, lane: LaneSetup, d: Decision, read: PlateRead) -> None:
        if d.open or read.offline:
            # An offline record is history: the camera already let the car out.
            done = self._finish_exit(lane, d, payments=[], offline=read.offline)
            if read.offline:
                await done
            else:
                await asyncio.gather(done, self._open_gate(lane, d, cause="plate"))
            self.pending.pop(lane.rules.id, None)
            return
        previous = self.pending.get(lane.rules.id)
        self.pending[lane.rules.id] = Pending(d, self._clock.now())
        if previous is None or previous.decision.plate.text != d.plate.text:
            await self._emit_refused(d, read)

    async def _finish_exit(self, lane: LaneSetup, d: Decision, payments: list[Payment],
                           offline: bool = False, opened_at: datetime | None = None) -> None:
        s = d.session
        q = d.quote
        entry_ts = s.entry_ts if s is not None else None
        data: dict[str, Any] = {
            "v": 1, "session": s.id if s is not None else None, "lane": d.lane, "lot": d.lot,
            "plate": s.plate if s is not None else d.plate.text, "plate_read": d.plate.text,
            "category": d.category,
            "entry_ts": entry_ts.isoformat() if entry_ts else None,
            "exit_ts": d.at.isoformat(),
            "minutes": q.minutes if q is not None else (
                int((d.at - entry_ts).total_seconds() // 60) if entry_ts else 0),
            "fee": str(q.fee if q is not None else ZERO),
            "paid": str(s.paid if s is not None else ZERO),
            "paid_at": s.paid_at.isoformat() if s is not None and s.paid_at else None,
            "due": str(d.due),
            "payments": [{"id": p.id, "amount": str(p.amount), "method": p.method,
                          "operator": p.operator, "at": p.at.isoformat()} for p in payments],
            "tariff_doc": d.tariff.to_dict() if d.tariff is not None else None,
            "charged_from": d.charged_from.isoformat() if d.charged_from else None,
            "vehicle_class": d.plate.vehicle_class, "new_energy": d.plate.is_new_energy,
            "lost_entry": d.lost_entry,
            "lines": [{"zh": ln.zh, "en": ln.en, "amount": str(ln.amount)}
                      for ln in (q.lines if q is not None else [])],
            "matched": d.matched, "match_rule": d.match_rule, "trail": d.trail,
            "anomalies": d.anomalies + (["exit_unpaid"] if offline and d.due > ZERO else []),
            "offline": offline,
        }
        await self._emit(NewEvent(device=lane.rules.id, kind=Kind.PARKING_EXIT, ts=d.at,
                                  data=data))
        if not offline:  # the re-read window runs from the moment the barrier opens
            self._last_exit[lane.rules.id] = (d.plate.text, opened_at or d.at)
        if s is not None:
            await self.sessions.finish(s.id, d.at)

    async def _emit_refused(self, d: Decision, read: PlateRead) -> None:
        await self._emit(NewEvent(device=d.lane, kind=Kind.PARKING_REFUSED, ts=d.at, data={
            "v": 1, "lane": d.lane, "lot": d.lot, "plate": d.plate.text,
            "plate_read": read.plate_raw, "category": d.category, "reason": d.reason,
            "due": str(d.due), "matched": d.matched, "match_rule": d.match_rule,
            "trail": d.trail, "anomalies": d.anomalies, "offline": read.offline}))

    async def _open_gate(self, lane: LaneSetup, d: Decision, cause: str,
                         by: str | None = None, reason: str | None = None) -> None:
        gate = self.gates.get(lane.gate) if lane.gate else None
        if gate is None:
            return
        try:
            await gate.open(cause=cause, by=by, reason=reason, plate=d.plate.text,
                            session=d.session.id if d.session else None)
        except Exception as exc:  # the record stands; the guard sees the gate fault event
            self.stats.inc("gate_open_failures")
            self._log.error("parking.gate_open_failed", lane=lane.rules.id, gate=lane.gate,
                            error=str(exc))

    # -- payment at the exit ---------------------------------------------------------------

    async def pay(self, lane_id: str, amount: Any, method: str,
                  operator: str | None = None) -> Decision:
        """Record a payment for the vehicle waiting at an exit; open when nothing is due."""
        lane = self.lanes.get(lane_id)
        if lane is None:
            raise PaymentError(f"没有车道 {lane_id} / no lane {lane_id}")
        if method not in PAY_METHODS:
            raise PaymentError(f"支付方式须为 {'/'.join(PAY_METHODS)} / "
                               f"method must be one of {', '.join(PAY_METHODS)}")
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise PaymentError("金额无效 / amount is not a number") from None
        if not value.is_finite() or value <= ZERO or value != value.quantize(Decimal("0.01")):
            raise PaymentError("金额须为正数，最多两位小数 / amount must be positive, "
                               "at most 2 decimals")
        async with self._locks.setdefault(lane_id, asyncio.Lock()):
            pending = self.pending.get(lane_id)
            if pending is None:
                raise PaymentError("该车道没有待缴费车辆 / no vehicle is waiting to pay here")
            d = pending.decision
            if value > d.due:
                raise PaymentError(f"金额 {money(value)} 超过应缴 {money(d.due)} / amount "
                                   f"{money(value)} is more than the {money(d.due)} due")
            now = self._clock.now()
            session = d.session or await self._lost_entry_session(d)
            session, payment = await self.sessions.pay(session.id, value, method, operator, now)
            await self._emit(NewEvent(device=lane_id, kind=Kind.PAYMENT_RECORDED, ts=now, data={
                "v": 1, "session": session.id, "lane": lane_id, "lot": d.lot,
                "plate": session.plate, "amount": str(value), "method": method,
                "operator": operator, "payment": payment.id}))
            d.session = session
            d.due = d.due - value
            if d.due > ZERO:
                d.led = [d.plate.text, f"请缴费 {money(d.due)}", f"Please pay {money(d.due)}"]
                return d
            d.open, d.reason = True, "paid at the exit"
            d.led = [d.plate.text, "已缴费 一路平安", "Paid: drive safely"]
            await self._finish_exit(lane, d, payments=[payment], opened_at=now)
            await self._open_gate(lane, d, cause="pay")
            self.pending.pop(lane_id, None)
        self._log.info("parking.paid", lane=lane_id, plate=d.plate.text, amount=str(value),
                       method=method)
        return d

    async def _lost_entry_session(self, d: Decision) -> Session:
        """A session for an exit without an entry, so its payment has something to belong to."""
        s, _ = await self.sessions.start(d.lot, d.plate.text, "temporary", d.at, d.lane,
                                         {"lost_entry": True})
        return s

    async def manual_open(self, lane_id: str, by: str, reason: str) -> None:
        """A guard opens a lane's gate: who and why go into the audit trail (gate.opened)."""
        lane = self.lanes.get(lane_id)
        if lane is None or not lane.gate or lane.gate not in self.gates:
            raise PaymentError(f"车道 {lane_id} 没有可控道闸 / lane {lane_id} has no gate to open")
        if not by.strip() or not reason.strip():
            raise PaymentError("须填写操作人和原因 / who and why are required")
        await self.gates[lane.gate].open(cause="manual", by=by, reason=reason)

    def plate_of(self, raw: str) -> PlateInfo:
        return read_plate(raw)
