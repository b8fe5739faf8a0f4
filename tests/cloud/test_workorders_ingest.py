"""Acceptance (work orders): device events reach the console through the real ingest path and
the shipped rules turn them into dispatched work orders — exactly once, folded when they flap.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.tables import Alarm
from cloud.db.models import Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.rules.evaluate import RuleEngine
from cloud.rules.handlers import apply_decision
from cloud.rules.load import default_rules
from cloud.workorders.service import check_sla
from cloud.workorders.tables import Technician, WorkOrder
from contract import Batch, Envelope, FakeClock, encode_batch, priority_for, topics
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SITE = "demo"


class Edge:
    """Sends batches the way a site's edge does, through the real ingestor with the rules."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.clock = FakeClock(T0)
        self.rules = RuleEngine(default_rules(), self.clock)
        self.ingestor = Ingestor(sessions, self.clock, default_registry(rules=self.rules))
        self.seq = 0

    def event(self, kind: str, data: dict[str, Any], ts: datetime, device: str) -> Envelope:
        self.seq += 1
        return Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=ts, device=device, kind=kind,
                        data=data, priority=priority_for(kind))

    async def send(self, *events: Envelope) -> None:
        payload = encode_batch(Batch(epoch=TEST_EPOCH, site=SITE, events=list(events)))
        result = await self.ingestor.handle(topics.up_events(SITE), payload)
        assert result.ok, result


async def _staff(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        site = (await s.scalars(select(Site).where(Site.slug == SITE))).one()
        s.add_all([Technician(name="李师傅", skills=["elevator"], site_ids=[site.id],
                              on_duty=False),
                   Technician(name="王师傅", skills=["elevator"], site_ids=[site.id],
                              on_duty=True)])


async def test_a_trapped_passenger_becomes_an_alarm_and_an_urgent_dispatched_order(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    hello = edge.event("device.online", {"v": 1}, T0, "elev-2-a")
    await edge.send(hello)  # the site exists once its edge has spoken
    await _staff(sessions)
    trapped_at = T0 + timedelta(minutes=1)
    edge.clock.advance(5 * 60)  # the event (at 10:01) is delivered 4 minutes late
    trapped = edge.event("elevator.trapped", {
        "v": 1, "building": "2", "name": "2号楼 A 梯", "floor": 5,
        "reason": "stopped_outside_door_zone", "people": True}, trapped_at, "elev-2-a")
    await edge.send(trapped)
    await edge.send(trapped)  # a redelivered batch opens nothing twice

    async with sessions() as s:
        (alarm,) = (await s.scalars(select(Alarm))).all()
        (order,) = (await s.scalars(select(WorkOrder))).all()
        tech = await s.get(Technician, order.assignee_ids[0])
    assert (alarm.kind, alarm.severity) == ("elevator.trapped", "critical")
    assert (order.priority, order.category, order.state) == ("urgent", "elevator_rescue",
                                                             "assigned")
    assert order.cause_ts == trapped_at, "the SLA clock starts at the device event"
    assert order.resolve_due == trapped_at + timedelta(minutes=30)
    assert tech is not None and tech.name == "王师傅", "the on-duty technician"

    # Nobody acts: past the response SLA (from the event, not from ingest) it escalates.
    async with sessions() as s, s.begin():
        assert await check_sla(s, trapped_at + timedelta(minutes=4)) == []
    async with sessions() as s, s.begin():
        escalated = await check_sla(s, trapped_at + timedelta(minutes=6))
    assert [e.order_id for e in escalated] == [order.id]


async def test_a_device_flapping_fifty_times_in_ten_minutes_is_one_order(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    flaps = [edge.event("gate.fault", {"v": 1, "fault": "no_confirm", "lane": "lane-out-1"},
                        T0 + timedelta(seconds=12 * i), "gate-out-1") for i in range(50)]
    for chunk in range(0, 50, 10):  # in several batches, as the uplink would send them
        await edge.send(*flaps[chunk:chunk + 10])
    async with sessions() as s:
        orders = (await s.scalars(select(WorkOrder))).all()
    assert len(orders) == 1
    assert orders[0].count == 50 and orders[0].source_device == "gate-out-1"


async def test_a_device_offline_longer_than_the_rule_allows_opens_an_order(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(edge.event("device.offline", {"v": 1, "reason": "timeout"}, T0, "m1"),
                    edge.event("device.offline", {"v": 1, "reason": "timeout"}, T0, "m2"),
                    edge.event("device.online", {"v": 1}, T0 + timedelta(minutes=2), "m2"))
    due = edge.rules.due(T0 + timedelta(hours=2))
    assert [d.device for d in due] == ["m1"], "m2 came back in time"
    async with sessions() as s, s.begin():
        site_id = (await s.scalars(select(Site.id).where(Site.slug == SITE))).one()
        assert await apply_decision(s, site_id, due[0], T0 + timedelta(hours=2))
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(WorkOrder)) == 1
