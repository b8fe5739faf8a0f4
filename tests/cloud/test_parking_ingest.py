"""The edge's parking events become one session per stay and one charge per fee, exactly once,
whatever order they arrive in — and the cloud re-checks each fee with the same tariff code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.parking.tables import Charge, ParkingSession
from contract import Batch, Envelope, FakeClock, NewEvent, encode_batch, topics
from tests.edge.parking.test_lanes import T0, _rig
from tests.support.epochs import TEST_EPOCH


async def _edge_day(tmp: Path) -> list[NewEvent]:
    """A morning at the lanes: an owner, a paying visitor, an exit without entry."""
    clock = FakeClock(T0)
    rig, store = await _rig(tmp, clock)
    try:
        await rig.read("cam-in", "粤B12345")
        await rig.read("cam-in", "粤A2B345")
        clock.advance(3 * 3600 + 60)
        await rig.read("cam-out", "粤B12345")
        await rig.read("cam-out", "粤A2B345")
        await rig.lanes.pay("out", "9", "wechat", "booth-1")
        await rig.read("cam-out", "粤A33333")
        await rig.lanes.pay("out", "50", "cash", "booth-1")
    finally:
        await store.close()
    return rig.events


def _payload(events: list[tuple[int, NewEvent]]) -> bytes:
    envs = [Envelope(seq=seq, id=ev.id, ts=ev.ts, device=ev.device, kind=ev.kind, data=ev.data,
                     priority=ev.effective_priority()) for seq, ev in events]
    return encode_batch(Batch(epoch=TEST_EPOCH, site="demo", events=envs))


async def test_one_session_and_one_charge_per_stay_in_any_order(
        tmp_path: Path, sessions: async_sessionmaker[AsyncSession]) -> None:
    events = list(enumerate(await _edge_day(tmp_path), start=1))
    exits = [e for e in events if e[1].kind == "parking.exit"]
    rest = [e for e in events if e[1].kind != "parking.exit"]
    ingestor = Ingestor(sessions, FakeClock(T0 + timedelta(hours=4)), default_registry())
    topic = topics.up_events("demo")
    # After an outage the exits may arrive first; then everything is sent again.
    assert (await ingestor.handle(topic, _payload(exits))).ok
    assert (await ingestor.handle(topic, _payload(rest))).ok
    again = await ingestor.handle(topic, _payload(events))
    assert again.inserted == 0 and again.ack_upto == len(events)
    async with sessions() as s:
        stays = {p.plate: p for p in (await s.scalars(select(ParkingSession))).all()}
        charges = {c.plate: c for c in (await s.scalars(select(Charge))).all()}
    assert set(stays) == {"粤B12345", "粤A2B345", "粤A33333"}
    assert all(p.state == "closed" for p in stays.values())
    visitor = stays["粤A2B345"]
    assert (visitor.fee, visitor.paid, visitor.minutes) == (Decimal("9.00"), Decimal("9.00"), 181)
    assert visitor.entry_ts == T0 and visitor.entry_lane == "in" and visitor.exit_lane == "out"
    assert stays["粤B12345"].category == "owner" and stays["粤B12345"].fee == Decimal("0")
    assert "exit_without_entry" in stays["粤A33333"].anomalies
    assert set(charges) == {"粤A2B345", "粤A33333"}  # owners are not charged
    assert charges["粤A2B345"].amount == Decimal("9.00")
    assert charges["粤A33333"].amount == Decimal("50.00")
    assert all(c.recheck is None for c in charges.values()), "the cloud agrees with the edge"
    assert ingestor.stats.handlers["parking_fee_rechecked"] == 2


async def test_a_fee_that_differs_from_the_tariff_is_flagged_not_changed(
        tmp_path: Path, sessions: async_sessionmaker[AsyncSession]) -> None:
    events = list(enumerate(await _edge_day(tmp_path), start=1))
    for _, ev in events:
        if ev.kind == "parking.exit" and ev.data["plate"] == "粤A2B345":
            ev.data["fee"] = "8.00"
    ingestor = Ingestor(sessions, FakeClock(T0 + timedelta(hours=4)), default_registry())
    assert (await ingestor.handle(topics.up_events("demo"), _payload(events))).ok
    async with sessions() as s:
        charge = (await s.scalars(select(Charge).where(Charge.plate == "粤A2B345"))).one()
    assert charge.amount == Decimal("8.00")
    assert charge.recheck == {"status": "mismatch", "edge_fee": "8.00", "cloud_fee": "9.00"}
