"""Acceptance (issue 15): the cockpit's numbers for a scripted day equal those worked by hand.

One small site (buildings B1 and B2, two units each) lives a day that ends at 14:30 in
Shanghai on Monday 7 December 2026 (the console's clock is fixed: the day never depends on
when CI runs). Its events go through the real ingest path in time order
(``tests.support.cockpit_day``); work orders, bills and payments through their services. Every
expected figure below is a literal worked out by hand in the comment beside it, never computed
with the code under test. Times in the script are the site's local times (UTC+8).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.auth import token_headers
from tests.support.cockpit_day import (
    TZ,
    Feed,
    MeterSpec,
    Order,
    bills_and_payments,
    community_doc,
    load_records,
    meters_of,
    seed_day,
    technicians,
    work_orders,
)
from tests.support.console_app import console_app

SLUG = "script"
#: 2026-12-07 14:30 in Shanghai.
NOW = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
TODAY = date(2026, 12, 7)


def at(days: int, hhmm: str) -> datetime:
    """``days`` days from today (-1: yesterday) at the local time ``hhmm``, in UTC."""
    hh, mm = (int(x) for x in hhmm.split(":"))
    return datetime.combine(TODAY + timedelta(days=days), time(hh, mm), TZ).astimezone(UTC)


def meter_events(feed: Feed, meters: dict[str, MeterSpec]) -> None:
    em11, em12, em21, wm11 = (meters[k] for k in ("em-1-101", "em-1-102", "em-2-101",
                                                  "wm-1-101"))
    feed.reading(em11, at(-1, "18:00"), "990.00")   # first reading: books nothing
    feed.reading(em11, at(-1, "23:45"), "1000.00")  # +10.00 yesterday (23:00)
    feed.reading(em11, at(0, "00:15"), "1001.50")   # +1.50 today
    feed.reading(em11, at(0, "10:00"), "1010.00")   # +8.50
    feed.reading(em11, at(0, "14:00"), "1012.25")   # +2.25
    feed.reading(em12, at(-1, "23:45"), "500.00")   # first reading
    feed.reading(em12, at(0, "11:00"), "503.00")    # +3.00
    feed.reading(em21, at(-1, "23:45"), "2000.00")  # first reading
    feed.reading(em21, at(0, "09:00"), "2004.00")   # +4.00
    feed.reading(em21, at(0, "13:00"), "2001.00")   # backwards: nothing, and an anomaly
    feed.reading(wm11, at(-1, "23:45"), "100.000")  # first reading
    feed.reading(wm11, at(0, "12:00"), "100.750")   # +0.750 m³


def parking_events(feed: Feed) -> None:
    y1, y2 = at(-1, "10:05"), at(-1, "10:40")
    feed.entry(y1, "粤B00001", "y1")
    feed.entry(y2, "粤B00002", "y2")
    feed.exit(at(-1, "18:20"), "粤B00003", "y3", at(-1, "08:00"), "3.00", "3.00")
    feed.entry(at(-1, "08:00"), "粤B00003", "y3")
    a1, a2, a3 = at(0, "08:10"), at(0, "08:50"), at(0, "09:30")
    for ts, plate, session in ((a1, "粤A00001", "a1"), (a2, "粤A00002", "a2"),
                               (a3, "粤A00003", "a3"), (at(0, "13:15"), "粤A00004", "a4")):
        feed.entry(ts, plate, session)
    feed.exit(at(0, "07:30"), "粤B00002", "y2", y2, "20.00", "0.00")  # let out unpaid
    feed.exit(at(0, "09:40"), "粤A00001", "a1", a1, "5.00", "5.00")
    feed.exit(at(0, "11:20"), "粤B00001", "y1", y1, "0.00", "0.00")    # an owner
    feed.exit(at(0, "12:05"), "粤A00002", "a2", a2, "10.00", "10.00")
    feed.exit(at(0, "14:10"), "粤A00003", "a3", a3, "8.50", "8.50")


def alarm_and_door_events(feed: Feed) -> None:
    feed.door("access.granted", at(0, "08:05"), "1-east", "90:7")
    feed.door("access.granted", at(0, "08:20"), "2-west", "90:8")
    feed.fire("fire.fault", at(0, "09:00"), zone=12)            # major
    feed.door("door.forced", at(0, "10:10"), "1-east")          # major
    feed.trapped(at(0, "11:20"), "lift-1")                      # critical
    feed.door("door.held_open", at(0, "12:05"), "2-west")       # minor
    # The 7 days before today: 3 + 2 + 1 + 4 held doors; 8 days ago 2 more (outside).
    past = {-1: 3, -3: 2, -5: 1, -7: 4, -8: 2}
    n = 0
    for day, count in past.items():
        for k in range(count):
            n += 1
            feed.door("door.held_open", at(day, f"{9 + k:02d}:00"), f"p-{n}")


ORDERS = [
    # key, caused, due after (h), technician, resolved, closed
    Order("light", at(0, "04:00"), 4, "王师傅", at(0, "07:00"), at(0, "07:30")),  # due 08:00, met
    Order("pump", at(0, "08:00"), 2, "李师傅", at(0, "11:00"), at(0, "11:30")),   # due 10:00, late
    Order("door", at(0, "09:00"), 2, "李师傅"),               # due 11:00, open: overdue
    Order("lift", at(0, "13:00"), 24, "王师傅"),              # due tomorrow 13:00, open
    Order("paint", at(-2, "10:00"), 2, "张师傅", at(-2, "11:00"), at(-2, "11:30")),
    Order("leak", at(-1, "09:00"), 2),                        # due yesterday 11:00, in pool
]

#: November's bills, due 15 November: overdue by today, so they are the arrears.
NOVEMBER = {
    "1-102": [("charge", "PF", "250.00"), ("charge", "RUB", "15.00")],  # 265.00, never paid
    "2-101": [("charge", "PF", "180.00"), ("charge", "RUB", "15.00")],  # 195.00
}
#: This month's bills (period 2026-12), due 15 December: not overdue yet.
DECEMBER = {
    "1-101": [("charge", "PF", "198.00"), ("charge", "RUB", "15.00")],  # 213.00
    "1-102": [("charge", "PF", "250.00"), ("charge", "RUB", "15.00")],  # 265.00
    "2-101": [("charge", "PF", "180.00"), ("charge", "RUB", "15.00")],  # 195.00
    "2-102": [("charge", "PF", "120.00"), ("charge", "RUB", "15.00")],  # 135.00
}
#: The payments service pays a unit's oldest bill first: 2-101's 100.00 goes to November.
PAYMENTS = [("1-101", "213.00", at(-4, "10:00")), ("2-101", "100.00", at(-2, "16:00")),
            ("2-102", "135.00", at(0, "10:00"))]


async def script_the_day(sessions: async_sessionmaker[AsyncSession]) -> None:
    doc = community_doc(SLUG, "脚本小区", buildings=2, units=2)
    site_id = await load_records(sessions, doc, at(-30, "09:00"))
    feed = Feed(sessions, SLUG, NOW, seed=15)
    meter_events(feed, {m.device: m for m in meters_of(doc)})
    parking_events(feed)
    alarm_and_door_events(feed)
    await feed.deliver()
    techs = await technicians(sessions, site_id, ("王师傅", "李师傅", "张师傅"))
    await work_orders(sessions, site_id, ORDERS, techs)
    await bills_and_payments(sessions, site_id, "2026-11", date(2026, 11, 15), NOVEMBER, [])
    await bills_and_payments(sessions, site_id, "2026-12", date(2026, 12, 15), DECEMBER,
                             PAYMENTS)


def num(value: Any) -> Decimal:
    """A figure the API sends as a number (or zero when absent), exactly."""
    assert not isinstance(value, str), f"{value!r}: a quantity or a rate is a number"
    return Decimal(str(value or 0))


def money(value: Any) -> Decimal:
    assert isinstance(value, str) and value.count(".") == 1 and len(value.split(".")[1]) == 2, \
        f"{value!r}: money is a string of yuan with two decimals"
    return Decimal(value)


def hours(**by_hour: int) -> list[int]:
    out = [0] * 24
    for h, n in by_hour.items():
        out[int(h.removeprefix("h"))] = n
    return out


async def test_the_site_view_equals_the_day_worked_by_hand(db_url: str) -> None:
    async with console_app(db_url, NOW) as console:
        await script_the_day(console.sessions)
        headers = await token_headers(console.sessions, "cockpit", sites=[SLUG])
        body = await console.call("GET", f"/api/cockpit/sites/{SLUG}", headers, 200)
    assert datetime.fromisoformat(body["now"]) == NOW and body["day"] == "2026-12-07"
    assert body["site"]["timezone"] == "Asia/Shanghai"
    p = body["panels"]

    alarms = p["alarms"]
    # Every alarm event opened an alarm of its own (no repeats), all still active:
    # critical: the trapped car; major: the fire fault and the forced door;
    # minor: today's held door + 3 + 2 + 1 + 4 + 2 held doors of past days = 13.
    assert alarms["open"] == {"critical": 1, "major": 2, "minor": 13}
    assert alarms["today"] == 4  # fault 09:00, forced 10:10, trapped 11:20, held 12:05
    assert num(alarms["avg_7d"]) == Decimal("1.4")  # (3 + 0 + 2 + 0 + 1 + 0 + 4) / 7 = 1.43
    assert [a["kind"] for a in alarms["latest"][:4]] == [
        "door.held_open", "elevator.trapped", "door.forced", "fire.fault"]  # newest first
    assert len(alarms["latest"]) == 10  # 16 alarms, the panel shows 10

    orders = p["workorders"]
    assert orders["open"] == 3     # door, lift, leak (light, pump, paint are closed)
    assert orders["overdue"] == 2  # door (due 11:00 today), leak (due 11:00 yesterday)
    # Due today: light (08:00, resolved 07:00: met), pump (10:00, resolved 11:00: late),
    # door (11:00, unresolved): 1 of 3 = 33.33 %.
    sla = orders["sla_today"]
    assert (sla["due"], sla["met"], num(sla["rate"])) == (3, 1, Decimal("33.33"))
    load = {t["name"]: t["open"] for t in orders["by_technician"]}
    assert (load["李师傅"], load["王师傅"], load.get("张师傅", 0)) == (1, 1, 0)

    parking = p["parking"]["hourly"]
    assert parking["hours"] == list(range(24))
    assert parking["today_entries"] == hours(h8=2, h9=1, h13=1)    # 08:10 08:50 09:30 13:15
    assert parking["today_exits"] == hours(h7=1, h9=1, h11=1, h12=1, h14=1)
    assert parking["yesterday_entries"] == hours(h8=1, h10=2)      # 08:00 10:05 10:40
    assert parking["yesterday_exits"] == hours(h18=1)              # 18:20
    # Paid today: 5.00 + 10.00 + 8.50 (+ 0.00 the owner, + 0.00 of 20.00 let out unpaid).
    assert money(p["parking"]["income_today"]) == Decimal("23.50")

    access = p["access"]
    # Door events today: two cards at 08:05 and 08:20, forced 10:10, held 12:05.
    assert access["hourly_today"] == hours(h8=2, h10=1, h12=1)
    assert (access["forced_today"], access["held_today"]) == (1, 1)

    energy = p["energy"]
    got = {b["building"]: (num(b["today_kwh"]), num(b["today_m3"])) for b in energy["buildings"]}
    assert got == {
        "B1": (Decimal("15.25"), Decimal("0.75")),  # 1.50 + 8.50 + 2.25 (1-101) + 3.00 (1-102)
        "B2": (Decimal("4.00"), Decimal("0")),      # +4.00, then backwards (books nothing)
    }
    assert [(t["device"], num(t["today_kwh"])) for t in energy["top"]] == [
        ("em-1-101", Decimal("12.25")), ("em-2-101", Decimal("4.00")),
        ("em-1-102", Decimal("3.00"))]
    assert [a["device"] for a in energy["anomalies"]] == ["em-2-101"]
    trend = energy["trend"]
    assert len(trend["days"]) == 30 and trend["days"][-1] == "2026-12-07"
    assert num(trend["kwh"][-1]) == Decimal("19.25")  # 15.25 + 4.00
    assert num(trend["kwh"][-2]) == Decimal("10.00")  # em-1-101: 990.00 → 1000.00 at 23:45
    assert num(trend["m3"][-1]) == Decimal("0.75")

    finance = p["finance"]
    assert finance["period"] == "2026-12"
    assert money(finance["billed"]) == Decimal("808.00")     # 213 + 265 + 195 + 135
    assert money(finance["collected"]) == Decimal("348.00")  # 213 (1-101) + 135 (2-102)
    assert num(finance["collection_rate"]) == Decimal("43.07")  # 348 / 808 = 43.069 %
    # Overdue and unpaid (November's): 1-102 265.00; 2-101 195.00 − 100.00 = 95.00.
    arrears = {a["building"]: money(a["arrears"]) for a in finance["arrears_by_building"]}
    assert arrears == {"B1": Decimal("265.00"), "B2": Decimal("95.00")}


async def test_a_seeded_day_fills_every_panel_but_patrol(db_url: str) -> None:
    """The generator's busy day (what the page tests and the demo draw): every panel has data,
    the 30-day trend has every day, and a fixed seed and clock give fixed figures."""
    async with console_app(db_url, NOW) as console:
        await seed_day(console.sessions, "garden", NOW, seed=7, days=30, buildings=2, units=2)
        headers = await token_headers(console.sessions, "cockpit", sites=["garden"])
        body = await console.call("GET", "/api/cockpit/sites/garden", headers, 200)
    p = body["panels"]
    assert [n for n, panel in p.items() if panel["empty"]] == ["patrol"]  # no rounds planned
    trend = p["energy"]["trend"]
    assert all(num(v) > 0 for v in trend["kwh"]) and all(num(v) > 0 for v in trend["m3"])
    assert p["alarms"]["open"] == {"critical": 1, "major": 2, "minor": 1}
    assert p["workorders"]["overdue"] == 1 and p["workorders"]["open"] == 4
    assert money(p["finance"]["collected"]) == Decimal("213.00") * 2  # 2 of 4 units paid
    assert money(p["finance"]["billed"]) == Decimal("213.00") * 4
    assert [c["state"] for c in p["elevators"]["cars"]] == ["running", "trapped", "running"]
