"""Panel ``workorders`` on SQLite and PostgreSQL: open, overdue, today's SLA (met, missed,
pending and the rate over the deadlines that came) in the site's day, each technician's load,
and the clock moved through the day and across the site's midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.cloud.cockpit import rows

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)  # 14:30 Monday 2026-12-07, Asia/Shanghai
MIDNIGHT = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)  # 2026-12-07 00:00 in Shanghai
SEC = timedelta(seconds=1)


def _utc(h: int, m: int = 0) -> datetime:
    return datetime(2026, 12, 7, h, m, tzinfo=UTC)


async def _script(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        north = await rows.site(s, "north")
        south = await rows.site(s, "south")
        wang = await rows.technician(s, "王工", [north.id])
        li = await rows.technician(s, "李工", [north.id, south.id])
        zhao = await rows.technician(s, "赵工", [south.id])
        await rows.technician(s, "钱工", [north.id], active=False)
        opened = MIDNIGHT - timedelta(days=1)
        o = rows.order
        rows.add_all(s, [
            o(north.id, opened, _utc(10), assignees=[wang]),  # W1 due 18:00 local: pending
            o(north.id, opened, _utc(2), state="in_progress", assignees=[wang]),  # W2 missed
            o(north.id, opened, _utc(2), state="completed", resolved_at=_utc(1)),  # W3 met
            o(north.id, opened, _utc(2), state="closed", resolved_at=_utc(3)),  # W4 late
            o(north.id, opened, _utc(4), state="cancelled"),  # W5 not counted
            o(north.id, opened, MIDNIGHT - SEC, state="pool"),  # W6 due yesterday 23:59:59
            o(north.id, opened, MIDNIGHT, state="accepted", assignees=[li]),  # W7 due 00:00
            o(north.id, opened - timedelta(days=1), opened, state="closed",
              resolved_at=opened),  # W8 done two days ago
            o(south.id, opened, _utc(1), assignees=[zhao, li]),  # another site's
        ])


async def test_open_overdue_sla_and_load_by_hand(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await _script(sessions)
    p = (await rows.view(sessions, "north", T0, "workorders"))["workorders"]
    assert (p["title_zh"], p["empty"]) == ("工单", False)
    assert p["open"] == 5  # W1, W2, W3 (completed, awaiting verification), W6, W7
    assert p["overdue"] == 3  # W2, W6, W7
    # Due today: W1, W2, W3, W4, W7; met W3; missed W2, W4 (resolved late), W7; W1 later.
    assert p["sla_today"] == {"due": 5, "met": 1, "missed": 3, "pending": 1, "rate": 25.0}
    # 李工 also holds south's order: only north's count here; 钱工 is inactive, 赵工 elsewhere.
    assert p["by_technician"] == [{"name": "王工", "open": 2}, {"name": "李工", "open": 1}]


async def test_deadlines_pass_through_the_day_and_midnight(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await _script(sessions)
    p = (await rows.view(sessions, "north", _utc(10), "workorders"))["workorders"]
    assert p["sla_today"]["pending"] == 0 and p["sla_today"]["rate"] == 20.0  # W1 missed now
    assert p["overdue"] == 4
    tomorrow = MIDNIGHT + timedelta(days=1)
    p = (await rows.view(sessions, "north", tomorrow - SEC, "workorders"))["workorders"]
    assert p["sla_today"]["due"] == 5
    p = (await rows.view(sessions, "north", tomorrow, "workorders"))["workorders"]
    assert p["sla_today"] == {"due": 0, "met": 0, "missed": 0, "pending": 0, "rate": None}
    assert (p["open"], p["overdue"]) == (5, 4)


async def test_a_site_without_orders_or_technicians_is_empty(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        await rows.site(s, "quiet")
    p = (await rows.view(sessions, "quiet", T0, "workorders"))["workorders"]
    assert p["empty"] is True and p["by_technician"] == [] and p["sla_today"]["rate"] is None
