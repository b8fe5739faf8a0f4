"""Cockpit rollups through the real ingest path, on SQLite and PostgreSQL: hand-computed sums
per hour, building and site; a counter going backwards; a re-delivered batch; batches out of
order; parking income in fen; elevator cars (newest device time wins); rebuild equals ingest."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.cockpit import rebuild as rebuild_module
from cloud.cockpit import rollups as r
from cloud.cockpit.rebuild import rebuild
from cloud.cockpit.tables import CockpitElevator, CockpitHourly, CockpitMeterState
from cloud.db.engine import make_engine
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Device, Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.records.tables import BillingMeter, Building, Unit
from contract import Batch, Envelope, FakeClock, Priority, encode_batch, topics
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
H1, H2, H3 = T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)
NOW = T0 + timedelta(hours=5)
SHANGHAI = ZoneInfo("Asia/Shanghai")
TOPIC = topics.up_events("demo")
D = Decimal


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def site_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Site ``demo`` with buildings 1 and 2: meter ``m-1-101`` is unit 1-101's billing meter;
    unit 2-101 has none (its meter names the unit in its readings)."""
    async with sessions() as s, s.begin():
        site = Site(slug="demo", name="示范小区")
        s.add(site)
        await s.flush()
        stamp = {"created_at": T0, "updated_at": T0}
        b1, b2 = Building(site_id=site.id, code="1", name="1栋", **stamp), \
            Building(site_id=site.id, code="2", name="2栋", **stamp)
        s.add_all([b1, b2])
        await s.flush()
        u1 = Unit(site_id=site.id, building_id=b1.id, code="1-101", area=D("90"),
                  unit_type="residential", status="occupied", **stamp)
        u2 = Unit(site_id=site.id, building_id=b2.id, code="2-101", area=D("90"),
                  unit_type="residential", status="occupied", **stamp)
        s.add_all([u1, u2])
        await s.flush()
        s.add(BillingMeter(site_id=site.id, code="E-1-101", utility="electricity", scope="unit",
                           unit_id=u1.id, device_key="m-1-101", register="energy_import_kwh",
                           multiplier=D(1), installed_at=T0 - timedelta(days=300),
                           initial_reading=D(0), **stamp))
        return int(site.id)


@pytest.fixture
def ingestor(sessions: async_sessionmaker[AsyncSession], site_id: int) -> Ingestor:
    return Ingestor(sessions, FakeClock(NOW), default_registry())


class Feed:
    """Scripted events with increasing seqs (device times chosen by the test)."""

    def __init__(self) -> None:
        self.seq = 0

    def ev(self, kind: str, device: str, at: datetime, **data: Any) -> Envelope:
        self.seq += 1
        return Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=at, device=device, kind=kind,
                        data={"v": 1, **data}, priority=Priority.TELEMETRY)

    def reading(self, device: str, at: datetime, unit: str | None = None,
                **values: float) -> Envelope:
        return self.ev("meter.reading", device, at, values=values,
                       **({"unit": unit} if unit else {}))


def payload(events: list[Envelope]) -> bytes:
    return encode_batch(Batch(epoch=TEST_EPOCH, site="demo", events=events, gaps=[]))


async def cells(sessions: async_sessionmaker[AsyncSession],
                metric: str) -> dict[tuple[str, str, datetime], Decimal]:
    h = CockpitHourly
    async with sessions() as s:
        rows = (await s.execute(select(h.subject_type, h.subject, h.hour, h.value)
                                .where(h.metric == metric))).all()
    return {(t, sub, hour): v for t, sub, hour, v in rows}


async def everything(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[Any, ...],
                                                                         Decimal]:
    h = CockpitHourly
    async with sessions() as s:
        rows = (await s.execute(select(h.metric, h.subject_type, h.subject, h.hour,
                                       h.value))).all()
    return {tuple(row[:4]): row[4] for row in rows}


def meter_script(f: Feed) -> list[Envelope]:
    m = timedelta(minutes=1)
    return [
        f.reading("m-1-101", H1, energy_import_kwh=100.0, water_forward_m3=10.0),
        f.reading("m-1-101", H1 + 30 * m, energy_import_kwh=101.5),
        f.reading("m-1-101", H2 + 10 * m, energy_import_kwh=103.0, water_forward_m3=10.25),
        f.reading("m-2-101", H1 + 10 * m, unit="2-101", energy_import_kwh=50.0),
        f.reading("m-2-101", H2 + 20 * m, unit="2-101", energy_import_kwh=52.25),
        f.reading("m-x", H1, energy_import_kwh=10.0),
        f.reading("m-x", H1 + 20 * m, energy_import_kwh=12.0),
        f.reading("m-back", H1, energy_import_kwh=500.0),
        f.reading("m-back", H1 + 40 * m, energy_import_kwh=20.0),  # replaced: backwards
        f.reading("m-back", H2 + 30 * m, energy_import_kwh=21.0),  # rises from the new one
        f.reading("m-jump", H1, energy_import_kwh=0.0),
        f.reading("m-jump", H1 + 30 * m, energy_import_kwh=900.0),  # 900 kWh in 30 min
    ]


