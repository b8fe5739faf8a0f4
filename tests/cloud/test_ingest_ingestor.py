"""Batch ingest on SQLite and PostgreSQL: exactly once, the ack watermark, refusals."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Device, Event, Meter, Reading, SeqGap, Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.ingest.ingestor import Decoded
from contract import Batch, Envelope, FakeClock, Priority, encode_batch, topics
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def reading(seq: int, device: str = "meter-1-101", kwh: float = 1234.56,
            **extra: Any) -> Envelope:
    values: dict[str, Any] = {"voltage": 230.1, "energy_import_kwh": kwh, **extra}
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=T0 + timedelta(seconds=seq),
                    device=device, kind="meter.reading",
                    data={"v": 1, "profile": "eastron_sdm120", "unit": "1-101",
                          "values": values, "units": {"voltage": "V", "energy_import_kwh": "kWh"}},
                    priority=Priority.TELEMETRY)


def batch(site: str, events: list[Envelope], gaps: list[tuple[int, int]] | None = None) -> bytes:
    return encode_batch(Batch(epoch=TEST_EPOCH, site=site, events=events, gaps=gaps or []))


@pytest.fixture
def ingestor(sessions: async_sessionmaker[AsyncSession]) -> Ingestor:
    return Ingestor(sessions, FakeClock(T0 + timedelta(hours=1)), default_registry())


async def count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_batch_is_stored_once_and_redelivery_is_a_no_op(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    payload = batch("demo", [reading(1), reading(2), reading(3)])
    first = await ingestor.handle(topics.up_events("demo"), payload)
    assert (first.ok, first.inserted, first.duplicates, first.ack_upto) == (True, 3, 0, 3)
    again = await ingestor.handle(topics.up_events("demo"), payload)
    assert (again.ok, again.inserted, again.duplicates, again.ack_upto) == (True, 0, 3, 3)
    assert await count(sessions, Event) == 3
    assert await count(sessions, Reading) == 6  # two numeric values per event, not doubled
    assert ingestor.stats.as_dict()["ingest_duplicates"] == 3


async def test_readings_are_exact_decimals_and_update_the_meter(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    ev = reading(1, kwh=98765.4321, valve_state="open", flag=True)
    later = reading(2, kwh=98765.5)
    res = await ingestor.handle(topics.up_events("demo"), batch("demo", [later, ev]))
    assert res.ok
    async with sessions() as s:
        rows = (await s.execute(select(Reading.name, Reading.value, Reading.unit, Reading.ts)
                                .order_by(Reading.ts, Reading.name))).all()
        meter = (await s.scalars(select(Meter))).one()
        device = (await s.scalars(select(Device))).one()
    assert [(n, v, u) for n, v, u, _ in rows] == [
        ("energy_import_kwh", Decimal("98765.432100"), "kWh"),
        ("voltage", Decimal("230.100000"), "V"),
        ("energy_import_kwh", Decimal("98765.500000"), "kWh"),
        ("voltage", Decimal("230.100000"), "V"),
    ]
    assert all(isinstance(v, Decimal) for _, v, _, _ in rows)
    assert rows[0][3] == T0 + timedelta(seconds=1) and rows[0][3].tzinfo is not None
    # The newest reading wins even though it came first in the batch.
    assert meter.last_energy_kwh == Decimal("98765.5")
    assert meter.last_reading_at == T0 + timedelta(seconds=2)
    assert meter.unit_ref == "1-101" and meter.profile == "eastron_sdm120"
    assert device.last_seen_at == T0 + timedelta(seconds=2)
    assert ingestor.stats.handlers["readings_skipped"] == 2  # the string and the boolean


async def test_watermark_waits_for_missing_seq_then_jumps(ingestor: Ingestor) -> None:
    topic = topics.up_events("demo")
    r = await ingestor.handle(topic, batch("demo", [reading(1), reading(2), reading(5)]))
    assert r.ack_upto == 2
    r = await ingestor.handle(topic, batch("demo", [reading(4)]))
    assert r.ack_upto == 2  # 3 is still missing: acking 4 would let the edge delete it
    r = await ingestor.handle(topic, batch("demo", [reading(3)]))
    assert r.ack_upto == 5


async def test_declared_gaps_advance_the_watermark(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    topic = topics.up_events("demo")
    r = await ingestor.handle(topic, batch("demo", [reading(1), reading(8)]))
    assert r.ack_upto == 1
    r = await ingestor.handle(topic, batch("demo", [reading(2)], gaps=[(3, 7)]))
    assert r.ack_upto == 8
    # Gaps alone move nothing; with events they stop at the highest seq the edge sent.
    r = await ingestor.handle(topic, batch("demo", [], gaps=[(9, 12)]))
    assert r.ack_upto == 8
    r = await ingestor.handle(topic, batch("demo", [reading(13)], gaps=[(9, 12)]))
    assert r.ack_upto == 13
    async with sessions() as s:
        site = (await s.scalars(select(Site))).one()
        assert site.acked_seq == 13
    assert await count(sessions, SeqGap) == 2


async def test_two_epochs_of_one_site_in_one_transaction_each_get_their_ack(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    """A replaced box (new epoch, seq from 1) beside the old box's resends, queued together."""
    old, new = "old-box-epoch-000000000000", "new-box-epoch-000000000000"
    topic = topics.up_events("demo")
    first = [reading(s) for s in (1, 2, 3)]
    r = await ingestor.handle(topic, encode_batch(Batch(site="demo", epoch=old, events=first)))
    assert r.acks == ((old, 3),)
    decoded = [ingestor.decode(topic, encode_batch(Batch(site="demo", epoch=e, events=evs)))
               for e, evs in ((new, [reading(1), reading(2)]),
                              (old, [*first, reading(4)]),
                              (new, [reading(3)]))]
    assert all(isinstance(d, Decoded) for d in decoded)
    r = await ingestor.store([d for d in decoded if isinstance(d, Decoded)])
    assert (r.inserted, r.duplicates, r.conflicts) == (4, 3, 0)
    assert r.acks == ((new, 3), (old, 4)), "one ack per epoch, each its own watermark"
    async with sessions() as s:
        rows = (await s.execute(select(Event.epoch, Event.seq).order_by(Event.id))).all()
    assert sorted(rows) == sorted([(old, 1), (old, 2), (old, 3), (new, 1), (new, 2),
                                   (new, 3), (old, 4)])


