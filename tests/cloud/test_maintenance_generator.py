"""The PM generator on real SQLite and PostgreSQL: an elevator under the TSG T5002 plan,
run day by day for a year, gets its 24 visits as orders, each released ahead of its date
and dispatched to an on-duty elevator technician; a second run adds nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Site
from cloud.maintenance.generator import generate
from cloud.maintenance.loader import load_plans
from cloud.maintenance.store import plan_to_json
from cloud.maintenance.tables import AssetRecord, MaintenancePlan, MaintenanceVisit
from cloud.workorders.tables import Technician, WorkOrder
from tests.conftest import REPO

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _at(day: date) -> datetime:
    """01:00 UTC on ``day`` = 09:00 that day in Shanghai."""
    return datetime(day.year, day.month, day.day, 1, tzinfo=UTC)


async def _setup(sessions: Sessions) -> dict[str, int]:
    plan = next(p for p in load_plans(REPO / "configs/maintenance/plans.yaml")
                if p.id == "elevator-tsg-t5002")
    async with sessions() as s, s.begin():
        site = Site(slug="garden", name="花园小区")
        s.add(site)
        await s.flush()
        s.add_all([
            Technician(name="张电梯", skills=["elevator"], site_ids=[site.id], on_duty=True),
            Technician(name="休息的电梯工", skills=["elevator"], site_ids=[site.id],
                       on_duty=False),
            Technician(name="王水工", skills=["plumbing"], site_ids=[site.id], on_duty=True)])
        lift = AssetRecord(site_id=site.id, code="EL-1", kind="elevator", name="1 号楼 1 号梯",
                           make="奥的斯", model="GeN2", serial="S-1",
                           install_date=date(2020, 5, 1), device="lift-1", created_at=NOW)
        s.add(lift)
        # A retired lift and a pump get nothing from the elevator plan.
        s.add_all([AssetRecord(site_id=site.id, code="EL-OLD", kind="elevator", name="旧梯",
                               install_date=date(2010, 1, 1), active=False, created_at=NOW),
                   AssetRecord(site_id=site.id, code="P-1", kind="pump", name="水泵",
                               install_date=date(2020, 1, 1), created_at=NOW)])
        s.add(MaintenancePlan(site_id=site.id, plan_id=plan.id, asset_kind=plan.asset_kind,
                              definition=plan_to_json(plan),
                              release_days_ahead=plan.release_days_ahead, start=plan.start,
                              created_at=NOW))
        await s.flush()
        tech = (await s.execute(select(Technician.id).where(
            Technician.name == "张电梯"))).scalar_one()
        return {"site": site.id, "lift": lift.id, "tech": tech}


async def _run(sessions: Sessions, today: date) -> list[int]:
    async with sessions() as s, s.begin():
        return await generate(s, today, _at(today))


async def test_a_year_of_elevator_visits_makes_24_orders_once(sessions: Sessions) -> None:
    ids = await _setup(sessions)
    assert await _run(sessions, date(2026, 12, 28)) == []  # 4 days before the first visit
    first = await _run(sessions, date(2026, 12, 29))  # released 3 days ahead
    assert len(first) == 1
    async with sessions() as s:
        order = await s.get(WorkOrder, first[0])
        assert order is not None
        assert order.state == "assigned" and order.assignee_ids == [ids["tech"]]
        assert order.source_kind == "plan" and order.source_device == "lift-1"
        assert order.category == "elevator.maintenance" and order.skill == "elevator"
        assert order.cause_ts == datetime(2027, 1, 1, 1, tzinfo=UTC)  # 09:00 site time
        assert order.resolve_due == order.cause_ts + timedelta(days=3)
        assert order.title_zh == "半月保养：1 号楼 1 号梯（EL-1）"
        assert "制动器动作与间隙" in order.description

    created = list(first)
    day = date(2026, 12, 30)
    while day <= date(2027, 12, 28):  # the year's last release; 2028-01-01 comes out 12-29
        created += await _run(sessions, day)
        day += timedelta(days=1)
    assert len(created) == 24 == len(set(created))

    async with sessions() as s:
        visits = (await s.execute(select(MaintenanceVisit).order_by(
            MaintenanceVisit.due_date))).scalars().all()
        orders = (await s.execute(select(WorkOrder))).scalars().all()
    assert {v.work_order_id for v in visits} == set(created)
    assert {v.asset_id for v in visits} == {ids["lift"]}
    assert [v.due_date for v in visits][:3] == [date(2027, 1, 1), date(2027, 1, 16),
                                                date(2027, 2, 1)]
    hits: Counter[str] = Counter()
    for v in visits:
        hits.update(v.covers)
    assert hits == {"half_month": 24, "quarterly": 4, "half_year": 2, "annual": 1}
    assert Counter(v.tier for v in visits) == {"half_month": 20, "quarterly": 2,
                                               "half_year": 1, "annual": 1}
    annual = next(o for o in orders if o.id == visits[-1].work_order_id)
    assert annual.title_en == "annual maintenance: 1 号楼 1 号梯 (EL-1)"
    assert "制动器制动力试验" in annual.description and "缓冲器" in annual.description
    assert all(o.assignee_ids == [ids["tech"]] for o in orders)

    # Again, the same day and after a "restart": nothing new.
    assert await _run(sessions, date(2027, 12, 28)) == []
    assert await _run(sessions, date(2027, 6, 1)) == []
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(WorkOrder))).scalar() == 24
    assert len(await _run(sessions, date(2027, 12, 29))) == 1  # next year's first visit


async def test_nobody_on_duty_leaves_the_order_in_the_pool(sessions: Sessions) -> None:
    await _setup(sessions)
    async with sessions() as s, s.begin():
        for t in (await s.execute(select(Technician))).scalars():
            t.on_duty = False
    created = await _run(sessions, date(2027, 1, 10))  # 01-01 and (released 01-13) not 01-16
    assert len(created) == 1
    async with sessions() as s:
        order = await s.get(WorkOrder, created[0])
        assert order is not None and order.state == "pool" and order.assignee_ids == []


async def test_a_broken_stored_plan_is_skipped_not_fatal(sessions: Sessions) -> None:
    ids = await _setup(sessions)
    async with sessions() as s, s.begin():
        s.add(MaintenancePlan(site_id=ids["site"], plan_id="broken", asset_kind="elevator",
                              definition={"id": "broken"}, release_days_ahead=0,
                              start=date(2027, 1, 1), created_at=NOW))
    assert len(await _run(sessions, date(2027, 1, 1))) == 1
