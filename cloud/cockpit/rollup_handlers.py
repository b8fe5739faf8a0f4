"""Ingest handlers that keep the cockpit's rollups and live tables (docs/cockpit.md).

Each handler gets the batch's new events of its kind (redelivered events never reach it: the
ingestor runs handlers for newly inserted rows only), computes in memory and writes in bulk:
one ``rollups.add`` per call, one upsert of meter state or elevator cars.

* ``meter.reading``: the rise of ``energy_import_kwh`` and of the water register since the
  meter's previous reading (``cockpit_meter_state``), booked to the hour of the newer reading
  per device, per building (through the billing meter, else the reading's unit) and per site.
  The first reading of a meter is its baseline. A counter that goes backwards, or rises more
  than ``ANOMALY_KWH_PER_H`` (``ANOMALY_M3_PER_H``) per hour elapsed (at least one hour),
  books nothing, becomes the new baseline and marks the meter anomalous. A reading older than
  the meter's newest is late: its rise is already inside the newer one, so it books nothing.
* parking, barriers, doors and alarm-raising events: counts (and parking income in fen).
* elevator kinds: the car's live state, newest device time wins.

``MeterBook`` and ``cells_of`` are pure, so ``cloud.cockpit.rebuild`` replays stored events
through exactly the same rules.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.policy import DEFAULT_POLICY, AlarmPolicy
from cloud.cockpit import rollups as r
from cloud.cockpit.tables import CockpitElevator, CockpitMeterState
from cloud.db.dialect import dialect_insert, dialect_name, pg_driver
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.records.tables import BillingMeter, Building, Unit
from contract import ContractError, Kind
from contract.envelope import parse_ts

ENERGY_REGISTER = "energy_import_kwh"
#: The water register, first present wins (profiles name it differently).
WATER_REGISTERS = ("water_forward_m3", "water_m3", "volume_m3")
#: A rise above this many units per hour elapsed is not consumption but a fault.
ANOMALY_KWH_PER_H = Decimal(500)
ANOMALY_M3_PER_H = Decimal(50)
FOUR = Decimal("0.0001")
SIX = Decimal("0.000001")
_LIMIT = Decimal(10) ** 13

PARKING_KINDS = (Kind.PARKING_ENTRY, Kind.PARKING_EXIT)
DOOR_KINDS = (Kind.ACCESS_GRANTED, Kind.ACCESS_DENIED, Kind.DOOR_OPENED, Kind.DOOR_FORCED,
              Kind.DOOR_HELD_OPEN)
ELEVATOR_KINDS = (Kind.ELEVATOR_STATE, Kind.ELEVATOR_FAULT, Kind.ELEVATOR_TRAPPED,
                  Kind.ELEVATOR_RECOVERED)
SERVICE_AFFECTING = ("critical", "major")

STATE = cast(Table, CockpitMeterState.__table__)
CARS = cast(Table, CockpitElevator.__table__)


def counter(raw: Any) -> Decimal | None:
    """A JSON number as an exact Decimal (a float from its ``repr``, never its binary
    expansion), six places; None for anything that is not a finite storable number."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = Decimal(repr(raw) if isinstance(raw, float) else raw).quantize(SIX)
    except InvalidOperation:
        return None
    return value if value.is_finite() and abs(value) < _LIMIT else None


def _text(raw: Any, limit: int = 128) -> str | None:
    return raw[:limit] if isinstance(raw, str) and raw else None


# -- meters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterState:
    last_kwh: Decimal | None = None
    last_m3: Decimal | None = None
    last_ts: datetime | None = None
    anomaly: str | None = None
    anomaly_at: datetime | None = None


def _rise(last: Decimal | None, new: Decimal | None, hours: float,
          limit: Decimal) -> tuple[Decimal | None, str | None]:
    """(the rise to book, or None; the anomaly, ``backwards`` / ``implausible``, or None)."""
    if new is None or last is None:
        return None, None
    rise = new.quantize(FOUR) - last.quantize(FOUR)  # four places: the rises telescope
    if rise < 0:
        return None, "backwards"
    if rise > limit * Decimal(str(max(hours, 1.0))):
        return None, "implausible"
    return rise, None


