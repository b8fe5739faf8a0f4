# Over 500 lines on purpose: the bill-run engine is one resumable batch pipeline.
"""The bill run engine: one site, one cycle and period, in batches of units, resumable.

``open_run`` creates the run (or reopens an unfinished one; a finished period is refused);
``execute`` bills the site's units in id order, ``batch_size`` at a time, one transaction per
batch that inserts the batch's bills and lines and advances the run's progress with them. A
unit that already has a bill in the run is skipped, and the unique (run, unit) makes a second
bill impossible even when two workers run the same period or a crash interrupts one: a batch
that collides with another worker is rolled back and redone, skipping what the other wrote.

Issued bills (``open``) are offered to the households' prepaid balances (the
``cloud.billing.settle.Settle`` the payments feature gives) inside the batch's transaction.
Bills with an anomalous reading are ``held`` with their reasons until someone reviews them.

Per batch: one query for the units, one for their meters, two for the readings at the two
boundaries (a window over (device_id, ts)), one for previous consumption, a few for parking;
then bills and lines are inserted with one multi-row statement each.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import Table, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import Actor, record
from cloud.billing.apportion import largest_remainder
from cloud.billing.compute import (
    Batch,
    ChargeInfo,
    Context,
    Item,
    PassInfo,
    UnitFacts,
    bill_total,
    share_line,
    unit_lines,
)
from cloud.billing.consumption import MeterInfo, boundary_points, in_service, usage
from cloud.billing.fee_items import parse_rule
from cloud.billing.money import fen, qty
from cloud.billing.periods import Period, PeriodError, parse_period
from cloud.billing.settle import Settle
from cloud.billing.tables import Bill, BilledCharge, BillLine, BillRun, FeeItem
from cloud.db.models import Device, Site
from cloud.parking.tables import Charge, MonthlyPass, ParkingSpace, ParkingVehicle
from cloud.records.tables import BillingMeter, Building, Unit
from contract import Clock

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
RUN_FIELDS = ("cycle", "period", "state", "units_total", "units_done", "bills", "held",
              "total", "error")


class RunRefused(Exception):
    """A run that cannot be started: a finished period, a bad cycle or period."""

    def __init__(self, status: int, code: str, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.field, self.zh, self.en = status, code, field, zh, en


def site_zone(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


async def open_run(session: AsyncSession, *, site: Site, cycle: str, period: str, actor: Actor,
                   now: datetime) -> tuple[BillRun, bool]:
    """The run of (site, cycle, period), created or reopened; (run, created).

    Refuses (409) a period whose run is done. Call inside a transaction."""

    try:
        p = parse_period(cycle, period)
    except PeriodError as err:
        raise RunRefused(400, "invalid_parameter", err.field, err.zh, err.en) from None
    run = (await session.execute(select(BillRun).where(
        BillRun.site_id == site.id, BillRun.cycle == cycle, BillRun.period == p.label)
        .with_for_update())).scalar_one_or_none()
    if run is not None and run.state == "done":
        raise RunRefused(409, "period_billed", "period",
                         f"{site.slug} 的 {p.label}（{cycle}）账期已出账，不能重复出账；"
                         f"如需更正请作废或红冲单张账单",
                         f"period {p.label} ({cycle}) of {site.slug} is already billed; void or "
                         f"adjust single bills to correct it")
    total_units = (await session.execute(select(func.count()).select_from(Unit).where(
        Unit.site_id == site.id))).scalar_one()
    if run is not None:
        before = {"state": run.state}
        run.state, run.error, run.units_total = "running", None, total_units
        record(session, at=now, actor=actor, action="resume", entity="bill_run",
               entity_id=run.id, site_id=site.id, before=before, after={"state": "running"})
        return run, False
    run = BillRun(site_id=site.id, cycle=cycle, period=p.label, period_start=p.start,
                  period_end=p.end, state="running", units_total=total_units, units_done=0,
                  bills=0, held=0, total=Decimal("0.00"), started_by=actor.ref[:100],
                  started_at=now)
    session.add(run)
    await session.flush()
    record(session, at=now, actor=actor, action="create", entity="bill_run", entity_id=run.id,
           site_id=site.id, after={"cycle": cycle, "period": p.label, "state": "running"})
    return run, True


# --- loading ----------------------------------------------------------------------------------


def _meter_info(m: Any, devices: dict[str, int]) -> MeterInfo:
    return MeterInfo(
        id=m.id, code=m.code, utility=m.utility, scope=m.scope, unit_id=m.unit_id,
        building_id=m.building_id,
        device_id=None if m.device_key is None else devices.get(m.device_key),
        register=m.register, multiplier=m.multiplier, rollover_at=m.rollover_at,
        installed_at=m.installed_at, initial_reading=m.initial_reading,
        removed_at=m.removed_at, final_reading=m.final_reading)


def table_of(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _facts(u: Any) -> UnitFacts:
    return UnitFacts(u.id, u.code, u.building_id, u.area, u.unit_type, u.status)


_UNIT_COLS = (Unit.id, Unit.code, Unit.building_id, Unit.area, Unit.unit_type, Unit.status)


@dataclass
class _Setup:
    run: BillRun
    site: Site
    ctx: Context
    devices: dict[str, int]
    utilities: set[str]
    hours: int  # widest reading window of the metered items


async def _meters(session: AsyncSession, site_id: int, start: datetime, end: datetime,
                  devices: dict[str, int], *conds: Any) -> list[MeterInfo]:
    # plain rows, not ORM objects: a thousand meters per batch
    rows = (await session.execute(select(*table_of(BillingMeter).c).where(
        BillingMeter.site_id == site_id, BillingMeter.installed_at < end,
        or_(BillingMeter.removed_at.is_(None), BillingMeter.removed_at > start), *conds)
    )).all()
    return [_meter_info(m, devices) for m in rows]


async def _setup(session: AsyncSession, run_id: int) -> _Setup:
    run = (await session.execute(select(BillRun).where(BillRun.id == run_id))).scalar_one()
    site = (await session.execute(select(Site).where(Site.id == run.site_id))).scalar_one()
    period = parse_period(run.cycle, run.period)
    tz = site_zone(site)
    start, end = period.bounds(tz)
    fee_rows = (await session.execute(select(FeeItem).where(
        FeeItem.site_id == site.id, FeeItem.cycle == run.cycle, FeeItem.active.is_(True))
        .order_by(FeeItem.id))).scalars().all()
    items = [Item(f.id, f.code, f.name, f.kind, parse_rule(f.kind, f.cycle, f.rule), f.due_days)
             for f in fee_rows]
    devices = dict((await session.execute(select(Device.key, Device.id).where(
        Device.site_id == site.id))).all())
    ctx = Context(period, start, end, items)
    metered = [i for i in items if i.kind == "metered"]
    hours = max([i.rule.anomaly.boundary_hours for i in metered] or [48])
    setup = _Setup(run, site, ctx, devices, {i.rule.utility for i in metered}, hours)
    for item in items:
        if item.kind == "shared":
            await _shares(session, setup, item)
    return setup


async def _shares(session: AsyncSession, s: _Setup, item: Item) -> None:
    """Measure each shared pool of ``item`` and apportion it over its building's units."""
    ctx, rule, site_id = s.ctx, item.rule, s.site.id
    buildings = dict((await session.execute(select(Building.code, Building.id).where(
        Building.site_id == site_id))).all())
    codes = {v: k for k, v in buildings.items()}
    wanted = None if rule.buildings is None else {buildings.get(c) for c in rule.buildings}
    pools: dict[int | None, list[MeterInfo]] = defaultdict(list)
    for m in await _meters(session, site_id, ctx.start, ctx.end, s.devices,
                           BillingMeter.scope == "shared", BillingMeter.utility == rule.utility):
        if wanted is None or m.building_id in wanted:
            pools[m.building_id].append(m)
    if not pools:
        return
    hours = 48
    dev = [m.device_id for ms in pools.values() for m in ms if m.device_id is not None]
    at_start = await boundary_points(session, dev, ctx.start, hours)
    at_end = await boundary_points(session, dev, ctx.end, hours)
    lines = ctx.shares.setdefault(item.id, {})
    problems = ctx.share_problems.setdefault(item.id, {})
    for building_id, meters in pools.items():
        cond = [Unit.site_id == site_id]
        if building_id is not None:
            cond.append(Unit.building_id == building_id)
        units = [_facts(u) for u in (await session.execute(
            select(*_UNIT_COLS).where(*cond).order_by(Unit.id))).all()]
        pool = usage(meters, at_start, at_end, ctx.start, ctx.end, hours)
        if pool.problems:
            for u in units:
                problems[u.id] = [{**p, "fee": item.code} for p in pool.problems]
            continue
        amount = fen(pool.quantity * rule.price)
        basis = rule.basis
        weights = {u.id: u.area for u in units}
        if basis == "usage":
            used = await _unit_usage(session, s, [u.id for u in units], rule.utility)
            if sum(used.values(), Decimal(0)) > 0:
                weights = used
            else:
                basis = "area"  # nobody used anything: shared by area instead
        parts = largest_remainder(amount, weights)
        total_w = sum(weights.values(), Decimal(0))
        for u in units:
            part = parts.get(u.id)
            if part is None:
                continue
            w = weights[u.id]
            lines[u.id] = share_line(item, u.id, part, qty(pool.quantity * w / total_w), {
                "building": codes.get(building_id) if building_id is not None else None,
                "basis": basis, "weight": str(w), "total_weight": str(total_w),
                "pool_consumption": str(pool.quantity), "pool_amount": str(amount),
                "segments": pool.segments})


