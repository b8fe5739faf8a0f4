"""The energy panel on both databases: readings through the real ingest path (records from
the sample-community loader), figures computed by hand.

Site ``demo`` (Asia/Shanghai), buildings B1…B4 with units ``{b}-101``/``{b}-102`` and their
meters ``em-…`` (kWh) / ``wm-…`` (m³); ``em-pump`` reads no billing meter. Today is
2026-12-07; readings in site time (a meter's first reading is its baseline):

| meter     | readings                                                  | booked             |
|-----------|-----------------------------------------------------------|--------------------|
| em-1-101  | 12-05 10:00 100, 12-06 10:00 104, 12-07 08:00 110,        | 12-06 +4, today +7 |
|           | 12-07 23:59:59 111; then 12-08 00:00:00 113 (sent later)  | tomorrow +2        |
| em-1-102  | 12-03 10:00 45, 12-05 10:00 50, 12-07 09:00 53            | 12-05 +5, today +3 |
| em-2-101  | 12-06 23:59:59 200, 12-07 00:00:00 202                    | today +2 (h0)      |
| em-2-102  | 12-05 10:00 500, 12-07 10:00 400                          | backwards: nothing |
| em-3-101  | 11-09 10:00 10, 11-10 10:00 12, 12-07 14:00 13            | 11-10 +2, today +1 |
| em-3-102  | 11-06 10:00 7, 11-07 10:00 8 (before the 30 days), 12-07 15:00 8.5 | today +0.5 |
| em-4-101  | 11-20 10:00 30, 11-21 10:00 33                            | 11-21 +3           |
| em-pump   | 12-06 12:00 1000, 12-07 12:00 1008                        | today +8 (no building) |
| wm-1-101  | 12-05 10:00 10, 12-07 11:00 10.5                          | today +0.5 m³      |
| wm-2-101  | 12-06 10:00 20, 12-07 12:00 21.25                         | today +1.25 m³     |
| wm-2-102  | 12-05 10:00 5; offline 12-07 13:00 (timeout)              |                    |

Today: B1 10 kWh / 0.5 m³, B2 2 / 1.25, B3 1.5 / 0, B4 0 / 0 (listed: it used power within
the 30 days). Trend 11-08 … 12-07: 11-10 2, 11-21 3, 12-05 5, 12-06 4, 12-07 21.5, every other
day 0 (12-04 is a missing day between two with data); m³ 12-07 1.75. Top five: em-pump 8 (no
building), em-1-101 7 (B1), em-1-102 3 (B1), em-2-101 2 (B2), em-3-101 1 (B3); em-3-102 is
sixth. Anomaly: em-2-102 energy_backwards at 12-07 10:00. Offline: wm-2-102.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.cockpit.panels.energy import energy_panel
from cloud.cockpit.panels.registry import PanelContext, panels
from cloud.db.models import Site
from tests.support.cockpit_day import Feed, MeterSpec, community_doc, load_records, meters_of

TZ = ZoneInfo("Asia/Shanghai")
LAST_SECOND = datetime(2026, 12, 7, 15, 59, 59, tzinfo=UTC)
TOMORROW = datetime(2026, 12, 7, 16, 0, 0, tzinfo=UTC)
PUMP = MeterSpec("em-pump", "", "", "electricity")


def _at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(UTC)


def _z(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _trend(last: date, **values: float) -> tuple[list[str], list[float]]:
    days = [last - timedelta(days=29 - i) for i in range(30)]
    return ([d.isoformat() for d in days],
            [values.get(f"d{d:%m%d}", 0.0) for d in days])


async def _panel(sessions: async_sessionmaker[AsyncSession], now: datetime) -> dict[str, Any]:
    async with sessions() as s:
        site_id = (await s.scalars(select(Site.id).where(Site.slug == "demo"))).one()
        return await energy_panel(PanelContext(s, site_id, "demo", TZ, now))


async def test_buildings_trend_top_anomalies_and_offline_across_the_site_midnight(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    doc = community_doc("demo", "示范小区", buildings=4, units=2)
    await load_records(sessions, doc, _at("2026-11-01T00:00:00"))
    m = {spec.device: spec for spec in meters_of(doc)} | {PUMP.device: PUMP}
    feed = Feed(sessions, "demo", TOMORROW)
    for device, readings in {
            "em-1-101": [("2026-12-05T10:00:00", "100"), ("2026-12-06T10:00:00", "104"),
                         ("2026-12-07T08:00:00", "110"), ("2026-12-07T23:59:59", "111")],
            "em-1-102": [("2026-12-03T10:00:00", "45"), ("2026-12-05T10:00:00", "50"),
                         ("2026-12-07T09:00:00", "53")],
            "em-2-101": [("2026-12-06T23:59:59", "200"), ("2026-12-07T00:00:00", "202")],
            "em-2-102": [("2026-12-05T10:00:00", "500"), ("2026-12-07T10:00:00", "400")],
            "em-3-101": [("2026-11-09T10:00:00", "10"), ("2026-11-10T10:00:00", "12"),
                         ("2026-12-07T14:00:00", "13")],
            "em-3-102": [("2026-11-06T10:00:00", "7"), ("2026-11-07T10:00:00", "8"),
                         ("2026-12-07T15:00:00", "8.5")],
            "em-4-101": [("2026-11-20T10:00:00", "30"), ("2026-11-21T10:00:00", "33")],
            "em-pump": [("2026-12-06T12:00:00", "1000"), ("2026-12-07T12:00:00", "1008")],
            "wm-1-101": [("2026-12-05T10:00:00", "10"), ("2026-12-07T11:00:00", "10.5")],
            "wm-2-101": [("2026-12-06T10:00:00", "20"), ("2026-12-07T12:00:00", "21.25")],
            "wm-2-102": [("2026-12-05T10:00:00", "5")]}.items():
        for local, value in readings:
            feed.reading(m[device], _at(local), value)
    offline_at = _at("2026-12-07T13:00:00")
    feed.device(offline_at, "wm-2-102", online=False)
    await feed.deliver()

    got = await _panel(sessions, LAST_SECOND)
    assert got["empty"] is False
    assert got["buildings"] == [
        {"building": "B1", "name": "1号楼", "today_kwh": 10.0, "today_m3": 0.5},
        {"building": "B2", "name": "2号楼", "today_kwh": 2.0, "today_m3": 1.25},
        {"building": "B3", "name": "3号楼", "today_kwh": 1.5, "today_m3": 0.0},
        {"building": "B4", "name": "4号楼", "today_kwh": 0.0, "today_m3": 0.0}]
    days, kwh = _trend(date(2026, 12, 7), d1110=2.0, d1121=3.0, d1205=5.0, d1206=4.0,
                       d1207=21.5)
    _, m3 = _trend(date(2026, 12, 7), d1207=1.75)
    assert got["trend"] == {"days": days, "kwh": kwh, "m3": m3}
    assert days[0] == "2026-11-08" and kwh[days.index("2026-12-04")] == 0.0
    assert got["top"] == [
        {"device": "em-pump", "building": None, "today_kwh": 8.0},
        {"device": "em-1-101", "building": "B1", "today_kwh": 7.0},
        {"device": "em-1-102", "building": "B1", "today_kwh": 3.0},
        {"device": "em-2-101", "building": "B2", "today_kwh": 2.0},
        {"device": "em-3-101", "building": "B3", "today_kwh": 1.0}]
    assert got["anomalies"] == [{
        "device": "em-2-102", "reason": "energy_backwards",
        "reason_zh": "电表读数倒退（换表或清零）",
        "reason_en": "energy counter went backwards (replaced or reset)",
        "at": _z(_at("2026-12-07T10:00:00"))}]
    assert got["offline"] == [{"device": "wm-2-102", "reason": "timeout",
                               "since": _z(offline_at)}]

    feed.reading(m["em-1-101"], TOMORROW, "113")
    await feed.deliver()
    assert (await _panel(sessions, LAST_SECOND))["trend"]["kwh"] == kwh, "tomorrow stays out"
    after = await _panel(sessions, TOMORROW)
    days, kwh = _trend(date(2026, 12, 8), d1110=2.0, d1121=3.0, d1205=5.0, d1206=4.0,
                       d1207=21.5, d1208=2.0)
    assert (after["trend"]["days"], after["trend"]["kwh"]) == (days, kwh)
    assert [(b["building"], b["today_kwh"]) for b in after["buildings"]] == [
        ("B1", 2.0), ("B2", 0.0), ("B3", 0.0), ("B4", 0.0)]
    assert after["top"] == [{"device": "em-1-101", "building": "B1", "today_kwh": 2.0}]


async def test_a_site_without_meters_is_empty_with_a_zero_trend(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        s.add(Site(slug="demo", name="示范小区"))
    got = await _panel(sessions, LAST_SECOND)
    days, zeros = _trend(date(2026, 12, 7))
    assert got == {"empty": True, "buildings": [],
                   "trend": {"days": days, "kwh": zeros, "m3": zeros},
                   "top": [], "anomalies": [], "offline": []}


def test_the_panel_is_registered_for_meter_readings() -> None:
    spec = next(p for p in panels() if p.name == "energy")
    assert (spec.title_zh, spec.title_en) == ("能耗与用水", "Energy and water")
    assert spec.touched_by("meter.reading") and not spec.touched_by("door.forced")
