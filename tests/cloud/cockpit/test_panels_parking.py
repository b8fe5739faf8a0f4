"""The parking panel on both databases: events through the real ingest path (the edge's batch
format, ``tests.support.cockpit_day.Feed``), figures computed by hand.

Site ``demo`` (Asia/Shanghai), today 2026-12-07; times below are site time:

| stay | lot | entry                 | exit                 | fee / paid     |
|------|-----|-----------------------|----------------------|----------------|
| s1   | P1  | 12-06 09:10           | 12-06 11:20          | 5.00 / 5.00    |
| s7   | P1  | 12-06 23:59:59 (15:59:59Z) | —               |                |
| s6   | P1  | 12-07 00:00:00 (16:00:00Z of 12-06) | —      |                |
| s2   | P1  | 12-07 08:05           | 12-07 10:15          | 9.00 / 9.00    |
| s3   | P2  | 12-07 08:30           | —                    |                |
| s8   | P3  | (none)                | 12-07 13:40          | 20.00 / 12.50  |
| s9   | P1  | 12-08 00:00:00 (16:00:00Z of 12-07), sent after the first look |

At 23:59:59 today: inside P1 = s6 + s7 = 2, P2 = 1, P3 = 0 (seen today only); entries today
h0 = 1, h8 = 2; exits today h10 = 1, h13 = 1; entries yesterday h9 = 1, h23 = 1; exits
yesterday h11 = 1; income today 9.00 + 12.50 = 21.50 (yesterday's 5.00 is not today's).
At 00:00:00 tomorrow: today's entries h0 = 1 (s9), nothing else; yesterday is 12-07's figures;
income 0.00; P1 = 3.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.cockpit.panels.parking import parking_panel
from cloud.cockpit.panels.registry import PanelContext, panels
from cloud.db.models import Site
from tests.support.cockpit_day import Feed

TZ = ZoneInfo("Asia/Shanghai")
LAST_SECOND = datetime(2026, 12, 7, 15, 59, 59, tzinfo=UTC)
TOMORROW = datetime(2026, 12, 7, 16, 0, 0, tzinfo=UTC)


def _at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(UTC)


def _hours(**counts: int) -> list[int]:
    out = [0] * 24
    for key, n in counts.items():
        out[int(key[1:])] = n
    return out


async def _panel(sessions: async_sessionmaker[AsyncSession], now: datetime) -> dict[str, Any]:
    async with sessions() as s:
        site_id = (await s.scalars(select(Site.id).where(Site.slug == "demo"))).one()
        return await parking_panel(PanelContext(s, site_id, "demo", TZ, now))


async def test_lots_hours_and_income_across_the_site_midnight(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    feed = Feed(sessions, "demo", TOMORROW)
    s1_in = _at("2026-12-06T09:10:00")
    feed.entry(s1_in, "粤B10001", "s1")
    feed.exit(_at("2026-12-06T11:20:00"), "粤B10001", "s1", s1_in, "5.00", "5.00")
    feed.entry(datetime(2026, 12, 6, 15, 59, 59, tzinfo=UTC), "粤B10007", "s7")
    feed.entry(datetime(2026, 12, 6, 16, 0, 0, tzinfo=UTC), "粤B10006", "s6")
    s2_in = _at("2026-12-07T08:05:00")
    feed.entry(s2_in, "粤B10002", "s2")
    feed.entry(_at("2026-12-07T08:30:00"), "粤B10003", "s3", lot="P2")
    feed.exit(_at("2026-12-07T10:15:00"), "粤B10002", "s2", s2_in, "9.00", "9.00")
    feed.exit(_at("2026-12-07T13:40:00"), "粤B10008", "s8", _at("2026-12-07T09:00:00"),
              "20.00", "12.50", lot="P3")
    await feed.deliver()

    got = await _panel(sessions, LAST_SECOND)
    assert got["empty"] is False
    assert got["lots"] == [{"lot": "P1", "name": "P1", "occupied": 2, "capacity": None},
                           {"lot": "P2", "name": "P2", "occupied": 1, "capacity": None},
                           {"lot": "P3", "name": "P3", "occupied": 0, "capacity": None}]
    assert got["hourly"] == {"hours": list(range(24)),
                             "today_entries": _hours(h0=1, h8=2),
                             "today_exits": _hours(h10=1, h13=1),
                             "yesterday_entries": _hours(h9=1, h23=1),
                             "yesterday_exits": _hours(h11=1)}
    assert got["income_today"] == "21.50"

    feed.entry(TOMORROW, "粤B10009", "s9")
    await feed.deliver()
    before = await _panel(sessions, LAST_SECOND)
    assert before["hourly"]["today_entries"] == _hours(h0=1, h8=2), "tomorrow is not today"
    after = await _panel(sessions, TOMORROW)
    assert after["hourly"]["today_entries"] == _hours(h0=1)
    assert after["hourly"]["today_exits"] == [0] * 24
    assert after["hourly"]["yesterday_entries"] == _hours(h0=1, h8=2)
    assert after["hourly"]["yesterday_exits"] == _hours(h10=1, h13=1)
    assert after["income_today"] == "0.00"
    assert after["lots"][0] == {"lot": "P1", "name": "P1", "occupied": 3, "capacity": None}


async def test_a_site_without_parking_is_empty(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        s.add(Site(slug="demo", name="示范小区"))
    got = await _panel(sessions, LAST_SECOND)
    assert got == {"empty": True, "lots": [],
                   "hourly": {"hours": list(range(24)), "today_entries": [0] * 24,
                              "today_exits": [0] * 24, "yesterday_entries": [0] * 24,
                              "yesterday_exits": [0] * 24},
                   "income_today": "0.00"}


def test_the_panel_is_registered_for_parking_and_gate_events() -> None:
    spec = next(p for p in panels() if p.name == "parking")
    assert (spec.title_zh, spec.title_en) == ("停车", "Parking")
    assert spec.touched_by("parking.exit") and spec.touched_by("gate.opened")
    assert not spec.touched_by("door.forced")