async def _unit_usage(session: AsyncSession, s: _Setup, unit_ids: list[int], utility: str
                      ) -> dict[int, Decimal]:
    ctx = s.ctx
    meters = await _meters(session, s.site.id, ctx.start, ctx.end, s.devices,
                           BillingMeter.scope == "unit", BillingMeter.utility == utility,
                           BillingMeter.unit_id.in_(unit_ids))
    dev = [m.device_id for m in meters if m.device_id is not None]
    at_start = await boundary_points(session, dev, ctx.start, s.hours)
    at_end = await boundary_points(session, dev, ctx.end, s.hours)
    by_unit: dict[int, list[MeterInfo]] = defaultdict(list)
    for m in meters:
        if m.unit_id is not None:
            by_unit[m.unit_id].append(m)
    return {uid: usage(ms, at_start, at_end, ctx.start, ctx.end, s.hours).quantity
            for uid, ms in by_unit.items()}


async def _batch(session: AsyncSession, s: _Setup, units: Sequence[UnitFacts]) -> Batch:
    ctx, data = s.ctx, Batch()
    ids = [u.id for u in units]
    kinds = {i.kind for i in ctx.items}
    if s.utilities:
        # the batch is a run of unit ids: a range, not a thousand parameters
        wanted = set(ids)
        meters = [m for m in await _meters(
            session, s.site.id, ctx.start, ctx.end, s.devices, BillingMeter.scope == "unit",
            BillingMeter.unit_id.between(min(ids), max(ids)),
            BillingMeter.utility.in_(sorted(s.utilities))) if m.unit_id in wanted]
        for m in meters:
            if m.unit_id is not None and in_service(m, ctx.start, ctx.end):
                data.meters.setdefault(m.unit_id, []).append(m)
        dev = [m.device_id for m in meters if m.device_id is not None]
        data.at_start = await boundary_points(session, dev, ctx.start, s.hours)
        data.at_end = await boundary_points(session, dev, ctx.end, s.hours)
        await _history(session, s, ids, data)
    if kinds & {"parking_pass", "parking_temp"}:
        await _parking(session, s, units, data, kinds)
    return data


