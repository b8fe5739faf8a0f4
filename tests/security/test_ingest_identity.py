"""Attacks on the ingest's bookkeeping: forged events at the edge's positions, forged gaps and
forged acks must never make the cloud drop real events or the edge delete them.

The edge side is a real outbox file; the cloud side the real ingestor on SQLite and
PostgreSQL; between them the bytes the contract encodes (the MQTT hop is tested end to end in
tests/e2e/test_box_replacement.py and, for acks, below with a real broker).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.tables import Alarm
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Event, IngestConflict, IngestEpoch
from cloud.features import default_registry
from cloud.ingest import Ingestor, IngestResult
from contract import (
    Batch,
    Envelope,
    FakeClock,
    Kind,
    NewEvent,
    Priority,
    encode_ack,
    encode_batch,
    jsoncodec,
    new_epoch,
    topics,
)
from edge.outbox import AsyncOutbox, Outbox
from edge.uplink import Uplink, UplinkSettings
from tests.edge.helpers_cloud import RecordingCloud, running, wait_until
from tests.support import services

SITE = "demo"
TOPIC = topics.up_events(SITE)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await migrate(db_url)
    engine = make_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def ingestor(sessions: async_sessionmaker[AsyncSession]) -> Ingestor:
    return Ingestor(sessions, FakeClock(T0), default_registry())


def gate_opened(n: int) -> NewEvent:
    """A manual gate opening: an event the property must never lose."""
    return NewEvent(device="gate-1", kind=Kind.GATE_OPENED, ts=T0,
                    data={"v": 1, "gate": "gate-1", "by": "guard", "n": n})


def forged(seq: int, kind: str = Kind.FIRE_ALARM) -> Envelope:
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=T0, device="f1", kind=kind,
                    data={"zone": 99}, priority=Priority.ALARM)


async def deliver(box: Outbox, ingestor: Ingestor, seqs: set[int] | None = None
                  ) -> IngestResult:
    """What the uplink does: send the outbox's unacked events (or those of ``seqs``) under
    its epoch, then apply every ack of the result to the outbox (only its own epoch counts)."""
    events = [e for e in box.pending(limit=10_000) if seqs is None or e.seq in seqs]
    result = await ingestor.handle(TOPIC, encode_batch(
        Batch(site=SITE, epoch=box.epoch, events=events, gaps=box.gaps())))
    assert result.ok, result
    for epoch, upto in result.acks:
        box.ack(epoch, upto)
    return result


async def stored(sessions: async_sessionmaker[AsyncSession], epoch: str) -> dict[int, str]:
    async with sessions() as s:
        rows = await s.execute(select(Event.seq, Event.uuid).where(Event.epoch == epoch))
        return {int(seq): str(u) for seq, u in rows.all()}


async def mark(sessions: async_sessionmaker[AsyncSession], epoch: str) -> int:
    async with sessions() as s:
        return int((await s.scalars(select(IngestEpoch.acked_seq)
                                    .where(IngestEpoch.epoch == epoch))).one())


async def test_events_injected_at_seqs_1_to_4_do_not_swallow_the_real_ones(
        tmp_path: Path, ingestor: Ingestor,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    box = Outbox(tmp_path / "edge.db")
    real = box.append([gate_opened(n) for n in range(6)])
    # The attack of the finding: forged events take seqs 1-4 before the edge's arrive. The
    # attacker cannot know the outbox's epoch, so they land in an epoch of their own.
    guess = new_epoch()
    r = await ingestor.handle(TOPIC, encode_batch(
        Batch(site=SITE, epoch=guess, events=[forged(s) for s in range(1, 5)])))
    assert r.acks == ((guess, 4),)
    await deliver(box, ingestor)
    assert await stored(sessions, box.epoch) == {e.seq: e.id for e in real}, \
        "every real event is stored under its own identity, none taken for a duplicate"
    assert box.depth() == 0 and ingestor.stats.duplicates == 0

    # An attacker who learnt the epoch (say from an ack) injects at 1-4 with other ids: each is
    # a conflict, kept once as evidence, raised as an alarm, and never stored as the event.
    fakes = [forged(s) for s in range(1, 5)]
    for _ in range(2):  # sent twice: still one conflict each
        r = await ingestor.handle(TOPIC, encode_batch(
            Batch(site=SITE, epoch=box.epoch, events=fakes)))
        assert (r.inserted, r.duplicates, r.conflicts) == (0, 0, 4)
        assert r.acks == ((box.epoch, 6),), "the mark is not moved by conflicts"
    assert await stored(sessions, box.epoch) == {e.seq: e.id for e in real}
    async with sessions() as s:
        kept = (await s.execute(select(IngestConflict.seq, IngestConflict.stored_uuid,
                                       IngestConflict.incoming_uuid, IngestConflict.repeats,
                                       IngestConflict.raw)
                                .order_by(IngestConflict.seq))).all()
        alarms = (await s.scalars(select(Alarm).where(Alarm.kind == Kind.INGEST_CONFLICT))).all()
        fire = (await s.scalars(select(Alarm.count).where(Alarm.kind == Kind.FIRE_ALARM))).all()
    assert [(q, st, inc, n) for q, st, inc, n, _ in kept] == [
        (e.seq, e.id, f.id, 2) for e, f in zip(real[:4], fakes, strict=True)]
    assert kept[0][4]["kind"] == Kind.FIRE_ALARM and kept[0][4]["data"] == {"zone": 99}
    assert len(alarms) == 1 and alarms[0].count == 4 and alarms[0].state == "open"
    # The first, blind batch was stored under its own epoch (keeping strangers off a site's
    # topic is the broker's ACL); the conflicting copies ran no handler: no fourth... eighth.
    assert fire == [4], "the conflicting fire alarms ran no handler"
    counters = ingestor.stats.as_dict()
    assert (counters["ingest_conflicts"], counters["ingest_conflicts_new"]) == (8, 4)


async def test_a_conflict_above_the_mark_holds_it_so_the_edge_keeps_its_events(
        tmp_path: Path, ingestor: Ingestor,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    box = Outbox(tmp_path / "edge.db")
    real = box.append([gate_opened(n) for n in range(6)])
    await deliver(box, ingestor, {1, 2, 5, 6})  # out of order, as alarms-first sending is
    assert box.acked() == 2
    # Forged copies of 5 and 6 arrive while 3 and 4 are still on their way.
    r = await ingestor.handle(TOPIC, encode_batch(
        Batch(site=SITE, epoch=box.epoch, events=[forged(5), forged(6)])))
    assert r.conflicts == 2
    r = await deliver(box, ingestor, {3, 4})
    assert r.acks == ((box.epoch, 4),), "the mark stops below the conflict"
    assert [e.seq for e in box.pending(limit=10)] == [5, 6], "the edge still holds them"
    # The edge resends what no ack covered; the events stored there are its own, so the
    # hold was the stranger's doing and is released.
    r = await deliver(box, ingestor)
    assert r.acks == ((box.epoch, 6),) and box.depth() == 0
    assert await stored(sessions, box.epoch) == {e.seq: e.id for e in real}
    async with sessions() as s:
        released = (await s.scalars(select(IngestConflict.released_at))).all()
    assert len(released) == 2 and all(t is not None for t in released)


@pytest.mark.parametrize("gaps", [[(24, 1_000_000_000)], [(1, 1_000_000_000)]])
async def test_forged_gaps_cannot_move_the_mark_past_the_highest_seq_sent(
        tmp_path: Path, ingestor: Ingestor, sessions: async_sessionmaker[AsyncSession],
        gaps: list[tuple[int, int]]) -> None:
    box = Outbox(tmp_path / "edge.db")
    box.append([gate_opened(n) for n in range(23)])
    await deliver(box, ingestor)
    assert await mark(sessions, box.epoch) == 23
    # Gaps alone, even with the right epoch, move nothing.
    r = await ingestor.handle(TOPIC, jsoncodec.dumpb(
        {"v": 2, "site": SITE, "epoch": box.epoch, "events": [], "gaps": gaps}))
    assert r.acks == ((box.epoch, 23),)
    # With one forged event at 25 they stop at 25, the highest seq the batch carries.
    r = await ingestor.handle(TOPIC, encode_batch(
        Batch(site=SITE, epoch=box.epoch, events=[forged(25)], gaps=gaps)))
    assert r.acks == ((box.epoch, 25),)
    assert await mark(sessions, box.epoch) == 25 < 1_000_000_000
    assert ingestor.stats.gaps_clipped == 2
    # The edge's next events still reach the cloud under their own seqs.
    nxt = box.append([gate_opened(99)])
    assert nxt[0].seq == 24
    await deliver(box, ingestor)
    assert (await stored(sessions, box.epoch))[24] == nxt[0].id


async def test_a_forged_ack_naming_another_epoch_deletes_nothing_at_the_edge(
        tmp_path: Path, mosquitto: services.Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "edge.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    cloud.acking = False
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        await box.append_many([gate_opened(n) for n in range(5)])
        uplink = Uplink(UplinkSettings(site=SITE, mqtt_url=mosquitto.url), box)
        async with running(uplink.run):
            await wait_until(lambda: len(cloud.seqs) == 5, what="events delivered")
            forged_acks: list[Any] = [
                encode_ack(new_epoch(), 1_000_000_000),  # another epoch, huge upto
                encode_ack(new_epoch(), 3),
                b'{"upto": 999999999}',                  # the version 1 ack of the finding
            ]
            async with aiomqtt.Client(mosquitto.host, mosquitto.port,
                                      identifier=f"attacker-{uuid.uuid4().hex[:8]}") as attacker:
                for payload in forged_acks:
                    await attacker.publish(topics.down_ack(SITE), payload, qos=1, timeout=5)
                await wait_until(lambda: uplink.counters.acks_other_epoch == 2
                                 and uplink.counters.downlink_malformed == 1,
                                 what="forged acks counted")
                assert await box.depth() == 5 and await box.acked() == 0
                # The real cloud's ack (its epoch) still works.
                await attacker.publish(topics.down_ack(SITE), encode_ack(box.epoch, 2), qos=1,
                                       timeout=5)
            await wait_until(lambda: uplink.counters.acks == 1, what="the real ack applied")
            assert [e.seq for e in await box.pending(limit=10)] == [3, 4, 5]
