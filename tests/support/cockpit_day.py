"""A site's day of history for the cockpit (issue 15), delivered through the real ingest path.

Everything the cockpit reads comes from where production puts it: events go through
``Ingestor.handle`` in the edge's batch format (``tests.cloud.test_alarms_ingest.Edge``), in
time order, the ingest clock moved along with them (an alarm is opened when its event
arrives); records come from the sample-community loader (``cloud.sample_community``); work
orders from ``cloud.workorders.service``; bills from the payments tests' ``Community`` and
payments from ``cloud.payments.service.record_payment`` (so the collection rate is real).

Two uses: the scripted day (``tests/cloud/cockpit/test_scripted_day.py``) builds its events
one by one with the builders below; ``seed_day`` makes a busy, deterministic day from a seed
and a clock (``days=30`` adds a coarse 30-day history of readings for the energy trend).

    python -m tests.support.cockpit_day --db postgresql://… --site demo --days 30
"""

from __future__ import annotations

import argparse
import asyncio
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import SYSTEM
from cloud.db.models import Site
from cloud.payments.service import record_payment
from cloud.records.tables import Company, SiteCompany, Unit
from cloud.sample_community import load_community
from cloud.workorders.service import Source, act, open_or_fold
from cloud.workorders.tables import Technician
from contract import Envelope, FakeClock, priority_for
from tests.cloud.test_alarms_ingest import Edge, elevator_data, fire_data
from tests.payments.conftest import Community

TZ = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
#: Bill lines are (kind, fee code, amount); see ``tests.payments.conftest.Community.bill``.
BillLines = Sequence[tuple[str, str, str]]


@dataclass(frozen=True)
class MeterSpec:
    device: str
    unit: str
    building: str
    utility: str  # electricity | water

    @property
    def register(self) -> str:
        return "energy_import_kwh" if self.utility == "electricity" else "water_forward_m3"


def community_doc(slug: str, name: str, buildings: int = 3, units: int = 4) -> dict[str, Any]:
    """Buildings ``B1…``, units ``{b}-10{n}`` and an electricity and a water meter per unit
    (devices ``em-…`` / ``wm-…``), in the sample-community loader's format."""
    doc: dict[str, Any] = {
        "site": {"slug": slug, "name": name, "timezone": "Asia/Shanghai"},
        "buildings": [{"code": f"B{b}", "name": f"{b}号楼"} for b in range(1, buildings + 1)],
        "units": [], "meters": [],
        "fee_items": [
            {"code": "PF", "name": "物业费", "kind": "area", "cycle": "monthly", "due_days": 15,
             "rule": {"rates": {"residential": "2.20"}}},
            {"code": "RUB", "name": "垃圾清运费", "kind": "fixed", "cycle": "monthly",
             "due_days": 15, "rule": {"amount": "15.00"}}],
    }
    for b in range(1, buildings + 1):
        for n in range(1, units + 1):
            code = f"{b}-10{n}"
            doc["units"].append({"code": code, "building": f"B{b}", "area": "90.00",
                                 "type": "residential", "status": "occupied"})
            doc["meters"] += [
                {"code": f"E-{code}", "utility": "electricity", "unit": code,
                 "device": f"em-{code}"},
                {"code": f"W-{code}", "utility": "water", "unit": code, "device": f"wm-{code}",
                 "register": "water_forward_m3"}]
    return doc


def meters_of(doc: dict[str, Any]) -> list[MeterSpec]:
    building = {u["code"]: u["building"] for u in doc["units"]}
    return [MeterSpec(m["device"], m["unit"], building[m["unit"]], m["utility"])
            for m in doc["meters"]]


