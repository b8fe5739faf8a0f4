"""Panel ``devices`` on SQLite and PostgreSQL: online of total per family in the wall's order
(doors and readers are access; a device whose kind is not learnt yet is in no family), patrol
receivers from the edge's report, the edge's buffer and when its report goes stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.cloud.cockpit import rows

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


async def test_families_and_the_edge_by_hand(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        north = await rows.site(s, "north")
        south = await rows.site(s, "south")
        for key, kind, online in (
                ("fire-1", "fire", True), ("cam-1", "camera", False), ("cam-2", "camera", True),
                ("door-1", "door", True), ("reader-1", "reader", False), ("m1", "meter", True),
                ("lift-1", "elevator", False), ("new-1", None, True)):
            await rows.device(s, north.id, key, kind, online=online)
        await rows.device(s, south.id, "m9", "meter")
        await rows.health(s, north.id, T0 - timedelta(seconds=15), depth=120,
                          oldest_age_s=3.04, receivers={"heard": 4, "total": 4})
    p = (await rows.view(sessions, "north", T0, "devices"))["devices"]
    assert [(f["family"], f["label_zh"], f["online"], f["total"]) for f in p["families"]] == [
        ("meter", "表计", 1, 1), ("camera", "车牌相机", 1, 2), ("access", "门禁", 1, 2),
        ("elevator", "电梯", 0, 1), ("fire", "消防主机", 1, 1),
        ("patrol_receiver", "巡更基站", 4, 4)]
    assert p["edge"] == {"online": True, "reported_at": "2026-12-07T06:29:45.000Z",
                         "outbox_depth": 120, "oldest_age_s": 3.0, "stale": False}
    # 60 s after the report it still counts; a second later it no longer does.
    p = (await rows.view(sessions, "north", T0 + timedelta(seconds=45), "devices"))["devices"]
    assert p["edge"]["stale"] is False
    p = (await rows.view(sessions, "north", T0 + timedelta(seconds=46), "devices"))["devices"]
    assert p["edge"]["stale"] is True


async def test_an_edge_that_never_reported_and_a_site_with_nothing(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        old = await rows.site(s, "old")
        await rows.site(s, "bare", online=False)
        await rows.device(s, old.id, "g1", "gate")
    p = (await rows.view(sessions, "old", T0, "devices"))["devices"]
    assert p["empty"] is False and [f["family"] for f in p["families"]] == ["gate"]
    assert p["edge"] == {"online": True, "reported_at": None, "outbox_depth": None,
                         "oldest_age_s": None, "stale": True}
    p = (await rows.view(sessions, "bare", T0, "devices"))["devices"]
    assert p["empty"] is True and p["families"] == [] and p["edge"]["online"] is False