class MeterBook:
    """Meter readings → rollup cells and each meter's new state (no I/O).

    ``states``: each device's state before (device id → ``MeterState``); ``buildings``:
    device key → building code (absent: books device and site only).
    """

    def __init__(self, site_id: int, states: Mapping[int, MeterState],
                 buildings: Mapping[str, str]) -> None:
        self.site_id = site_id
        self.states = dict(states)
        self.buildings = buildings
        self.cells: list[r.Cell] = []
        self.changed: set[int] = set()
        self.late = 0
        self.anomalies = 0

    def apply(self, ev: StoredEvent) -> None:
        values = ev.data.get("values")
        if not isinstance(values, dict):
            return
        kwh = counter(values.get(ENERGY_REGISTER))
        m3 = next((v for name in WATER_REGISTERS
                   if (v := counter(values.get(name))) is not None), None)
        if kwh is None and m3 is None:
            return
        st = self.states.get(ev.device_id, MeterState())
        if st.last_ts is not None and ev.ts < st.last_ts:
            self.late += 1  # its rise is already inside the newer reading's
            return
        hours = 1.0 if st.last_ts is None else (ev.ts - st.last_ts).total_seconds() / 3600
        new = replace(st, last_ts=ev.ts,
                      last_kwh=kwh if kwh is not None else st.last_kwh,
                      last_m3=m3 if m3 is not None else st.last_m3)
        for metric, name, last, value, limit in (
                (r.ENERGY_KWH, "energy", st.last_kwh, kwh, ANOMALY_KWH_PER_H),
                (r.WATER_M3, "water", st.last_m3, m3, ANOMALY_M3_PER_H)):
            rise, anomaly = _rise(last, value, hours, limit)
            if anomaly is not None:
                new = replace(new, anomaly=f"{name}_{anomaly}", anomaly_at=ev.ts)
                self.anomalies += 1
            elif rise:
                self._book(metric, ev, rise)
        self.states[ev.device_id] = new
        self.changed.add(ev.device_id)

    def _book(self, metric: str, ev: StoredEvent, rise: Decimal) -> None:
        hour = r.hour_of(ev.ts)
        self.cells.append(r.Cell(self.site_id, metric, r.DEVICE, ev.device, hour, rise))
        building = self.buildings.get(ev.device)
        if building:
            self.cells.append(r.Cell(self.site_id, metric, r.BUILDING, building, hour, rise))
        self.cells.append(r.Cell(self.site_id, metric, r.SITE, r.WHOLE_SITE, hour, rise))


_PG_STATES = ("SELECT device_id, last_kwh, last_m3, last_ts, anomaly, anomaly_at"
              " FROM cockpit_meter_state WHERE device_id = ANY($1::int[])")
_PG_SAVE_STATES = (
    "INSERT INTO cockpit_meter_state (device_id, site_id, last_kwh, last_m3, last_ts, anomaly,"
    " anomaly_at) SELECT * FROM unnest($1::int[], $2::int[], $3::numeric[], $4::numeric[],"
    " $5::timestamptz[], $6::text[], $7::timestamptz[])"
    " ON CONFLICT (device_id) DO UPDATE SET site_id = excluded.site_id,"
    " last_kwh = excluded.last_kwh, last_m3 = excluded.last_m3, last_ts = excluded.last_ts,"
    " anomaly = excluded.anomaly, anomaly_at = excluded.anomaly_at")


async def meter_states(session: AsyncSession, device_ids: Iterable[int]) -> dict[int,
                                                                                MeterState]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    if dialect_name(session) == "postgresql":  # the hot path: one array query, no ORM types
        driver = await pg_driver(session)
        return {int(x[0]): MeterState(*x[1:]) for x in await driver.fetch(_PG_STATES, ids)}
    s = CockpitMeterState
    rows = await session.execute(
        select(s.device_id, s.last_kwh, s.last_m3, s.last_ts, s.anomaly, s.anomaly_at)
        .where(s.device_id.in_(ids)))
    return {int(i): MeterState(k, m, t, a, at) for i, k, m, t, a, at in rows.all()}