async def _history(session: AsyncSession, s: _Setup, ids: list[int], data: Batch) -> None:
    """Consumption billed in the previous periods (for spike and stuck checks)."""
    metered = [i for i in s.ctx.items if i.kind == "metered"]
    depth = max(max(i.rule.anomaly.spike_periods, i.rule.anomaly.stuck_periods)
                for i in metered)
    labels = [s.ctx.period.previous(n).label for n in range(1, depth + 1)]
    rows = (await session.execute(
        select(Bill.unit_id, Bill.period, BillLine.fee_item_id, func.sum(BillLine.quantity))
        .join(BillLine, BillLine.bill_id == Bill.id)
        .where(Bill.site_id == s.site.id, Bill.cycle == s.run.cycle,
               Bill.period.in_(labels), Bill.state != "void",
               Bill.unit_id.between(min(ids), max(ids)),
               BillLine.kind == "charge",
               BillLine.fee_item_id.in_([i.id for i in metered]))
        .group_by(Bill.unit_id, Bill.period, BillLine.fee_item_id))).all()
    got = {(u, p, f): q for u, p, f, q in rows}
    for uid in ids:
        for item in metered:
            hist: list[Decimal] = []
            for label in labels:
                q = got.get((uid, label, item.id))
                if q is None:
                    break
                hist.append(q)
            if hist:
                data.history[(uid, item.id)] = hist


