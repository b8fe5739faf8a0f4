"""Panel ``elevators`` on SQLite and PostgreSQL: each car's state from ``cockpit_elevators``,
a car held offline by the console shown offline whatever its last event said, cars known only
as devices shown unknown (online) or offline, and an elevator-less site empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.cockpit.tables import CockpitElevator
from tests.cloud.cockpit import rows

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


async def test_cars_by_state_and_devices_without_a_state(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    since = T0 - timedelta(minutes=20)
    gone = T0 - timedelta(minutes=3)
    async with sessions() as s, s.begin():
        north = await rows.site(s, "north")
        south = await rows.site(s, "south")
        for key, online in (("lift-1", True), ("lift-2", True), ("lift-3", False),
                            ("lift-4", True), ("lift-5", False)):
            await rows.device(s, north.id, key, "elevator", online=online,
                              changed_at=None if online else gone)
        await rows.device(s, north.id, "gate-1", "gate")
        rows.add_all(s, [
            CockpitElevator(site_id=north.id, device="lift-1", building="B1", state="running",
                            floor=5, since=since, updated_ts=since),
            CockpitElevator(site_id=north.id, device="lift-2", building="B1", state="trapped",
                            floor=3, since=since, updated_ts=since),
            CockpitElevator(site_id=north.id, device="lift-3", building="B2", state="running",
                            floor=1, since=since, updated_ts=since),
            CockpitElevator(site_id=south.id, device="lift-9", building="S", state="fault",
                            floor=None, since=since, updated_ts=since),
        ])
    p = (await rows.view(sessions, "north", T0, "elevators"))["elevators"]
    assert (p["title_zh"], p["empty"]) == ("电梯", False)
    assert [(c["device"], c["building"], c["state"], c["floor"], c["since"])
            for c in p["cars"]] == [
        ("lift-1", "B1", "running", 5, "2026-12-07T06:10:00.000Z"),
        ("lift-2", "B1", "trapped", 3, "2026-12-07T06:10:00.000Z"),
        ("lift-3", "B2", "offline", 1, "2026-12-07T06:27:00.000Z"),  # its device went offline
        ("lift-4", "", "unknown", None, None),
        ("lift-5", "", "offline", None, "2026-12-07T06:27:00.000Z")]
    q = (await rows.view(sessions, "south", T0, "elevators"))["elevators"]
    assert [(c["device"], c["state"]) for c in q["cars"]] == [("lift-9", "fault")]


async def test_a_site_without_elevators_is_empty(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        site = await rows.site(s, "quiet")
        await rows.device(s, site.id, "m1", "meter")
    p = (await rows.view(sessions, "quiet", T0, "elevators"))["elevators"]
    assert p["empty"] is True and p["cars"] == []