EXPECTED_KWH = {
    ("device", "m-1-101", H1): D("1.5"), ("device", "m-1-101", H2): D("1.5"),
    ("device", "m-2-101", H2): D("2.25"), ("device", "m-x", H1): D("2"),
    ("device", "m-back", H2): D("1"),
    ("building", "1", H1): D("1.5"), ("building", "1", H2): D("1.5"),
    ("building", "2", H2): D("2.25"),
    ("site", "", H1): D("3.5"), ("site", "", H2): D("4.75"),
}
EXPECTED_M3 = {("device", "m-1-101", H2): D("0.25"), ("building", "1", H2): D("0.25"),
               ("site", "", H2): D("0.25")}


async def test_meter_rises_per_hour_building_and_site(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession], site_id: int) -> None:
    res = await ingestor.handle(TOPIC, payload(meter_script(Feed())))
    assert res.ok and res.inserted == 12
    assert await cells(sessions, r.ENERGY_KWH) == EXPECTED_KWH
    assert await cells(sessions, r.WATER_M3) == EXPECTED_M3
    async with sessions() as s:
        anomalies = await r.meter_anomalies(s, site_id)
        trend = await r.daily_totals(s, site_id, r.ENERGY_KWH, r.SITE, "", 3, SHANGHAI, NOW)
        by_building = await r.totals(s, site_id, r.ENERGY_KWH, r.BUILDING,
                                     *r.day_bounds(NOW.astimezone(SHANGHAI).date(), SHANGHAI))
        hours = await r.hourly_today(s, site_id, r.ENERGY_KWH, SHANGHAI, NOW)
        _, buildings_trend = await r.daily_by_subject(s, site_id, r.ENERGY_KWH, r.BUILDING, 3,
                                                      SHANGHAI, NOW)
        top = await r.top(s, site_id, r.ENERGY_KWH, r.DEVICE, H1, H3)
    # the counter that went backwards and the one that jumped: listed, nothing booked
    assert [(a.device, a.reason, a.at) for a in anomalies] == [
        ("m-back", "energy_backwards", H1 + timedelta(minutes=40)),
        ("m-jump", "energy_implausible", H1 + timedelta(minutes=30))]
    assert trend.values == [D(0), D(0), D("8.25")] and trend.any_data
    assert by_building == {"1": D("3"), "2": D("2.25")}
    assert buildings_trend == {"1": [D(0), D(0), D("3")], "2": [D(0), D(0), D("2.25")]}
    assert top == [("m-1-101", D("3")), ("m-2-101", D("2.25")), ("m-x", D("2")),
                   ("m-back", D("1"))]
    assert hours[9] == D("3.5") and hours[10] == D("4.75") and sum(hours) == D("8.25")


async def test_a_redelivered_batch_adds_nothing(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession], site_id: int) -> None:
    f = Feed()
    events = [*meter_script(f),
              f.ev("parking.entry", "lane-in", H1, lot="P1", lane="in", plate="沪A12345",
                   session="s1")]
    await ingestor.handle(TOPIC, payload(events))
    first = await everything(sessions)
    again = await ingestor.handle(TOPIC, payload(events))
    assert again.duplicates == len(events) and again.inserted == 0
    assert await everything(sessions) == first
    assert first[(r.PARKING_ENTRIES, "site", "", H1)] == D(1)


def _exit(f: Feed, at: datetime, lot: str, paid: str) -> Envelope:
    return f.ev("parking.exit", "lane-out", at, lot=lot, lane="out", plate="沪A1", session="s",
                entry_ts=None, exit_ts=at.isoformat(), minutes=60, fee=paid, paid=paid, due="0")