async def _parking(session: AsyncSession, s: _Setup, units: Sequence[UnitFacts], data: Batch,
                   kinds: set[str]) -> None:
    by_code = {u.code: u.id for u in units}
    site_id = s.site.id
    plates: dict[str, int] = {}
    for plate, ref in (await session.execute(select(ParkingVehicle.plate, ParkingVehicle.unit_ref)
                       .where(ParkingVehicle.site_id == site_id,
                              ParkingVehicle.unit_ref.in_(list(by_code))))):
        if ref is not None:
            plates[plate] = by_code[ref]
    for space_plate, space_ref in (await session.execute(
            select(ParkingSpace.plate, ParkingSpace.unit_ref).where(
                ParkingSpace.site_id == site_id, ParkingSpace.plate.is_not(None),
                ParkingSpace.unit_ref.in_(list(by_code))))):
        if space_plate is not None and space_ref is not None:
            plates.setdefault(space_plate, by_code[space_ref])
    if not plates:
        return
    period = s.ctx.period
    if "parking_pass" in kinds:
        for p in (await session.execute(select(MonthlyPass).where(
                MonthlyPass.site_id == site_id, MonthlyPass.plate.in_(list(plates)),
                MonthlyPass.valid_from <= period.last_day,
                MonthlyPass.valid_to >= period.start).order_by(MonthlyPass.id))).scalars():
            data.passes.setdefault(plates[p.plate], []).append(
                PassInfo(p.id, p.plate, p.valid_from, p.valid_to))
    if "parking_temp" in kinds:
        billed = select(BilledCharge.charge_id).where(BilledCharge.charge_id == Charge.id)
        for c in (await session.execute(select(Charge).where(
                Charge.site_id == site_id, Charge.source == "parking.exit",
                Charge.plate.in_(list(plates)), Charge.paid < Charge.amount,
                Charge.created_at < s.ctx.end, ~billed.exists()).order_by(Charge.id))).scalars():
            if c.plate is not None:
                data.charges.setdefault(plates[c.plate], []).append(ChargeInfo(
                    c.id, c.plate, c.amount, c.paid, c.event_id, c.source_ref, c.created_at))


# --- running ----------------------------------------------------------------------------------


@dataclass
class BatchResult:
    units: int
    bills: int
    held: int
    total: Decimal


