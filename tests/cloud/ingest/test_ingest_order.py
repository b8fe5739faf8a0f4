"""Two ingest workers on the shared subscription apply a site's events in seq order
(cloud.ingest.order), on a real Mosquitto and PostgreSQL, with the real edge uplink keeping
several batches in flight."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
from sqlalchemy import func, select

from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Event
from cloud.ingest import Ingestor, IngestWorker
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.ingest.ingestor import Decoded
from cloud.ingest.order import SeqOrder
from contract import (
    Batch,
    Envelope,
    NewEvent,
    Priority,
    SystemClock,
    decode_ack,
    encode_batch,
    topics,
)
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.e2e.test_box_replacement import running, until
from tests.support import services

SITE = "order"
KIND = "meter.reading"
T0 = datetime(2026, 12, 7, tzinfo=UTC)


def recorder() -> tuple[HandlerRegistry, list[int]]:
    """A registry whose only handler notes the seqs it is given, in the order applied."""
    applied: list[int] = []
    registry = HandlerRegistry()

    async def note(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
        applied.extend(e.seq for e in events)

    registry.register(KIND, note)
    return registry, applied


def reading(n: int) -> NewEvent:
    return NewEvent(device=f"m{n % 7}", kind=KIND, ts=T0 + timedelta(seconds=n),
                    data={"values": {"energy_import_kwh": 1.0 + n}},
                    priority=Priority.TELEMETRY)


@asynccontextmanager
async def shared_workers(mosquitto: services.Mosquitto, pg_url: str, registry: HandlerRegistry,
                         n: int, order_wait: float | None = None
                         ) -> AsyncIterator[list[IngestWorker]]:
    """``n`` workers on the shared subscription, each with its own ingestor, one database."""
    engine = make_engine(pg_url)
    sessions = session_factory(engine)
    workers = [IngestWorker(mosquitto.url, None, None,
                            Ingestor(sessions, SystemClock(), registry), SystemClock(),
                            client_id=f"ingest-{i}-{uuid.uuid4().hex[:6]}", shared=True,
                            order_wait=order_wait) for i in range(n)]
    try:
        async with AsyncExitStack() as stack:
            for w in workers:
                await stack.enter_async_context(running(w.run()))
            await _subscribed(mosquitto.port, workers)
            yield workers
    finally:
        await engine.dispose()


async def _subscribed(port: int, workers: Sequence[IngestWorker]) -> None:
    """Wait until each worker's shared subscription delivers: probes on another site's status
    topic go out until every worker has received one (what is published before a SUBSCRIBE
    takes effect is lost to the test)."""
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"probe-{uuid.uuid4().hex[:6]}",
                              protocol=aiomqtt.ProtocolVersion.V311, timeout=10) as probe:
        async def heard() -> bool:
            if all(w.counters["ingest_worker_messages"] > 0 for w in workers):
                return True
            await probe.publish(topics.up_status("probe"), b"online", qos=1)
            return False
        await until(heard, "every worker subscribed")


async def test_two_shared_workers_apply_a_sites_batches_in_seq_order(
        tmp_path: Path, pg_url: str, mosquitto: services.Mosquitto) -> None:
    registry, applied = recorder()
    total = 3000
    settings = UplinkSettings(site=SITE, mqtt_url=mosquitto.url, batch_size=50,
                              batches_in_flight=8, ack_timeout=60.0, replay_rate=1e9,
                              telemetry_linger=0.0)
    async with await AsyncOutbox.open(tmp_path / "outbox.db") as box, \
            shared_workers(mosquitto, pg_url, registry, 2) as workers:
        await box.append_many([reading(n) for n in range(total)])
        uplink = Uplink(settings, box, SystemClock())
        async with running(uplink.run()):
            async def drained() -> bool:
                return await box.depth() == 0
            await until(drained, "every event acked to the edge", within=60)
        assert await box.acked() == total
        assert uplink.counters.resends == 0, "an ack stalled: the edge had to resend"
    c0, c1 = workers[0].counters, workers[1].counters
    assert c0["ingest_batches"] > 0 and c1["ingest_batches"] > 0, "both workers took batches"
    assert c0["ingest_worker_order_waits"] + c1["ingest_worker_order_waits"] > 0, \
        "no batch ever arrived ahead of its predecessor: the test proved nothing"
    assert c0["ingest_worker_order_wait_timeouts"] + c1["ingest_worker_order_wait_timeouts"] == 0
    assert applied == list(range(1, total + 1)), "applied out of order, lost or twice"
    engine = make_engine(pg_url)
    try:
        async with session_factory(engine)() as s:
            assert await s.scalar(select(func.count()).select_from(Event)) == total
    finally:
        await engine.dispose()


def batch(epoch: str, seqs: range) -> bytes:
    evs = [Envelope(seq=s, id=str(uuid.uuid4()), ts=T0 + timedelta(seconds=s), device="m1",
                    kind=KIND, data={"values": {"energy_import_kwh": 1.0 + s}},
                    priority=Priority.TELEMETRY) for s in seqs]
    return encode_batch(Batch(epoch=epoch, site=SITE, events=evs))


async def test_a_batch_whose_predecessor_never_comes_is_stored_after_the_bound(
        pg_url: str, mosquitto: services.Mosquitto) -> None:
    registry, applied = recorder()
    epoch = uuid.uuid4().hex
    bound = 0.6
    acks: asyncio.Queue[int] = asyncio.Queue()
    async with shared_workers(mosquitto, pg_url, registry, 1, order_wait=bound) as workers, \
            aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=f"edge-{uuid.uuid4().hex[:6]}",
                           protocol=aiomqtt.ProtocolVersion.V311, timeout=10) as edge:
        w = workers[0]
        await edge.subscribe(topics.down_ack(SITE), qos=1)

        async def pump() -> None:
            async for msg in edge.messages:
                acks.put_nowait(decode_ack(bytes(msg.payload)).upto)  # type: ignore[arg-type]

        async with running(pump()):
            up = topics.up_events(SITE)

            async def ack() -> int:
                async with asyncio.timeout(10):
                    return await acks.get()

            await edge.publish(up, batch(epoch, range(1, 51)), qos=1)
            assert await ack() == 50
            # 51..100 is lost in transit: 101..150 waits for it, then is stored anyway.
            t0 = time.monotonic()
            await edge.publish(up, batch(epoch, range(101, 151)), qos=1)
            assert await ack() == 50, "the mark stays below the hole"
            assert time.monotonic() - t0 >= bound
            assert w.counters["ingest_worker_order_wait_timeouts"] == 1
            # What follows the late batch does not wait again.
            t1 = time.monotonic()
            await edge.publish(up, batch(epoch, range(151, 201)), qos=1)
            assert await ack() == 50
            assert time.monotonic() - t1 < bound
            # The edge resends the hole: the mark closes over everything.
            await edge.publish(up, batch(epoch, range(51, 101)), qos=1)
            assert await ack() == 200
    assert w.counters["ingest_worker_order_wait_timeouts"] == 1
    assert sorted(applied) == list(range(1, 201))
    assert applied[:50] == list(range(1, 51))


async def test_a_waiting_batch_is_woken_by_the_other_workers_commit_notice(
        pg_url: str) -> None:
    """On PostgreSQL a store announces its top position on commit; the worker holding the next
    batch goes on at that notice, not at its next poll (set here far beyond the test's wait)."""
    engine = make_engine(pg_url)
    sessions = session_factory(engine)
    registry, applied = recorder()
    epoch = uuid.uuid4().hex
    first, second = Ingestor(sessions, SystemClock(), registry), \
        Ingestor(sessions, SystemClock(), registry)
    slow = {"poll": 60.0, "max_poll": 60.0, "listened_poll": 60.0, "listened_max_poll": 60.0}
    order_a, order_b = SeqOrder(sessions, bound=120, **slow), SeqOrder(sessions, bound=120, **slow)
    first.announce, second.announce = order_a.announce, order_b.announce
    try:
        async with running(order_a.listen()), running(order_b.listen()):
            await until(lambda: order_a.listening and order_b.listening, "both listening")
            one = first.decode(topics.up_events(SITE), batch(epoch, range(1, 51)))
            two = second.decode(topics.up_events(SITE), batch(epoch, range(51, 101)))
            assert isinstance(one, Decoded) and isinstance(two, Decoded)
            waiting = asyncio.create_task(order_b.wait_turn(SITE, two))
            await until(lambda: order_b.counters["order_waits"] == 1, "the second batch waits")
            assert not waiting.done()
            await first.store([one])
            order_a.stored(SITE, [one])
            async with asyncio.timeout(20):
                assert await waiting, "stored in its turn, not after the bound"
            await second.store([two])
        assert order_b.counters["order_notices"] >= 1
        assert order_b.counters["order_polls"] == 1, "one look before waiting, then the notice"
        assert applied == list(range(1, 101))
    finally:
        await engine.dispose()
