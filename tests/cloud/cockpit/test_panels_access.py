"""The access panel on both databases: door events through the real ingest path, figures
computed by hand.

Site ``demo`` (Asia/Shanghai), today 2026-12-07, site time:

| when                          | kind            | door |
|-------------------------------|-----------------|------|
| 12-01 … 12-04 10:00           | door.forced     | d9   |  (older alarms: four)
| 12-06 23:59:59 (15:59:59Z)    | door.forced     | d4   |  yesterday
| 12-07 00:00:00 (16:00:00Z 12-06) | access.granted | d1  |  today h0
| 12-07 08:10                   | access.granted  | d1   |
| 12-07 08:20                   | access.denied   | d1   |
| 12-07 09:00                   | door.opened     | d2   |
| 12-07 09:30                   | door.forced     | d2   |
| 12-07 10:00                   | door.closed     | d2   |  (not a counted door event)
| 12-07 22:00                   | door.held_open  | d3   |
| 12-07 23:59:59 (15:59:59Z)    | access.granted  | d1   |
| 12-08 00:00:00 (16:00:00Z)    | door.forced     | d5   |  tomorrow, sent after the first look

Today: h0 = 1, h8 = 2, h9 = 2, h22 = 1, h23 = 1; forced 1, held 1. Latest five (newest
first): held d3 22:00, forced d2 09:30, forced d4 yesterday 23:59:59, forced d9 12-04,
forced d9 12-03. Tomorrow: h0 = 1, forced 1, held 0, d5 first in the latest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.cockpit.panels.access import access_panel
from cloud.cockpit.panels.registry import PanelContext, panels
from cloud.db.models import Site
from tests.support.cockpit_day import Feed

TZ = ZoneInfo("Asia/Shanghai")
LAST_SECOND = datetime(2026, 12, 7, 15, 59, 59, tzinfo=UTC)
TOMORROW = datetime(2026, 12, 7, 16, 0, 0, tzinfo=UTC)


def _at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(UTC)


def _z(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hours(**counts: int) -> list[int]:
    out = [0] * 24
    for key, n in counts.items():
        out[int(key[1:])] = n
    return out


async def _panel(sessions: async_sessionmaker[AsyncSession], now: datetime) -> dict[str, Any]:
    async with sessions() as s:
        site_id = (await s.scalars(select(Site.id).where(Site.slug == "demo"))).one()
        return await access_panel(PanelContext(s, site_id, "demo", TZ, now))


async def test_door_counts_and_the_latest_forced_or_held_across_the_site_midnight(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    feed = Feed(sessions, "demo", TOMORROW)
    for day in (1, 2, 3, 4):
        feed.door("door.forced", _at(f"2026-12-0{day}T10:00:00"), "d9")
    yesterday_last = datetime(2026, 12, 6, 15, 59, 59, tzinfo=UTC)
    feed.door("door.forced", yesterday_last, "d4")
    feed.door("access.granted", datetime(2026, 12, 6, 16, 0, 0, tzinfo=UTC), "d1")
    feed.door("access.granted", _at("2026-12-07T08:10:00"), "d1")
    feed.door("access.denied", _at("2026-12-07T08:20:00"), "d1")
    feed.door("door.opened", _at("2026-12-07T09:00:00"), "d2")
    feed.door("door.forced", _at("2026-12-07T09:30:00"), "d2")
    feed.door("door.closed", _at("2026-12-07T10:00:00"), "d2")
    feed.door("door.held_open", _at("2026-12-07T22:00:00"), "d3")
    feed.door("access.granted", LAST_SECOND, "d1")
    await feed.deliver()

    got = await _panel(sessions, LAST_SECOND)
    assert got == {
        "empty": False, "hourly_today": _hours(h0=1, h8=2, h9=2, h22=1, h23=1),
        "forced_today": 1, "held_today": 1,
        "latest": [
            {"door": "d3", "kind": "held", "ts": _z(_at("2026-12-07T22:00:00"))},
            {"door": "d2", "kind": "forced", "ts": _z(_at("2026-12-07T09:30:00"))},
            {"door": "d4", "kind": "forced", "ts": _z(yesterday_last)},
            {"door": "d9", "kind": "forced", "ts": _z(_at("2026-12-04T10:00:00"))},
            {"door": "d9", "kind": "forced", "ts": _z(_at("2026-12-03T10:00:00"))}]}

    feed.door("door.forced", TOMORROW, "d5")
    await feed.deliver()
    still = await _panel(sessions, LAST_SECOND)
    assert (still["hourly_today"], still["forced_today"]) == (got["hourly_today"], 1)
    after = await _panel(sessions, TOMORROW)
    assert (after["hourly_today"], after["forced_today"], after["held_today"]) == (
        _hours(h0=1), 1, 0)
    assert after["latest"][0] == {"door": "d5", "kind": "forced", "ts": _z(TOMORROW)}
    assert len(after["latest"]) == 5


async def test_a_site_without_doors_is_empty(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        s.add(Site(slug="demo", name="示范小区"))
    assert await _panel(sessions, LAST_SECOND) == {
        "empty": True, "hourly_today": [0] * 24, "forced_today": 0, "held_today": 0,
        "latest": []}


def test_the_panel_is_registered_for_access_and_door_events() -> None:
    spec = next(p for p in panels() if p.name == "access")
    assert (spec.title_zh, spec.title_en) == ("门禁", "Access")
    assert spec.touched_by("door.held_open") and spec.touched_by("access.denied")
    assert not spec.touched_by("parking.entry")