async def _bill_batch(session: AsyncSession, s: _Setup, units: Sequence[UnitFacts], pos: int,
                      now: datetime, actor: Actor, settle: Settle | None) -> BatchResult:
    run, ctx = s.run, s.ctx
    ids = [u.id for u in units]
    done = set((await session.execute(select(Bill.unit_id).where(
        Bill.run_id == run.id, Bill.unit_id.between(ids[0], ids[-1])))).scalars())
    todo = [u for u in units if u.id not in done]
    data = await _batch(session, s, todo) if todo else Batch()
    bills: list[dict[str, Any]] = []
    lines_of: dict[int, list[dict[str, Any]]] = {}
    for u in todo:
        lines, problems, due = unit_lines(u, ctx, data)
        if not lines or due is None:
            continue
        held = bool(problems)
        bills.append({
            "site_id": s.site.id, "run_id": run.id, "unit_id": u.id,
            "number": f"{s.site.slug}-{run.period}-{u.id}"[:64], "cycle": run.cycle,
            "period": run.period, "state": "held" if held else "open",
            "total": bill_total(lines), "paid": Decimal("0.00"), "due_date": due,
            "hold_reasons": problems or None, "void_reason": None,
            "issued_at": None if held else now, "created_at": now, "updated_at": now})
        lines_of[u.id] = lines
    result = BatchResult(len(units), len(bills), sum(b["state"] == "held" for b in bills),
                         sum((b["total"] for b in bills), Decimal("0.00")))
    if bills:
        if session.get_bind().dialect.name == "postgresql":
            bill_of = await _copy_pg(session, bills, lines_of, now)
        else:
            # Core statements: the ORM's bulk path costs more than the database here.
            bills_t, lines_t = table_of(Bill), table_of(BillLine)
            made = (await session.execute(
                insert(bills_t).returning(bills_t.c.id, bills_t.c.unit_id), bills)).all()
            bill_of = {unit_id: bill_id for bill_id, unit_id in made}
            rows = [{**line, "bill_id": bill_of[uid], "created_at": now}
                    for uid, lines in lines_of.items() for line in lines]
            await session.execute(insert(lines_t), rows)
        charged = [{"charge_id": line["source"]["charge_id"], "bill_id": bill_of[uid],
                    "created_at": now}
                   for uid, lines in lines_of.items() for line in lines
                   if "charge_id" in line["source"]]
        if charged:
            await session.execute(insert(BilledCharge), charged)
        opened = [bill_of[b["unit_id"]] for b in bills if b["state"] == "open"]
        if opened and settle is not None:
            await settle(session, site_id=s.site.id, now=now, actor=actor, bill_ids=opened)
    await session.execute(update(BillRun).where(BillRun.id == run.id).values(
        units_done=case((BillRun.units_done < pos, pos), else_=BillRun.units_done),
        bills=BillRun.bills + result.bills, held=BillRun.held + result.held,
        total=BillRun.total + result.total))
    return result


_BILL_COLS = ("id", "site_id", "run_id", "unit_id", "number", "cycle", "period", "state",
              "total", "paid", "due_date", "hold_reasons", "void_reason", "issued_at",
              "created_at", "updated_at")
_LINE_COLS = ("bill_id", "kind", "fee_item_id", "fee_code", "description", "quantity",
              "unit_price", "amount", "source", "created_at")


