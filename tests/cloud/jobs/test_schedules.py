"""Schedules: slots in the site's time zone, bill-run periods, and the tick: a schedule
missed for three days yields one job (for the latest slot), and two consoles ticking together
make one job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Site
from cloud.jobs.schedules import (
    SpecError,
    job_payload,
    next_slot,
    parse_spec,
    slot_key,
    tick,
)
from cloud.jobs.tables import Job, Schedule
from contract import FakeClock

SHANGHAI, BERLIN = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")
#: 2026-11-23 10:00 in Shanghai.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_daily_slots_are_the_sites_local_time() -> None:
    spec = parse_spec("reminders", {"time": "09:00"})
    # 10:00 in Shanghai: today's 09:00 has passed, tomorrow's is 01:00 UTC
    assert next_slot(spec, SHANGHAI, T0) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    # 00:30 UTC = 08:30 in Shanghai: today's 09:00 is still ahead
    assert next_slot(spec, SHANGHAI, datetime(2026, 11, 23, 0, 30, tzinfo=UTC)) == \
        datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    # exactly at a slot: the next one
    assert next_slot(spec, SHANGHAI, datetime(2026, 11, 23, 1, 0, tzinfo=UTC)) == \
        datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    # a site in Berlin keeps 09:00 local across the end of summer time (25 October 2026)
    assert next_slot(spec, BERLIN, datetime(2026, 10, 24, 12, 0, tzinfo=UTC)) == \
        datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert next_slot(spec, BERLIN, datetime(2026, 10, 23, 12, 0, tzinfo=UTC)) == \
        datetime(2026, 10, 24, 7, 0, tzinfo=UTC)  # 09:00 CEST


def test_bill_run_slots_and_the_period_they_bill() -> None:
    monthly = parse_spec("bill_run", {"time": "02:00", "day_of_month": 1, "cycle": "monthly"})
    slot = next_slot(monthly, SHANGHAI, T0)
    assert slot == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 1 December 02:00 in Shanghai
    assert job_payload("bill_run", monthly, SHANGHAI, slot) == {
        "slot": slot.isoformat(), "as_of": "2026-12-01", "cycle": "monthly",
        "period": "2026-11"}
    quarterly = parse_spec("bill_run", {"time": "02:00", "day_of_month": 3,
                                        "cycle": "quarterly"})
    slot = next_slot(quarterly, SHANGHAI, T0)
    assert slot == datetime(2027, 1, 2, 18, 0, tzinfo=UTC)
    assert job_payload("bill_run", quarterly, SHANGHAI, slot)["period"] == "2026-Q4"
    yearly = parse_spec("bill_run", {"time": "00:00", "cycle": "yearly"})
    slot = next_slot(yearly, SHANGHAI, T0)
    assert slot == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 00:00 local
    assert job_payload("bill_run", yearly, SHANGHAI, slot)["period"] == "2026"


@pytest.mark.parametrize(("kind", "spec", "field"), [
    ("reminders", {"time": "25:00"}, "spec.time"),
    ("reminders", {"time": "9:00"}, "spec.time"),
    ("reminders", {}, "spec.time"),
    ("reminders", {"time": "09:00", "day_of_month": 1}, "spec.day_of_month"),
    ("bill_run", {"time": "02:00", "day_of_month": 31}, "spec.day_of_month"),
    ("bill_run", {"time": "02:00", "day_of_month": True}, "spec.day_of_month"),
    ("bill_run", {"time": "02:00", "cycle": "weekly"}, "spec.cycle"),
    ("weekly", {"time": "02:00"}, "kind"),
    ("purge", [], "spec"),
])
def test_a_bad_spec_names_its_field(kind: str, spec: object, field: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(kind, spec)
    assert err.value.field == field


async def _schedule(sessions: async_sessionmaker[AsyncSession], now: datetime,
                    kind: str = "late_fees", spec: dict[str, object] | None = None) -> int:
    async with sessions() as session, session.begin():
        site = Site(slug="north", name="北苑", timezone="Asia/Shanghai")
        session.add(site)
        await session.flush()
        parsed = parse_spec(kind, spec or {"time": "01:00"})
        s = Schedule(site_id=site.id, kind=kind, enabled=True, spec=parsed.as_json(),
                     next_due=next_slot(parsed, SHANGHAI, now), last_slot=None,
                     updated_by="tests", updated_at=now)
        session.add(s)
        await session.flush()
        return s.id


async def _jobs(sessions: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with sessions() as session:
        return list((await session.execute(select(Job).order_by(Job.id))).scalars())


async def test_a_schedule_missed_for_three_days_yields_one_job(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    sid = await _schedule(sessions, T0)  # late fees daily at 01:00 Shanghai
    assert await tick(sessions, clock) == []  # not due yet
    clock.advance(3 * 86400 + 600)  # the console was down: 24th, 25th, 26th 01:00 missed
    made = await tick(sessions, clock)
    assert len(made) == 1
    jobs = await _jobs(sessions)
    latest = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 26 November 01:00 in Shanghai
    assert [(j.kind, j.key, j.state) for j in jobs] == [
        ("late_fees", slot_key(sid, latest), "queued")]
    assert jobs[0].payload["as_of"] == "2026-11-26" and jobs[0].payload["schedule"] == sid
    async with sessions() as session:
        s = await session.get(Schedule, sid)
        assert s is not None
        assert s.last_slot == latest and s.next_due == latest + timedelta(days=1)
    assert await tick(sessions, clock) == []  # next_due is past now: nothing more
    clock.advance(86400)
    assert len(await tick(sessions, clock)) == 1  # the next day's slot, once
    assert len(await _jobs(sessions)) == 2


async def test_two_consoles_ticking_together_make_one_job(pg_url: str) -> None:
    clock = FakeClock(T0)
    engines = [make_engine(pg_url) for _ in range(4)]
    try:
        consoles = [session_factory(e) for e in engines]
        await _schedule(consoles[0], T0)
        clock.advance(86400)
        made = await asyncio.gather(*(tick(c, clock) for c in consoles))
        assert sorted(len(m) for m in made) == [0, 0, 0, 1]
        assert len(await _jobs(consoles[0])) == 1
    finally:
        for e in engines:
            await e.dispose()


async def test_a_disabled_schedule_makes_no_job(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    sid = await _schedule(sessions, T0)
    async with sessions() as session, session.begin():
        s = await session.get(Schedule, sid)
        assert s is not None
        s.enabled = False
    clock.advance(2 * 86400)
    assert await tick(sessions, clock) == []