async def test_batches_out_of_order_count_each_event_once_in_its_own_hour(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession], site_id: int) -> None:
    """The later batch carries older events (the edge sent telemetry after the doors): each
    count lands in its own hour, a late meter reading books nothing twice."""
    f = Feed()
    m = timedelta(minutes=1)
    newer = [f.ev("door.forced", "ctl-1", H3, door="1-lobby"),
             f.ev("gate.opened", "lane-in", H3, gate="g1", lane="in", cause="plate", by=None,
                  reason=None, plate=None, session=None, transport="io"),
             _exit(f, H3 + 5 * m, "P1", "12.50"),
             f.reading("m-x", H1, energy_import_kwh=10.0),
             f.reading("m-x", H1 + 40 * m, energy_import_kwh=12.0)]
    older = [f.ev("access.granted", "ctl-1", H1, door="1-lobby", credential="c1"),
             f.ev("door.held_open", "ctl-1", H1 + m, door="2-gate"),
             f.ev("access.denied", "ctl-1", H2, door="1-lobby", reason="expired"),
             _exit(f, H2, "P1", "3.333"), _exit(f, H2, "P2", "0.00"),
             f.reading("m-x", H1 + 20 * m, energy_import_kwh=11.0)]  # late: inside 10 → 12
    assert (await ingestor.handle(TOPIC, payload(newer))).inserted == 5
    assert (await ingestor.handle(TOPIC, payload(older))).inserted == 6
    assert await cells(sessions, r.DOOR_EVENTS) == {
        ("door", "1-lobby", H1): D(1), ("door", "2-gate", H1): D(1), ("site", "", H1): D(2),
        ("door", "1-lobby", H2): D(1), ("site", "", H2): D(1),
        ("door", "1-lobby", H3): D(1), ("site", "", H3): D(1)}
    assert await cells(sessions, r.DOOR_FORCED) == {("door", "1-lobby", H3): D(1),
                                                    ("site", "", H3): D(1)}
    assert await cells(sessions, r.DOOR_HELD) == {("door", "2-gate", H1): D(1),
                                                  ("site", "", H1): D(1)}
    assert await cells(sessions, r.GATE_OPENED) == {("lane", "lane-in", H3): D(1),
                                                    ("site", "", H3): D(1)}
    # forced (major) and held open (minor) raise alarms; a denied card does not
    assert await cells(sessions, r.ALARM_EVENTS) == {("site", "", H1): D(1),
                                                     ("site", "", H3): D(1)}
    # income in fen from what was paid: 12.50 → 1250, 3.333 → 333, 0.00 → nothing
    assert await cells(sessions, r.PARKING_INCOME_FEN) == {
        ("lot", "P1", H2): D(333), ("site", "", H2): D(333),
        ("lot", "P1", H3): D(1250), ("site", "", H3): D(1250)}
    assert await cells(sessions, r.PARKING_EXITS) == {
        ("lot", "P1", H2): D(1), ("lot", "P2", H2): D(1), ("site", "", H2): D(2),
        ("lot", "P1", H3): D(1), ("site", "", H3): D(1)}
    assert await cells(sessions, r.ENERGY_KWH) == {("device", "m-x", H1): D(2),
                                                   ("site", "", H1): D(2)}
    async with sessions() as s:
        assert await r.meter_anomalies(s, site_id) == []  # late is not backwards
        income = await r.total(s, site_id, r.PARKING_INCOME_FEN, H1, H3 + timedelta(hours=1))
    assert income == D(1583)


def _car(f: Feed, kind: str, at: datetime, floor: int | None, **data: Any) -> Envelope:
    return f.ev(kind, "elev-1", at, building="3", name="1号梯", floor=floor, **data)


async def test_elevator_cars_newest_device_time_wins(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession], site_id: int) -> None:
    f = Feed()
    m = timedelta(minutes=1)
    await ingestor.handle(TOPIC, payload([
        _car(f, "elevator.state", H1, 1, mode="normal"),
        _car(f, "elevator.trapped", H1 + 5 * m, 4, reason="stopped_outside_door_zone",
             code=None, since=(H1 + 4 * m).isoformat()),
        _car(f, "elevator.state", H1 + 6 * m, 4, mode="normal"),  # still trapped
        f.ev("elevator.state", "elev-2", H1, building="5", name="2号梯", floor=1,
             mode="inspection")]))

    async def cars() -> dict[str, tuple[str, int | None, datetime, str]]:
        async with sessions() as s:
            return {c.device: (c.state, c.floor, c.since, c.building)
                    for c in await r.elevator_cars(s, site_id)}

    assert await cars() == {"elev-1": ("trapped", 4, H1 + 4 * m, "3"),
                            "elev-2": ("maintenance", 1, H1, "5")}
    await ingestor.handle(TOPIC, payload([
        _car(f, "elevator.recovered", H1 + 10 * m, 4, cleared="trapped", code=None,
             since=(H1 + 4 * m).isoformat(), duration_s=360.0),
        _car(f, "elevator.state", H1 + 2 * m, 2, mode="fault")]))  # older: ignored
    assert (await cars())["elev-1"] == ("running", 4, H1 + 10 * m, "3")
    await ingestor.handle(TOPIC, payload([
        _car(f, "elevator.state", H1 + 20 * m, 7, mode="offline"),
        _car(f, "elevator.state", H1 + 15 * m, 6, mode="normal")]))  # older than offline
    assert (await cars())["elev-1"] == ("offline", 7, H1 + 20 * m, "3")
    async with sessions() as s:
        updated = (await s.scalars(select(CockpitElevator.updated_ts)
                                   .where(CockpitElevator.device == "elev-1"))).one()
    assert updated == H1 + 20 * m