async def test_an_upgraded_edge_resending_what_was_stored_before_epochs_doubles_nothing(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    topic = topics.up_events("demo")
    before = [reading(s) for s in (1, 2, 3, 4)]
    await ingestor.handle(topic, batch("demo", before))
    async with sessions() as s, s.begin():  # what migration 0014 makes of rows stored before
        await s.execute(update(Event).values(epoch="legacy"))
    # The edge had seen the ack for 2 only; upgraded, it opens a new epoch, declares [1, 2] a
    # gap and resends 3 and 4 (the cloud's ack for them was lost) with its new 5.
    new = "upgraded-box-epoch-0000000000"
    ingestor = Ingestor(sessions, FakeClock(T0 + timedelta(hours=2)), default_registry())
    r = await ingestor.handle(topic, encode_batch(Batch(
        site="demo", epoch=new, events=[*before[2:], reading(5)], gaps=[(1, 2)])))
    assert (r.inserted, r.duplicates, r.acks) == (1, 2, ((new, 5),))
    assert await count(sessions, Event) == 5
    assert await count(sessions, Reading) == 10, "no reading stored twice"


async def test_wrong_site_is_refused_and_nothing_stored(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    r = await ingestor.handle(topics.up_events("site-a"), batch("site-b", [reading(1)]))
    assert (r.ok, r.reason, r.ack_upto) == (False, "wrong_site", None)
    assert await count(sessions, Event) == 0
    assert ingestor.stats.rejected["wrong_site"] == 1


@pytest.mark.parametrize(("payload", "field"), [
    (b"{not json", "payload"),
    (json.dumps({"v": 2, "events": []}).encode(), "site"),
    (json.dumps({"v": 3, "site": "demo", "events": []}).encode(), "v"),
    (json.dumps({"v": 1, "site": "demo", "events": []}).encode(), "v"),  # upgrade the edge
    (json.dumps({"v": 2, "site": "demo", "events": []}).encode(), "epoch"),
    (json.dumps({"v": 2, "site": "demo", "epoch": "short", "events": []}).encode(), "epoch"),
    (json.dumps({"v": 2, "site": "demo", "epoch": TEST_EPOCH,
                 "events": [{"id": "no seq"}]}).encode(), "events[0].seq"),
])
async def test_malformed_payload_names_the_field_and_stores_nothing(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession],
        payload: bytes, field: str) -> None:
    r = await ingestor.handle(topics.up_events("demo"), payload)
    assert (r.ok, r.reason, r.field) == (False, "malformed", field)
    assert r.detail
    assert await count(sessions, Event) == 0
    assert await count(sessions, Site) == 0
    assert ingestor.stats.rejected["malformed"] == 1


def _raw(seq: int, **over: object) -> dict[str, object]:
    ev: dict[str, object] = {"seq": seq, "id": str(uuid.uuid4()), "ts": "2026-11-23T01:00:00Z",
                             "device": "meter-1", "kind": "meter.reading",
                             "data": {"values": {"voltage": 230.1}}}
    ev.update(over)
    return {k: v for k, v in ev.items() if v is not None}


async def test_a_bad_event_is_quarantined_under_its_seq_and_the_site_does_not_stall(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    payload = json.dumps({"v": 2, "site": "demo", "epoch": TEST_EPOCH, "events": [
        _raw(1),
        _raw(2, ts="yesterday"),
        _raw(3, device="d" * 300),
        _raw(4, data={"note": "a\x00b"}),
        _raw(5, device=None),
        _raw(6),
    ]}).encode()
    r = await ingestor.handle(topics.up_events("demo"), payload)
    assert (r.ok, r.ack_upto, r.inserted) == (True, 6, 6)  # every seq accounted for: acked
    assert ingestor.stats.quarantined == 4
    async with sessions() as s:
        rows = (await s.execute(select(Event.seq, Event.kind, Event.data)
                                .order_by(Event.seq))).all()
    kinds = {seq: kind for seq, kind, _ in rows}
    assert kinds == {1: "meter.reading", 2: "ingest.quarantined", 3: "ingest.quarantined",
                     4: "ingest.quarantined", 5: "ingest.quarantined", 6: "meter.reading"}
    why = {seq: (data["field"], data["reason"]) for seq, kind, data in rows
           if kind == "ingest.quarantined"}
    assert why[2][0] == "events[1].ts" and "ISO 8601" in why[2][1]
    assert why[3] == ("events[seq=3].device", "longer than 128 characters")
    assert why[4] == ("events[seq=4].data", "contains a NUL character")
    assert why[5][0] == "events[4].device"
    evidence = next(d for seq, _, d in rows if seq == 4)
    assert "\\ufffd" in evidence["raw"] and "\x00" not in evidence["raw"]
    assert await count(sessions, Reading) == 2  # the good readings were stored
    again = await ingestor.handle(topics.up_events("demo"), payload)  # the edge resends
    assert (again.ok, again.ack_upto, again.inserted, again.duplicates) == (True, 6, 0, 6)
    assert await count(sessions, Event) == 6


async def test_device_status_follows_device_time_not_arrival_order(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    def status(seq: int, kind: str, at: int) -> Envelope:
        return Envelope(seq=seq, id=str(uuid.uuid4()), ts=T0 + timedelta(seconds=at),
                        device="meter-9", kind=kind, data={"reason": "timeout"},
                        priority=Priority.ACCESS)
    topic = topics.up_events("demo")
    await ingestor.handle(topic, batch("demo", [status(1, "device.offline", 100)]))
    await ingestor.handle(topic, batch("demo", [status(2, "device.online", 50)]))  # older
    async with sessions() as s:
        dev = (await s.scalars(select(Device).where(Device.key == "meter-9"))).one()
    assert (dev.online, dev.offline_reason) == (False, "timeout")


async def test_site_status_from_last_will(
        ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession]) -> None:
    assert (await ingestor.handle_status(topics.up_status("demo"), b"online")).ok
    async with sessions() as s:
        assert (await s.scalars(select(Site.online))).one() is True
    assert (await ingestor.handle_status(topics.up_status("demo"), b"offline")).ok
    bad = await ingestor.handle_status(topics.up_status("demo"), b"maybe")
    assert (bad.ok, bad.reason, bad.field) == (False, "malformed", "payload")
    async with sessions() as s:
        assert (await s.scalars(select(Site.online))).one() is False


async def test_concurrent_batches_of_one_site_keep_the_watermark_right(
        db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    # Two workers (separate ingestors, separate connections) racing on interleaved batches.
    a = Ingestor(sessions, FakeClock(T0), default_registry())
    b = Ingestor(sessions, FakeClock(T0), default_registry())
    topic = topics.up_events("demo")
    payloads = [batch("demo", [reading(s) for s in range(i, i + 10)]) for i in range(1, 201, 10)]
    await asyncio.gather(*(
        (a if n % 2 else b).handle(topic, p) for n, p in enumerate(payloads)))
    async with sessions() as s:
        assert (await s.scalars(select(Site.acked_seq))).one() == 200
    assert await count(sessions, Event) == 200