async def save_meter_states(session: AsyncSession, site_id: int,
                            states: Mapping[int, MeterState]) -> None:
    """One upsert of the given meters' states."""
    if not states:
        return
    if dialect_name(session) == "postgresql":
        driver = await pg_driver(session)
        ids = sorted(states)
        await driver.execute(_PG_SAVE_STATES, ids, [site_id] * len(ids),
                             *([getattr(states[i], f) for i in ids] for f in MeterState.__slots__))
        return
    ins = dialect_insert(session, STATE)
    stmt = ins.on_conflict_do_update(
        index_elements=["device_id"],
        set_={c: ins.excluded[c] for c in ("site_id", "last_kwh", "last_m3", "last_ts",
                                           "anomaly", "anomaly_at")})
    await session.execute(stmt, [
        {"device_id": i, "site_id": site_id, "last_kwh": s.last_kwh, "last_m3": s.last_m3,
         "last_ts": s.last_ts, "anomaly": s.anomaly, "anomaly_at": s.anomaly_at}
        for i, s in sorted(states.items())])


_PG_BUILDINGS = (
    "SELECT k.key, COALESCE("
    " (SELECT b.code FROM billing_meters bm LEFT JOIN units u ON u.id = bm.unit_id"
    "  JOIN buildings b ON b.id = COALESCE(bm.building_id, u.building_id)"
    "  WHERE bm.site_id = $1 AND bm.device_key = k.key AND bm.removed_at IS NULL"
    "  ORDER BY bm.id LIMIT 1),"
    " (SELECT b.code FROM units u JOIN buildings b ON b.id = u.building_id"
    "  WHERE u.site_id = $1 AND u.code = k.unit))"
    " FROM unnest($2::text[], $3::text[]) AS k(key, unit)")


async def buildings_of(session: AsyncSession, site_id: int,
                       units: Mapping[str, str | None]) -> dict[str, str]:
    """Device key → building code: the building of the device's active billing meter (its
    unit's, or the shared meter's own), else of the unit the reading names (``units``:
    device key → the reading's ``unit``)."""
    if not units:
        return {}
    if dialect_name(session) == "postgresql":  # the hot path: one round trip
        driver = await pg_driver(session)
        keys = sorted(units)
        rows = await driver.fetch(_PG_BUILDINGS, site_id, keys, [units[k] for k in keys])
        return {str(k): str(b) for k, b in rows if b is not None}
    bm = BillingMeter
    q = (select(bm.device_key, Building.code)
         .select_from(bm)
         .outerjoin(Unit, Unit.id == bm.unit_id)
         .join(Building, Building.id == func.coalesce(bm.building_id, Unit.building_id))
         .where(bm.site_id == site_id, bm.device_key.in_(sorted(units)),
                bm.removed_at.is_(None))
         .order_by(bm.id))
    found: dict[str, str] = {}
    for key, code in (await session.execute(q)).all():
        found.setdefault(str(key), str(code))
    rest = {k: u for k, u in units.items() if k not in found and u}
    if rest:
        q2 = (select(Unit.code, Building.code).join(Building, Building.id == Unit.building_id)
              .where(Unit.site_id == site_id, Unit.code.in_(sorted(set(rest.values())))))
        by_unit = {str(u): str(b) for u, b in (await session.execute(q2)).all()}
        found.update({k: by_unit[u] for k, u in rest.items() if u in by_unit})
    return found


