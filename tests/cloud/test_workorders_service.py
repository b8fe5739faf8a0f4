"""Work orders at the service level on real SQLite and PostgreSQL: the trapped-passenger
scenario (SLA from the device event, dispatch to whoever is on duty, escalation, close and
rating), folding a flapping device, refused transitions, labour and parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Site
from cloud.workorders import service, states
from cloud.workorders.service import (
    DuplicateRequest,
    InvalidField,
    Source,
    TransitionRefused,
    act,
    auto_assign,
    check_sla,
    open_or_fold,
)
from cloud.workorders.tables import (
    Technician,
    TechnicianShift,
    WorkOrder,
    WorkOrderAction,
    WorkOrderLine,
)
from contract import FakeClock

#: Monday 2026-11-23, 10:00 in Shanghai.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DAY = (8 * 60, 20 * 60)
NIGHT = (20 * 60, 8 * 60)


async def _site(session: AsyncSession, slug: str = "garden") -> int:
    site = Site(slug=slug, name=slug)
    session.add(site)
    await session.flush()
    return site.id


async def _tech(session: AsyncSession, name: str, skills: list[str], site_ids: list[int],
                shift: tuple[int, int] | None, on_duty: bool = False) -> Technician:
    tech = Technician(name=name, skills=skills, site_ids=site_ids, on_duty=on_duty)
    session.add(tech)
    await session.flush()
    if shift is not None:
        for day in range(7):
            session.add(TechnicianShift(technician_id=tech.id, weekday=day,
                                        start_min=shift[0], end_min=shift[1]))
    await session.flush()
    return tech


async def _trapped(session: AsyncSession, site_id: int, cause_ts: datetime,
                   now: datetime) -> tuple[WorkOrder, bool]:
    return await open_or_fold(
        session, site_id=site_id, fold_key="elevator.trapped:lift-1", category="elevator_rescue",
        priority="urgent", sla_response_s=30 * 60, sla_resolve_s=2 * 3600, skill="elevator",
        title=("1号电梯困人", "passenger trapped in lift 1"), cause_ts=cause_ts,
        source=Source("event", device="lift-1", event_uuid="ev-1"), now=now)


async def _history(session: AsyncSession, order_id: int) -> list[str]:
    rows = (await session.execute(select(WorkOrderAction.action).where(
        WorkOrderAction.order_id == order_id).order_by(WorkOrderAction.id))).scalars()
    return list(rows)


async def test_trapped_passenger_is_dispatched_escalated_closed_and_rated(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    cause = T0 - timedelta(minutes=5)  # the gateway delivered the event five minutes late
    async with sessions() as session, session.begin():
        site = await _site(session)
        night = await _tech(session, "李师傅", ["elevator"], [site], NIGHT)
        day = await _tech(session, "王师傅", ["elevator"], [site], DAY)
        await _tech(session, "赵师傅", ["plumbing"], [site], DAY)
        order, folded = await _trapped(session, site, cause, clock.now())
        assert not folded and order.state == "pool" and order.priority == "urgent"
        assert order.response_due == cause + timedelta(minutes=30)
        chosen = await auto_assign(session, order, clock.now())
        assert chosen is not None and chosen.id == day.id != night.id
        await session.refresh(order)
        assert order.state == "assigned" and order.assignee_ids == [day.id]
        order_id = order.id

    # 24 more minutes: 29 since the event, nothing is due yet.
    clock.advance(24 * 60)
    async with sessions() as session, session.begin():
        assert await check_sla(session, clock.now()) == []
    # One more minute: 30 since the event (though only 25 since ingest): escalated, once.
    clock.advance(60)
    async with sessions() as session, session.begin():
        esc = await check_sla(session, clock.now())
        assert [(e.order_id, e.clock) for e in esc] == [(order_id, "response")]
        assert await check_sla(session, clock.now()) == []
        late = await session.get(WorkOrder, order_id)
        assert late is not None and late.response_breached and not late.resolve_breached
        step = (await session.execute(select(WorkOrderAction).where(
            WorkOrderAction.action == "escalated"))).scalar_one()
        assert step.detail is not None and step.detail["role"] == "supervisor"

    async with sessions() as session, session.begin():
        for action in ("accept", "start", "complete"):
            await act(session, order_id, action, "王师傅", None, clock.now(),
                      role="technician")
        order = await act(session, order_id, "close", "物业主管", None, clock.now(),
                          role="supervisor")
        assert order.state == "closed" and order.rating_requested_at == clock.now()
        assert order.responded_at == clock.now()
        order = await act(session, order_id, "rate", "业主", "很快", clock.now(),
                          role="requester", rating=5)
        assert (order.state, order.rating, order.rating_note) == ("closed", 5, "很快")
        assert await _history(session, order_id) == [
            "opened", "assign", "escalated", "accept", "start", "complete", "close",
            "rating_requested", "rate"]


async def test_nobody_on_duty_leaves_the_order_in_the_pool_to_be_grabbed(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        night = await _tech(session, "李师傅", ["elevator"], [site], NIGHT)
        order, _ = await _trapped(session, site, T0, T0)
        assert await auto_assign(session, order, T0) is None
        assert order.state == "pool"
        order = await act(session, order.id, "grab", "李师傅", None, T0, role="technician",
                          technician_id=night.id)
        assert (order.state, order.assignee_ids, order.responded_at) == (
            "accepted", [night.id], T0)


async def test_a_technician_cannot_grab_an_order_needing_a_skill_he_lacks(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        plumber = await _tech(session, "水工", ["plumbing"], [site], None)
        lift = await _tech(session, "电梯工", ["elevator"], [site], None)
        order, _ = await _trapped(session, site, T0, T0)
        assert await auto_assign(session, order, T0) is None  # nobody on duty
        with pytest.raises(InvalidField) as refused:
            await act(session, order.id, "grab", "水工", None, T0, role="technician",
                      technician_id=plumber.id)
        assert refused.value.field == "technician_id" and "elevator" in str(refused.value.en)
        assert order.state == "pool"
        order = await act(session, order.id, "grab", "电梯工", None, T0, role="technician",
                          technician_id=lift.id)
        assert (order.state, order.assignee_ids) == ("accepted", [lift.id])


async def test_least_loaded_and_round_robin(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        a = await _tech(session, "甲", ["elevator"], [site], None, on_duty=True)
        b = await _tech(session, "乙", ["elevator"], [site], None, on_duty=True)
        other_site = await _site(session, "other")
        await _tech(session, "丙", ["elevator"], [other_site], None, on_duty=True)
        picks = []
        for n in range(4):
            order, _ = await open_or_fold(
                session, site_id=site, fold_key=f"k{n}", category="elevator_fault",
                priority="normal", sla_response_s=3600, sla_resolve_s=86400,
                skill="elevator", title=("故障", "fault"), cause_ts=T0,
                source=Source("event"), now=T0 + timedelta(seconds=n))
            tech = await auto_assign(session, order, T0 + timedelta(seconds=n))
            assert tech is not None
            picks.append(tech.name)
        assert sorted(picks) == ["乙", "乙", "甲", "甲"]
        # Round-robin ignores load: whoever waited longest goes next.
        order, _ = await open_or_fold(
            session, site_id=site, fold_key="rr", category="elevator_fault", priority="low",
            sla_response_s=3600, sla_resolve_s=86400, skill="elevator",
            title=("故障", "fault"), cause_ts=T0, source=Source("event"),
            now=T0 + timedelta(seconds=9))
        await act(session, order.id, "assign", "主管", None, T0 + timedelta(seconds=10),
                  assignee_ids=[a.id])
        order2, _ = await open_or_fold(
            session, site_id=site, fold_key="rr2", category="elevator_fault", priority="low",
            sla_response_s=3600, sla_resolve_s=86400, skill="elevator",
            title=("故障", "fault"), cause_ts=T0, source=Source("event"),
            now=T0 + timedelta(seconds=11))
        tech = await auto_assign(session, order2, T0 + timedelta(seconds=11), round_robin=True)
        assert tech is not None and tech.id == b.id


async def test_fifty_flaps_in_ten_minutes_make_one_order_with_a_count(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        results = [await _trapped(session, site, T0 + timedelta(seconds=12 * i),
                                  T0 + timedelta(seconds=12 * i + 1)) for i in range(50)]
        orders = (await session.execute(select(WorkOrder))).scalars().all()
        assert len(orders) == 1
        assert orders[0].count == 50 and [f for _, f in results].count(False) == 1
        assert orders[0].last_event_ts == T0 + timedelta(seconds=12 * 49)
        assert orders[0].cause_ts == T0  # the SLA still runs from the first event
        # Once closed, the same fault opens a new order.
        order_id = orders[0].id
        await act(session, order_id, "cancel", "主管", "重复 / duplicate", T0)
        again, folded = await _trapped(session, site, T0 + timedelta(hours=1),
                                       T0 + timedelta(hours=1))
        assert not folded and again.id != order_id and again.count == 1


async def test_impossible_transitions_are_refused_with_the_state_and_what_is_allowed(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        order, _ = await _trapped(session, site, T0, T0)
        with pytest.raises(TransitionRefused) as err:
            await act(session, order.id, "complete", "王师傅", None, T0)
        assert err.value.state == "pool"
        assert err.value.allowed == ["assign", "grab", "cancel"]
        assert "待派单" in err.value.zh and "pool" in err.value.en
        with pytest.raises(InvalidField) as bad:
            await act(session, order.id, "cancel", "主管", None, T0)
        assert bad.value.field == "note"
        with pytest.raises(InvalidField) as bad:
            await act(session, order.id, "assign", "业主", None, T0, role="requester",
                      assignee_ids=[1])
        assert bad.value.field == "role"
        with pytest.raises(InvalidField) as bad:
            await act(session, order.id, "assign", "主管", None, T0, assignee_ids=[999])
        assert bad.value.field == "assignee_ids" and "999" in bad.value.en
        refreshed = await session.get(WorkOrder, order.id)
        assert refreshed is not None and refreshed.state == "pool"


async def test_labour_and_parts_cost_in_decimal_and_a_duplicate_request_is_refused(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        tech = await _tech(session, "王师傅", ["plumbing"], [site], None, on_duty=True)
        src = Source("request", request_id="req-7", requested_by="3-2-101 业主")
        order, _ = await open_or_fold(
            session, site_id=site, fold_key="request:req-7", category="plumbing",
            priority="normal", sla_response_s=3600, sla_resolve_s=86400, skill="plumbing",
            title=("厨房漏水", "kitchen leak"), cause_ts=T0, source=src, now=T0)
        with pytest.raises(DuplicateRequest):
            await open_or_fold(
                session, site_id=site, fold_key="request:req-7b", category="plumbing",
                priority="normal", sla_response_s=3600, sla_resolve_s=86400,
                skill="plumbing", title=("厨房漏水", "kitchen leak"), cause_ts=T0,
                source=src, now=T0)
        await act(session, order.id, "grab", "王师傅", None, T0, technician_id=tech.id)
        await act(session, order.id, "log_work", "王师傅", None, T0, hours="1.5",
                  rate="80.00", technician_id=tech.id)
        await act(session, order.id, "log_work", "王师傅", None, T0, part="角阀",
                  qty="2", unit_price="12.35")
        with pytest.raises(InvalidField) as bad:
            await act(session, order.id, "log_work", "王师傅", None, T0, hours=1.5)
        assert bad.value.field == "hours"
        costs = (await session.execute(select(WorkOrderLine.cost).order_by(
            WorkOrderLine.id))).scalars().all()
        assert costs == [Decimal("120.00"), Decimal("24.70")]
        assert states.PRIORITIES == ("urgent", "high", "normal", "low")


async def test_transfer_to_a_team_and_reopen_unless_the_fault_has_a_newer_order(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        site = await _site(session)
        a = await _tech(session, "甲", ["elevator"], [site], None, on_duty=True)
        b = await _tech(session, "乙", ["elevator"], [site], None, on_duty=True)
        order, _ = await _trapped(session, site, T0, T0)
        await act(session, order.id, "assign", "主管", None, T0, assignee_ids=[a.id])
        order = await act(session, order.id, "transfer", "主管", "需两人", T0,
                          assignee_ids=[a.id, b.id])
        assert (order.state, order.assignee_ids) == ("assigned", [a.id, b.id])
        for action in ("accept", "start", "complete", "close"):
            order = await act(session, order.id, action, "甲", None, T0)
        order = await act(session, order.id, "reopen", "业主", "又坏了 / broke again", T0)
        assert (order.state, order.resolved_at, order.closed_at) == ("assigned", None, None)
        for action in ("accept", "start", "complete", "close"):
            order = await act(session, order.id, action, "甲", None, T0)
        newer, folded = await _trapped(session, site, T0, T0)
        assert not folded and newer.id != order.id
        with pytest.raises(service.FoldConflict) as err:
            await act(session, order.id, "reopen", "业主", "又坏了", T0)
        assert err.value.other_id == newer.id
        again = await session.get(WorkOrder, order.id, populate_existing=True)
        assert again is not None and again.state == "closed"