async def test_rebuild_equals_what_ingest_maintained(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession], site_id: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild_module, "CHUNK", 5)  # several chunks per day
    f = Feed()
    m = timedelta(minutes=1)
    day_before = T0 - timedelta(days=1)
    await ingestor.handle(TOPIC, payload([
        f.reading("m-1-101", day_before, energy_import_kwh=90.0),  # before the period
        f.reading("m-1-101", day_before + 30 * m, energy_import_kwh=95.0)]))
    await ingestor.handle(TOPIC, payload([
        *meter_script(f),
        f.ev("parking.entry", "lane-in", H1, lot="P1", lane="in", plate="沪A1", session="s1"),
        _exit(f, H2, "P1", "8.00"),
        f.ev("door.forced", "ctl-1", H2, door="1-lobby"),
        f.ev("elevator.trapped", "elev-1", H2, building="3", name="1号梯", floor=2,
             reason="fault_code", code=7, since=H2.isoformat())]))
    maintained = await everything(sessions)
    # m-1-101's first reading of the day rises from yesterday's last (95 → 100)
    assert maintained[(r.ENERGY_KWH, "device", "m-1-101", H1)] == D("6.5")
    async with sessions() as s:
        before = {x.device_id: x for x in (await s.scalars(select(CockpitMeterState))).all()}
        keys = dict((await s.execute(select(Device.id, Device.key))).all())
    lines: list[str] = []
    done = await rebuild(sessions, now=NOW, site="demo", days=1, say=lines.append)
    assert await everything(sessions) == maintained
    assert done[0].events == 16 and done[0].days == 1
    assert lines[0] == "站点 demo 2026-12-07: 16 事件 / events"
    await rebuild(sessions, now=NOW, site="demo", days=3, say=lines.append)  # idempotent
    assert await everything(sessions) == maintained
    assert lines[2:5] == ["站点 demo 2026-12-05: 0 事件 / events",
                          "站点 demo 2026-12-06: 2 事件 / events",
                          "站点 demo 2026-12-07: 16 事件 / events"]
    async with sessions() as s:
        after = {x.device_id: x for x in (await s.scalars(select(CockpitMeterState))).all()}
    assert {keys[i]: (x.last_kwh, x.last_ts, x.anomaly) for i, x in after.items()} == \
        {keys[i]: (x.last_kwh, x.last_ts, x.anomaly) for i, x in before.items()}
    with pytest.raises(LookupError):
        await rebuild(sessions, now=NOW, site="nowhere", days=1, say=lines.append)


async def test_a_day_with_25_hours_adds_the_repeated_hour(
        sessions: async_sessionmaker[AsyncSession], site_id: int) -> None:
    """Berlin leaves summer time on 2026-10-25: 02:00–03:00 happens twice, both land in
    local hour 2 and in that day's total (a zone with DST; China has none)."""
    berlin = ZoneInfo("Europe/Berlin")
    first, second = datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)
    last = datetime(2026, 10, 25, 22, tzinfo=UTC)  # 23:00 local, still that day
    async with sessions() as s, s.begin():
        await s.execute(select(Site.id).with_for_update())
        await r.add(s, [r.Cell(site_id, r.GATE_OPENED, r.SITE, "", first, D(2)),
                        r.Cell(site_id, r.GATE_OPENED, r.SITE, "", second, D(3)),
                        r.Cell(site_id, r.GATE_OPENED, r.SITE, "", last, D(1))])
    async with sessions() as s:
        hours = await r.hourly(s, site_id, r.GATE_OPENED, r.SITE, "",
                               datetime(2026, 10, 25).date(), berlin)
        days = await r.daily_totals(s, site_id, r.GATE_OPENED, r.SITE, "", 2, berlin,
                                    datetime(2026, 10, 26, 12, tzinfo=UTC))
    assert hours[2] == D(5) and hours[23] == D(1) and sum(hours) == D(6)
    assert days.values == [D(6), D(0)]
