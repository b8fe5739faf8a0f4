"""The patrol panel counts today's rounds as the patrol report does, on both databases.

Scripted Monday 2026-11-23 (Asia/Shanghai) of site ``demo``:

| round | scheduled (site time) | status     |
|-------|-----------------------|------------|
| r1    | 07:30                 | completed  |
| r2    | 10:00                 | completed  |
| r3    | 12:00                 | incomplete |
| r4    | 14:00                 | missed     |
| r5    | 23:59:59 (15:59:59Z)  | started    |
| r6    | Tue 00:00 (16:00:00Z) | completed  |
| r0    | Sun 23:59             | completed  |
| rb    | 10:00, another site   | missed     |

Monday: planned 5 (r1–r5), completed 2, incomplete 1, missed 1, rate 2 / 5 = 40.00 %.
Tuesday (the clock past the site's midnight): planned 1 (r6), completed 1, rate 100.00 %.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.cockpit.panels.patrol import patrol_panel
from cloud.cockpit.panels.registry import PanelContext, panels
from cloud.db.models import Site
from cloud.patrol.tables import PatrolRound

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _round(site_id: int, rid: str, at: datetime, status: str) -> PatrolRound:
    return PatrolRound(site_id=site_id, round_id=rid, plan="night", route="night",
                       scheduled_at=at, status=status, guard="zhang" if status != "missed"
                       else None, on_time=0, late=0, missed=0, out_of_order=0,
                       missed_checkpoints={}, updated_at=at)


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s, s.begin():
        demo, other = Site(slug="demo", name="示范小区"), Site(slug="other", name="别的小区")
        s.add_all([demo, other])
        await s.flush()
        s.add_all([
            _round(demo.id, "r1", _local("2026-11-23T07:30"), "completed"),
            _round(demo.id, "r2", _local("2026-11-23T10:00"), "completed"),
            _round(demo.id, "r3", _local("2026-11-23T12:00"), "incomplete"),
            _round(demo.id, "r4", _local("2026-11-23T14:00"), "missed"),
            _round(demo.id, "r5", datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC), "started"),
            _round(demo.id, "r6", datetime(2026, 11, 23, 16, 0, 0, tzinfo=UTC), "completed"),
            _round(demo.id, "r0", _local("2026-11-22T23:59"), "completed"),
            _round(other.id, "rb", _local("2026-11-23T10:00"), "missed")])
        return demo.id


async def _panel(sessions: async_sessionmaker[AsyncSession], site_id: int,
                 now: datetime) -> dict[str, object]:
    async with sessions() as s:
        return await patrol_panel(PanelContext(s, site_id, "demo", SHANGHAI, now))


async def test_today_is_counted_like_the_report_across_the_site_midnight(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    site_id = await _seed(sessions)
    monday = await _panel(sessions, site_id, datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC))
    assert monday == {"empty": False, "today": {"planned": 5, "completed": 2, "incomplete": 1,
                                                "missed": 1, "rate": 40.0}}
    tuesday = await _panel(sessions, site_id, datetime(2026, 11, 23, 16, 0, 0, tzinfo=UTC))
    assert tuesday == {"empty": False, "today": {"planned": 1, "completed": 1, "incomplete": 0,
                                                 "missed": 0, "rate": 100.0}}


async def test_a_day_without_rounds_is_empty_with_no_rate(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    site_id = await _seed(sessions)
    got = await _panel(sessions, site_id, datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    assert got == {"empty": True, "today": {"planned": 0, "completed": 0, "incomplete": 0,
                                            "missed": 0, "rate": None}}


def test_the_panel_is_registered_for_patrol_events() -> None:
    spec = next(p for p in panels() if p.name == "patrol")
    assert (spec.title_zh, spec.title_en) == ("巡更", "Patrol")
    assert spec.touched_by("patrol.round_missed") and not spec.touched_by("meter.reading")
