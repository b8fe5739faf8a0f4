"""Panel ``alarms`` on SQLite and PostgreSQL: open by severity, today against the 7-day
average in the site's days (Asia/Shanghai: 15:59:59 UTC is still yesterday, 16:00:00 UTC is
today), the ticker newest first with place and age, and the clock moved across midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.cloud.cockpit import rows

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)  # 14:30 Monday 2026-12-07, Asia/Shanghai
MIDNIGHT = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)  # 2026-12-07 00:00 in Shanghai
SEC = timedelta(seconds=1)


async def _script(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        north = await rows.site(s, "north")
        south = await rows.site(s, "south")
        week_start = MIDNIGHT - timedelta(days=7)  # 2026-11-30 00:00 in Shanghai
        rows.add_all(s, [
            rows.alarm(north.id, "critical", MIDNIGHT - SEC, place="1 栋大堂"),  # A1 yesterday
            rows.alarm(north.id, "major", MIDNIGHT, kind="elevator.fault",
                       place="2 栋 1 号梯", title="电梯故障"),  # A2 today 00:00
            rows.alarm(north.id, "major", T0 - timedelta(hours=1), state="acknowledged",
                       kind="door.forced", place="北门"),  # A3
            rows.alarm(north.id, "minor", T0 - timedelta(hours=2), state="resolved"),  # A4
            rows.alarm(north.id, "minor", week_start, state="false_alarm"),  # A5 in the week
            rows.alarm(north.id, "critical", week_start - SEC, state="resolved"),  # A6 before
            rows.alarm(south.id, "critical", T0 - timedelta(minutes=5)),  # another site's
        ])


async def test_open_today_week_and_ticker_by_hand(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await _script(sessions)
    p = (await rows.view(sessions, "north", T0, "alarms"))["alarms"]
    assert (p["title_zh"], p["title_en"], p["empty"]) == ("告警", "Alarms", False)
    assert p["open"] == {"critical": 1, "major": 2, "minor": 0}  # A1; A2, A3 (acknowledged)
    assert p["today"] == 3  # A2 (at 00:00), A3, A4
    assert p["avg_7d"] == 0.3  # A1, A5 over 7 days: 0.2857…
    assert [(a["kind"], a["severity"], a["state"]) for a in p["latest"]] == [
        ("door.forced", "major", "acknowledged"), ("fire.alarm", "minor", "resolved"),
        ("elevator.fault", "major", "open"), ("fire.alarm", "critical", "open"),
        ("fire.alarm", "minor", "false_alarm"), ("fire.alarm", "critical", "resolved")]
    first = p["latest"][0]
    assert (first["place"], first["ts"], first["age_s"]) == (
        "北门", "2026-12-07T05:30:00.000Z", 3600)
    assert p["latest"][2]["title_zh"] == "电梯故障" and p["latest"][2]["place"] == "2 栋 1 号梯"


async def test_the_site_midnight_turns_today_into_the_week(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await _script(sessions)
    tomorrow = MIDNIGHT + timedelta(days=1)  # 2026-12-08 00:00 in Shanghai
    p = (await rows.view(sessions, "north", tomorrow - SEC, "alarms"))["alarms"]
    assert (p["today"], p["avg_7d"]) == (3, 0.3)
    p = (await rows.view(sessions, "north", tomorrow, "alarms"))["alarms"]
    # Today is empty; the week is 12-01 … 12-07: A1, A2, A3, A4 (A5 fell out).
    assert (p["today"], p["avg_7d"]) == (0, 0.6)
    assert p["latest"][0]["age_s"] == int((tomorrow - (T0 - timedelta(hours=1))).total_seconds())


async def test_ticker_keeps_ten_and_a_quiet_site_says_so(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        busy = await rows.site(s, "busy")
        await rows.site(s, "quiet")
        rows.add_all(s, [rows.alarm(busy.id, "minor", T0 - timedelta(minutes=i), place=f"p{i}")
                         for i in range(12)])
    p = (await rows.view(sessions, "busy", T0, "alarms"))["alarms"]
    assert [a["place"] for a in p["latest"]] == [f"p{i}" for i in range(10)]
    assert p["open"]["minor"] == 12 and p["today"] == 12
    q = (await rows.view(sessions, "quiet", T0, "alarms"))["alarms"]
    assert q["empty"] is True and q["latest"] == [] and q["open"] == {
        "critical": 0, "major": 0, "minor": 0}


def test_every_alarm_raising_kind_refreshes_the_panel_and_a_reading_does_not() -> None:
    from cloud.alarms.policy import DEFAULT_RULES
    from cloud.cockpit.panels.load import load_panels
    from cloud.cockpit.panels.registry import touched

    load_panels()
    for rule in DEFAULT_RULES:
        assert "alarms" in [s.name for s in touched([rule.kind])], rule.kind
    assert "alarms" not in [s.name for s in touched(["meter.reading", "parking.entry"])]
    assert "elevators" in [s.name for s in touched(["elevator.state"])]
    assert "devices" in [s.name for s in touched(["device.offline"])]