async def load_records(sessions: async_sessionmaker[AsyncSession], doc: dict[str, Any],
                       now: datetime, company: tuple[str, str] = ("DEMO", "示范物业")) -> int:
    """The site, its company, buildings, units, fee items and meters bound to units; its id."""
    async with sessions() as s, s.begin():
        site = await load_community(s, doc, SYSTEM, now)
        found = (await s.scalars(select(Company).where(Company.code == company[0]))).first()
        if found is None:
            found = Company(code=company[0], name=company[1], created_at=now, updated_at=now)
            s.add(found)
            await s.flush()
        s.add(SiteCompany(site_id=site.id, company_id=found.id))
        return site.id


# -- events -----------------------------------------------------------------------------------


@dataclass
class Feed:
    """Events of one site, delivered in time order through the real ingestor.

    ``deliver`` sends them in batches of at most ``batch`` events (``_chunk``), with the ingest
    clock moved to just after the batch's newest event (never past ``now``): an alarm is
    opened within the hour its event happened, as a console running all along would have."""

    sessions: async_sessionmaker[AsyncSession]
    site: str
    now: datetime
    seed: int = 1
    edge: Edge = field(init=False)
    pending: list[Envelope] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.edge = Edge(self.sessions, FakeClock(datetime(2000, 1, 1, tzinfo=UTC)), self.site)

    def add(self, kind: str, device: str, ts: datetime, data: dict[str, Any]) -> Envelope:
        ev = Envelope(seq=0, id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                      ts=ts, device=device, kind=kind, data=data, priority=priority_for(kind))
        self.pending.append(ev)
        return ev

    async def deliver(self, batch: int = 200) -> int:
        """Send everything added so far; how many events were stored."""
        events, self.pending = sorted(self.pending, key=lambda e: e.ts), []
        stored = 0
        while events:
            chunk = self._chunk(events[:batch])
            events = events[len(chunk):]
            target = min(chunk[-1].ts + timedelta(seconds=1), self.now)
            clock = self.edge.clock
            if target > clock.now():
                clock.advance((target - clock.now()).total_seconds())
            numbered = []
            for ev in chunk:
                self.edge.seq += 1
                numbered.append(Envelope(seq=self.edge.seq, id=ev.id, ts=ev.ts, device=ev.device,
                                         kind=ev.kind, data=ev.data, priority=ev.priority))
            result = await self.edge.send(*numbered)
            assert result.inserted == len(numbered), result
            assert self.edge.ingestor.stats.quarantined == 0, "an event broke the contract"
            stored += result.inserted
        return stored

    @staticmethod
    def _chunk(events: list[Envelope]) -> list[Envelope]:
        """The next batch: events of one UTC hour, or readings alone across hours (a reading
        opens nothing, so the ingest clock need not keep up with it)."""
        hour = events[0].ts.replace(minute=0, second=0, microsecond=0) + HOUR
        chunk: list[Envelope] = []
        others = False
        for ev in events:
            reading = ev.kind == "meter.reading"
            if ev.ts >= hour and (others or not reading):
                break
            others = others or not reading
            chunk.append(ev)
        return chunk

    # -- builders: data shaped as the edge's drivers make it (contract/payloads*.py) --------

    def reading(self, meter: MeterSpec, ts: datetime, value: Decimal | str) -> Envelope:
        unit = "kWh" if meter.utility == "electricity" else "m³"
        return self.add("meter.reading", meter.device, ts, {
            "v": 1, "profile": "eastron_sdm120" if meter.utility == "electricity" else "water",
            "unit": meter.unit, "values": {meter.register: float(Decimal(value))},
            "units": {meter.register: unit}})

    def entry(self, ts: datetime, plate: str, session: str, lot: str = "P1",
              lane: str = "in-1") -> Envelope:
        return self.add("parking.entry", f"lane-{lane}", ts, {
            "v": 1, "lane": lane, "lot": lot, "plate": plate, "category": "visitor",
            "session": session})

    def exit(self, ts: datetime, plate: str, session: str, entry_ts: datetime, fee: str,
             paid: str, lot: str = "P1", lane: str = "out-1") -> Envelope:
        minutes = int((ts - entry_ts).total_seconds() // 60)
        return self.add("parking.exit", f"lane-{lane}", ts, {
            "v": 1, "lane": lane, "lot": lot, "plate": plate,
            "category": "visitor" if Decimal(fee) else "owner", "session": session,
            "entry_ts": entry_ts.isoformat(), "exit_ts": ts.isoformat(), "minutes": minutes,
            "fee": fee, "paid": paid, "due": str(Decimal(fee) - Decimal(paid)),
            "paid_at": ts.isoformat() if Decimal(paid) else None})

    def gate_opened(self, ts: datetime, gate: str = "gate-out-1", lane: str = "out-1",
                    plate: str | None = None) -> Envelope:
        return self.add("gate.opened", gate, ts, {
            "v": 1, "gate": gate, "lane": lane, "cause": "plate", "by": None, "reason": None,
            "plate": plate, "session": None, "transport": "modbus"})

    def door(self, kind: str, ts: datetime, door: str, card: str | None = None) -> Envelope:
        data: dict[str, Any] = {"v": 1, "door": door}
        if kind in ("access.granted", "access.denied"):
            data |= {"credential": card or "90:1", "method": "card"}
        if kind == "access.denied":
            data["reason"] = "unknown_card"
        return self.add(kind, door, ts, data)

    def fire(self, kind: str, ts: datetime, zone: int, position: int = 2) -> Envelope:
        return self.add(kind, "uitd-1", ts, fire_data(kind, zone=zone, position=position))

    def elevator(self, kind: str, ts: datetime, car: str, **data: Any) -> Envelope:
        return self.add(kind, car, ts, elevator_data(**data))

    def trapped(self, ts: datetime, car: str) -> Envelope:
        return self.elevator("elevator.trapped", ts, car, reason="stopped_between_floors",
                             code=None, since=ts.isoformat(), people=True)

    def device(self, ts: datetime, key: str, online: bool) -> Envelope:
        if online:
            return self.add("device.online", key, ts, {"message": f"{key} online"})
        return self.add("device.offline", key, ts, {"message": f"{key} offline",
                                                      "reason": "timeout"})


# -- records that people make -----------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """A work order: caused at ``cause``, due ``resolve_h`` hours later; ``resolved`` (the
    technician completed it) and ``closed`` (the supervisor agreed), or left open."""

    key: str
    cause: datetime
    resolve_h: float
    technician: str | None = None
    resolved: datetime | None = None
    closed: datetime | None = None


async def technicians(sessions: async_sessionmaker[AsyncSession], site_id: int,
                      names: Iterable[str]) -> dict[str, int]:
    async with sessions() as s, s.begin():
        out: dict[str, int] = {}
        for name in names:
            tech = Technician(name=name, skills=["electric", "elevator"], site_ids=[site_id],
                              on_duty=True)
            s.add(tech)
            await s.flush()
            out[name] = tech.id
        return out


async def work_orders(sessions: async_sessionmaker[AsyncSession], site_id: int,
                      orders: Sequence[Order], techs: dict[str, int]) -> dict[str, int]:
    """Each order through the service's lifecycle at its own times; ids by key."""
    ids: dict[str, int] = {}
    for o in orders:
        async with sessions() as s, s.begin():
            order, _ = await open_or_fold(
                s, site_id=site_id, fold_key=f"cockpit:{o.key}", category="repair",
                priority="normal", sla_response_s=1800, sla_resolve_s=int(o.resolve_h * 3600),
                skill=None, title=(f"报修 {o.key}", f"repair {o.key}"), cause_ts=o.cause,
                source=Source("request", requested_by="cockpit-day"), now=o.cause)
            ids[o.key] = order.id
            at = o.cause + timedelta(minutes=5)
            if o.technician is not None:
                await act(s, order.id, "assign", "lead", None, at,
                          assignee_ids=[techs[o.technician]])
            if o.resolved is not None:
                assert o.technician is not None, f"{o.key}: resolved by nobody"
                for step in ("accept", "start"):
                    await act(s, order.id, step, o.technician, None, at)
                await act(s, order.id, "complete", o.technician, None, o.resolved)
            if o.closed is not None:
                await act(s, order.id, "close", "lead", None, o.closed)
    return ids