async def _copy_pg(session: AsyncSession, bills: list[dict[str, Any]],
                   lines_of: dict[int, list[dict[str, Any]]], now: datetime) -> dict[int, int]:
    """PostgreSQL: bill ids from the sequence, then bills and lines by COPY on the session's
    own connection (same transaction). A unique clash raises IntegrityError like an INSERT."""
    import asyncpg

    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    ids = [r[0] for r in await raw.fetch(
        "SELECT nextval(pg_get_serial_sequence('bills', 'id')) FROM generate_series(1, $1)",
        len(bills))]
    bill_of = {b["unit_id"]: i for b, i in zip(bills, ids, strict=True)}
    try:
        await raw.copy_records_to_table("bills", columns=_BILL_COLS, records=[
            (bill_of[b["unit_id"]], b["site_id"], b["run_id"], b["unit_id"], b["number"],
             b["cycle"], b["period"], b["state"], b["total"], b["paid"], b["due_date"],
             None if b["hold_reasons"] is None else json.dumps(b["hold_reasons"],
                                                               ensure_ascii=False),
             None, b["issued_at"], now, now) for b in bills])
        await raw.copy_records_to_table("bill_lines", columns=_LINE_COLS, records=[
            (bill_of[uid], ln["kind"], ln["fee_item_id"], ln["fee_code"], ln["description"],
             ln["quantity"], ln["unit_price"], ln["amount"],
             json.dumps(ln["source"], ensure_ascii=False), now)
            for uid, lines in lines_of.items() for ln in lines])
    except asyncpg.UniqueViolationError as exc:
        raise IntegrityError("COPY bills", None, exc) from exc
    return bill_of


Progress = Callable[[BillRun], Any]


async def execute(sessions: async_sessionmaker[AsyncSession], run_id: int, *, clock: Clock,
                  actor: Actor, batch_size: int = BATCH_SIZE,
                  progress: Progress | None = None, settle: Settle | None = None) -> BillRun:
    """Bill every unit of the run not yet billed; marks the run ``done`` (or ``failed`` with
    the error, resumable). A cancelled run stays ``running`` and resumes later. ``settle``
    pays the new open bills of each batch (prepaid balances) in the batch's transaction."""
    bound = log.bind(run_id=run_id)
    try:
        async with sessions() as session:
            s = await _setup(session, run_id)
        last_id, pos = 0, 0
        while True:
            for attempt in (1, 2):
                try:
                    async with sessions() as session, session.begin():
                        units = [_facts(u) for u in (await session.execute(
                            select(*_UNIT_COLS).where(Unit.site_id == s.site.id,
                                                      Unit.id > last_id)
                            .order_by(Unit.id).limit(batch_size))).all()]
                        if not units:
                            break
                        await _bill_batch(session, s, units, pos + len(units), clock.now(),
                                          actor, settle)
                    break
                except IntegrityError:
                    if attempt == 2:
                        raise
                    bound.info("bill_run.batch_collided", after_unit=last_id)
            else:  # pragma: no cover - the loop always breaks
                pass
            if not units:
                break
            last_id, pos = units[-1].id, pos + len(units)
            if progress is not None:
                async with sessions() as session:
                    run = (await session.execute(select(BillRun).where(
                        BillRun.id == run_id))).scalar_one()
                await _call(progress, run)
        async with sessions() as session, session.begin():
            run = (await session.execute(select(BillRun).where(BillRun.id == run_id)
                                         .with_for_update())).scalar_one()
            if run.state != "done":
                run.state, run.finished_at, run.units_done = "done", clock.now(), pos
                record(session, at=clock.now(), actor=actor, action="finish",
                       entity="bill_run", entity_id=run.id, site_id=run.site_id,
                       after={"bills": run.bills, "held": run.held, "total": run.total})
        bound.info("bill_run.done", bills=run.bills, held=run.held, total=str(run.total))
        if progress is not None:
            await _call(progress, run)
        return run
    except asyncio.CancelledError:
        bound.info("bill_run.cancelled")
        raise
    except Exception as exc:
        bound.exception("bill_run.failed")
        async with sessions() as session, session.begin():
            await session.execute(update(BillRun).where(
                and_(BillRun.id == run_id, BillRun.state == "running")).values(
                state="failed", error=f"{type(exc).__name__}: {exc}"[:500]))
        raise


async def _call(progress: Progress, run: BillRun) -> None:
    out = progress(run)
    if asyncio.iscoroutine(out):
        await out


def run_snapshot(run: BillRun) -> dict[str, Any]:
    return {f: getattr(run, f) for f in RUN_FIELDS}


__all__ = ["BATCH_SIZE", "Period", "RunRefused", "execute", "open_run", "run_snapshot"]