async def on_meter_reading(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    units: dict[str, str | None] = {}
    for ev in events:
        units[ev.device] = _text(ev.data.get("unit"), 64) or units.get(ev.device)
    states = await meter_states(ctx.session, (ev.device_id for ev in events))
    book = MeterBook(ctx.site_id, states, await buildings_of(ctx.session, ctx.site_id, units))
    for ev in sorted(events, key=lambda e: (e.ts, e.seq)):
        book.apply(ev)
    await save_meter_states(ctx.session, ctx.site_id,
                            {i: book.states[i] for i in book.changed})
    ctx.count("cockpit_cells", await r.add(ctx.session, book.cells))
    if book.late:
        ctx.count("cockpit_late_readings", book.late)
    if book.anomalies:
        ctx.count("cockpit_meter_anomalies", book.anomalies)
        ctx.log.warning("cockpit.meter_anomaly", meters=book.anomalies)


# -- counts -------------------------------------------------------------------------------


def fen_of(raw: Any) -> int:
    """Yuan as decimal text (or a number) → integer fen; 0 for anything else."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return 0
    try:
        yuan = Decimal(str(raw))
    except InvalidOperation:
        return 0
    if not yuan.is_finite() or yuan <= 0 or yuan >= _LIMIT:
        return 0
    return int((yuan * 100).to_integral_value(rounding=ROUND_HALF_UP))


def cells_of(site_id: int, ev: StoredEvent, policy: AlarmPolicy) -> list[r.Cell]:
    """The counts (and income) one event adds (metric, subject type, subject, value)."""
    out: list[tuple[str, str, str, Decimal]] = []
    one = Decimal(1)
    kind, data = ev.kind, ev.data
    if kind in PARKING_KINDS:
        lot = _text(data.get("lot"), 64) or ""
        metric = r.PARKING_ENTRIES if kind == Kind.PARKING_ENTRY else r.PARKING_EXITS
        out += [(metric, r.LOT, lot, one), (metric, r.SITE, r.WHOLE_SITE, one)]
        fen = fen_of(data.get("paid")) if kind == Kind.PARKING_EXIT else 0
        if fen:
            out += [(r.PARKING_INCOME_FEN, r.LOT, lot, Decimal(fen)),
                    (r.PARKING_INCOME_FEN, r.SITE, r.WHOLE_SITE, Decimal(fen))]
    elif kind == Kind.GATE_OPENED:
        out += [(r.GATE_OPENED, r.LANE, ev.device, one), (r.GATE_OPENED, r.SITE, "", one)]
    elif kind in DOOR_KINDS:
        door = _text(data.get("door")) or ev.device
        out += [(r.DOOR_EVENTS, r.DOOR, door, one), (r.DOOR_EVENTS, r.SITE, "", one)]
        extra = {Kind.DOOR_FORCED: r.DOOR_FORCED, Kind.DOOR_HELD_OPEN: r.DOOR_HELD}.get(kind)
        if extra:
            out += [(extra, r.DOOR, door, one), (extra, r.SITE, "", one)]
    rule = policy.rules.get(kind)
    if rule is not None and policy.severity_for(rule, data) is not None:
        out.append((r.ALARM_EVENTS, r.SITE, r.WHOLE_SITE, one))
    hour = r.hour_of(ev.ts)
    return [r.Cell(site_id, m, t, s, hour, v) for m, t, s, v in out]


def counted_kinds(policy: AlarmPolicy) -> set[str]:
    return {*PARKING_KINDS, Kind.GATE_OPENED, *DOOR_KINDS, *policy.rules}


class CountHandler:
    """Counts for parking, barriers, doors and alarm-raising events (bound to the alarm
    policy that says which kinds raise alarms)."""

    def __init__(self, policy: AlarmPolicy) -> None:
        self.policy = policy

    async def on_events(self, ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
        cells = [c for ev in events for c in cells_of(ctx.site_id, ev, self.policy)]
        ctx.count("cockpit_cells", await r.add(ctx.session, cells))


# -- elevators ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Car:
    building: str
    state: str
    floor: int | None
    since: datetime
    updated_ts: datetime


_MODE_STATE = {"normal": "running", "fault": "fault", "inspection": "maintenance",
               "maintenance": "maintenance", "offline": "offline"}


def _since(raw: Any, default: datetime) -> datetime:
    try:
        return parse_ts(raw)
    except ContractError:
        return default


def next_car(cur: Car | None, ev: StoredEvent) -> Car | None:
    """The car after ``ev``; None when ``ev`` is older than what the car shows (or says
    nothing about its state). Trapped passengers stay shown until ``elevator.recovered``
    (cleared: trapped), or until the car goes offline or into a technician's hands."""
    if cur is not None and ev.ts < cur.updated_ts:
        return None
    data = ev.data
    old = cur.state if cur is not None else "running"
    state, since = old, None
    if ev.kind == Kind.ELEVATOR_STATE:
        mode = _MODE_STATE.get(str(data.get("mode", "")))
        if mode is None:
            state = old
        elif old == "trapped" and mode in ("running", "fault"):
            state = "trapped"
        else:
            state = mode
    elif ev.kind == Kind.ELEVATOR_TRAPPED:
        state, since = "trapped", _since(data.get("since"), ev.ts)
    elif ev.kind == Kind.ELEVATOR_FAULT:
        if data.get("trapped") is True:
            state = "trapped"
        elif str(data.get("severity")) in SERVICE_AFFECTING and old == "running":
            state = "fault"
    elif ev.kind == Kind.ELEVATOR_RECOVERED:
        cleared = data.get("cleared")
        if (cleared == "trapped" and old == "trapped") or (cleared == "fault" and old == "fault"):
            state = "running"
    floor = cur.floor if cur is not None else None
    if "floor" in data:
        raw = data["floor"]
        floor = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    building = _text(data.get("building"), 64) or (cur.building if cur else "")
    if since is None:
        since = cur.since if cur is not None and state == old else ev.ts
    return Car(building, state, floor, since, ev.ts)


class _BatchCars:
    """The cars of one batch: as they were before it, and the batch's elevator events so far.

    The ingestor calls a handler once per kind, so one batch's ``elevator.state`` and
    ``elevator.trapped`` arrive in separate calls; each call replays everything seen in the
    batch in device-time order, so newest-wins holds across kinds."""

    def __init__(self, ctx: HandlerContext, before: dict[str, Car]) -> None:
        self.ctx = weakref.ref(ctx)
        self.before = before
        #: Devices whose row was read (absent from ``before``: no row before the batch).
        self.known: set[str] = set()
        self.events: list[StoredEvent] = []


_BATCHES: dict[int, _BatchCars] = {}


async def _batch_cars(ctx: HandlerContext, events: Sequence[StoredEvent]) -> _BatchCars:
    for key in [k for k, b in _BATCHES.items() if b.ctx() is None]:
        del _BATCHES[key]  # batches that ended
    batch = _BATCHES.get(id(ctx))
    if batch is None or batch.ctx() is not ctx:
        batch = _BATCHES[id(ctx)] = _BatchCars(ctx, {})
    e = CockpitElevator
    new = sorted({ev.device for ev in events} - batch.known)
    batch.known.update(new)
    if new:
        rows = await ctx.session.execute(
            select(e.device, e.building, e.state, e.floor, e.since, e.updated_ts)
            .where(e.site_id == ctx.site_id, e.device.in_(new)))
        batch.before.update({d: Car(b, s, f, si, u) for d, b, s, f, si, u in rows.all()})
    batch.events.extend(events)
    return batch


async def on_elevator_events(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    batch = await _batch_cars(ctx, events)
    touched = {ev.device for ev in events}
    cars = {d: c for d, c in batch.before.items() if d in touched}
    changed: set[str] = set()
    for ev in sorted(batch.events, key=lambda x: (x.ts, x.seq)):
        if ev.device not in touched:
            continue
        car = next_car(cars.get(ev.device), ev)
        if car is not None:
            cars[ev.device] = car
            changed.add(ev.device)
    if not changed:
        return
    ins = dialect_insert(ctx.session, CARS)
    stmt = ins.on_conflict_do_update(
        index_elements=["site_id", "device"],
        set_={c: ins.excluded[c] for c in ("building", "state", "floor", "since",
                                           "updated_ts")})
    await ctx.session.execute(stmt, [
        {"site_id": ctx.site_id, "device": d, "building": cars[d].building,
         "state": cars[d].state, "floor": cars[d].floor, "since": cars[d].since,
         "updated_ts": cars[d].updated_ts} for d in sorted(changed)])
    ctx.count("cockpit_elevator_updates", len(changed))


# -- wiring -------------------------------------------------------------------------------


def register_rollup_handlers(registry: HandlerRegistry,
                             policy: AlarmPolicy | None = None) -> None:
    """The rollup, meter and elevator handlers (after every feature's own handlers of the
    same kind: the cockpit is wired last)."""
    registry.register(Kind.METER_READING, on_meter_reading)
    counts = CountHandler(policy or DEFAULT_POLICY)
    for kind in sorted(counted_kinds(counts.policy)):
        registry.register(kind, counts.on_events)
    for kind in ELEVATOR_KINDS:
        registry.register(kind, on_elevator_events)