async def bills_and_payments(sessions: async_sessionmaker[AsyncSession], site_id: int,
                             period: str, due: date, bills: Mapping[str, BillLines],
                             payments: Sequence[tuple[str, str, datetime]]) -> None:
    """This month's bills (unit → lines) and payments ``(unit, amount, when)`` taken by the
    payments service, oldest bill first."""
    async with sessions() as s:
        units = {u.code: u.id for u in (await s.scalars(
            select(Unit).where(Unit.site_id == site_id))).all()}
    community = Community(sessions, site_id, units)
    for unit, lines in bills.items():
        await community.bill(unit, period, due, lines)
    for n, (unit, amount, when) in enumerate(payments):
        async with sessions() as s, s.begin():
            site = await s.get(Site, site_id)
            row = await s.get(Unit, units[unit])
            assert site is not None and row is not None
            await record_payment(s, site=site, unit=row, amount=Decimal(amount), method="cash",
                                 key=f"cockpit-day-{period}-{n}", now=when, actor=SYSTEM)


# -- a busy day from a seed -------------------------------------------------------------------


def local_midnight(day: date, tz: ZoneInfo = TZ) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def history(feed: Feed, meters: Sequence[MeterSpec], days: int) -> dict[str, Decimal]:
    """Coarse readings (every 6 hours) for ``days`` days before the site's today; each
    meter's last value."""
    start = local_midnight(feed.now.astimezone(TZ).date() - timedelta(days=days))
    last: dict[str, Decimal] = {}
    for i, m in enumerate(meters):
        value = Decimal(1000 + 37 * i) if m.utility == "electricity" else Decimal(50 + i)
        ts = start
        while ts < local_midnight(feed.now.astimezone(TZ).date()):
            feed.reading(m, ts, value)
            rise = feed.rng.uniform(0.5, 4.0) if m.utility == "electricity" else \
                feed.rng.uniform(0.05, 0.4)
            value += Decimal(str(round(rise, 2)))
            ts += timedelta(hours=6)
        last[m.device] = value
    return last


def busy_day(feed: Feed, meters: Sequence[MeterSpec], start: dict[str, Decimal]) -> None:
    """Today up to ``feed.now``: readings every 15 minutes, parking, gates, doors, alarms,
    elevators and devices going offline and back."""
    rng, now = feed.rng, feed.now
    midnight = local_midnight(now.astimezone(TZ).date())
    for i, m in enumerate(meters):
        value = start.get(m.device, Decimal(1000 + 37 * i))
        ts = midnight
        while ts <= now:
            feed.reading(m, ts, value)
            rise = rng.uniform(0.05, 0.6) if m.utility == "electricity" else \
                rng.uniform(0.002, 0.05)
            value += Decimal(str(round(rise, 3)))
            ts += timedelta(minutes=15)
    span = (now - midnight).total_seconds()

    def when(lo: float = 0.0, hi: float = 1.0) -> datetime:
        return midnight + timedelta(seconds=int(span * rng.uniform(lo, hi)))

    for n in range(rng.randint(40, 60)):
        plate, session, came = f"粤B{10000 + n}", f"s-{n}", when(0.0, 0.8)
        feed.entry(came, plate, session, lot=rng.choice(("P1", "P2")))
        if rng.random() < 0.7:
            left = came + timedelta(minutes=rng.randint(10, 300))
            if left < now:
                fee = "0.00" if rng.random() < 0.3 else f"{rng.choice((3, 5, 8, 10, 15))}.00"
                feed.exit(left, plate, session, came, fee, fee)
                feed.gate_opened(left + timedelta(seconds=2), plate=plate)
    doors = [f"{b}-east" for b in range(1, 4)] + [f"{b}-west" for b in range(1, 4)]
    for _ in range(rng.randint(150, 250)):
        kind = "access.granted" if rng.random() < 0.92 else "access.denied"
        feed.door(kind, when(), rng.choice(doors), f"90:{rng.randint(1, 300)}")
    feed.door("door.forced", when(0.3, 0.9), "2-west")
    feed.door("door.held_open", when(0.3, 0.9), "1-east")
    feed.fire("fire.fault", when(0.2, 0.9), zone=12)
    cars = ("lift-1", "lift-2", "lift-3")
    for car in cars:
        feed.elevator("elevator.state", midnight + timedelta(minutes=1), car, mode="normal",
                      direction="stop", door="closed")
    feed.trapped(when(0.5, 0.95), "lift-2")
    feed.device(when(0.1, 0.4), "cam-2", online=False)
    feed.device(when(0.5, 0.9), "cam-2", online=True)
    feed.device(when(0.6, 0.9), "em-B3-shared", online=False)


async def seed_day(sessions: async_sessionmaker[AsyncSession], slug: str, now: datetime,
                   seed: int = 1, days: int = 0, name: str = "示范小区", buildings: int = 3,
                   units: int = 4) -> int:
    """A whole day at ``slug`` up to ``now`` (plus ``days`` days of coarse readings before it):
    records, events through ingest, work orders, this month's bills and payments. The site's id.
    The same seed and clock give the same day."""
    doc = community_doc(slug, name, buildings, units)
    site_id = await load_records(sessions, doc, now - timedelta(days=days + 1))
    meters = meters_of(doc)
    feed = Feed(sessions, slug, now, seed)
    last = history(feed, meters, days) if days else {}
    busy_day(feed, meters, last)
    await feed.deliver()
    today = now.astimezone(TZ).date()
    midnight = local_midnight(today)
    techs = await technicians(sessions, site_id, ("王师傅", "李师傅", "张师傅"))
    orders = [Order("light-1", midnight + HOUR, 4, "王师傅", midnight + 3 * HOUR,
                    midnight + 4 * HOUR),
              Order("pump-2", midnight + 2 * HOUR, 2, "李师傅", midnight + 5 * HOUR),
              Order("door-3", midnight + 3 * HOUR, 2, "李师傅"),  # overdue
              Order("lift-4", now - HOUR, 24, "张师傅"),
              Order("paint-5", now - 30 * HOUR, 48)]
    await work_orders(sessions, site_id, [o for o in orders if o.cause < now], techs)
    period = f"{today:%Y-%m}"
    bills = {u["code"]: [("charge", "PF", "198.00"), ("charge", "RUB", "15.00")]
             for u in doc["units"]}
    payers = sorted(bills)[: len(bills) * 2 // 3]
    paid_at = min(now, midnight + 9 * HOUR)
    await bills_and_payments(sessions, site_id, period, today.replace(day=15), bills,
                             [(u, "213.00", paid_at) for u in payers])
    return site_id


def main(argv: Sequence[str] | None = None) -> None:
    """Seed a day (and with ``--days`` its history) into a migrated console database."""
    from cloud.db.engine import make_engine, migrate, session_factory

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="the console's database URL")
    ap.add_argument("--site", default="demo")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=0, help="coarse readings for N days before")
    ap.add_argument("--now", help="ISO time (UTC) the day runs to; default: now")
    args = ap.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)

    async def run() -> None:
        await migrate(args.db)
        engine = make_engine(args.db)
        try:
            site_id = await seed_day(session_factory(engine), args.site, now, args.seed,
                                     args.days)
            print(f"seeded site {args.site} (id {site_id}) up to {now.isoformat()}")
        finally:
            await engine.dispose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
