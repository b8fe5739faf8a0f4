"""The ingest worker against a real Mosquitto: batches in, acks out, ACLs hold."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, migrate
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Event, Site
from cloud.features import default_registry
from cloud.ingest import Ingestor, IngestWorker
from cloud.mosquitto_acl import acl_text
from contract import (
    Batch,
    Envelope,
    Priority,
    SystemClock,
    decode_ack,
    encode_ack,
    encode_batch,
    topics,
)
from tests.support import services
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def events(site: str, seqs: range) -> bytes:
    evs = [Envelope(seq=s, id=str(uuid.uuid4()), ts=T0 + timedelta(seconds=s), device="m1",
                    kind="meter.reading", data={"values": {"energy_import_kwh": 10.5 + s}},
                    priority=Priority.TELEMETRY) for s in seqs]
    return encode_batch(Batch(epoch=TEST_EPOCH, site=site, events=evs), compress=True)


async def wait_for(cond: Callable[[], bool], within: float = 10.0) -> None:
    """Poll a counter the worker updates (it exposes counters, not events)."""
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(worker: IngestWorker) -> AsyncIterator[IngestWorker]:
    task = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: worker.connected)
        await asyncio.sleep(0.2)  # let the subscription settle
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def site_client(port: int, site: str, user: str | None = None,
                      password: str | None = None) -> AsyncIterator[
                          tuple[aiomqtt.Client, asyncio.Queue[int]]]:
    """An edge stand-in: publishes batches, collects the acks it is sent."""
    acks: asyncio.Queue[int] = asyncio.Queue()
    async with aiomqtt.Client("127.0.0.1", port, username=user, password=password,
                              identifier=f"edge-{uuid.uuid4().hex[:8]}",
                              protocol=aiomqtt.ProtocolVersion.V311, timeout=10) as client:
        await client.subscribe(topics.down_ack(site), qos=1)

        async def pump() -> None:
            async for msg in client.messages:
                acks.put_nowait(decode_ack(bytes(msg.payload)).upto)  # type: ignore[arg-type]
        task = asyncio.create_task(pump())
        try:
            yield client, acks
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def sessions_for(url: str, migrated: bool = True) -> AsyncIterator[
        async_sessionmaker[AsyncSession]]:
    if migrated:
        await migrate(url)
    engine = make_engine(url)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


async def scalar(sessions: async_sessionmaker[AsyncSession], stmt: Any) -> Any:
    async with sessions() as s:
        return await s.scalar(stmt)


async def test_batch_is_acked_after_commit_and_garbage_does_not_stop_the_worker(
        mosquitto: services.Mosquitto, db_url: str) -> None:
    async with sessions_for(db_url) as sessions:
        await _acked_after_commit(mosquitto, sessions)


async def _acked_after_commit(mosquitto: services.Mosquitto,
                              sessions: async_sessionmaker[AsyncSession]) -> None:
    ingestor = Ingestor(sessions, SystemClock(), default_registry())
    worker = IngestWorker(mosquitto.url, None, None, ingestor, SystemClock(),
                          client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    async with running(worker), site_client(mosquitto.port, "demo") as (edge, acks):
        await edge.publish(topics.up_events("demo"), b"\x1f\x8bnot gzip", qos=1)
        payload = events("demo", range(1, 51))
        await edge.publish(topics.up_events("demo"), payload, qos=1)
        assert await asyncio.wait_for(acks.get(), 10) == 50
        await edge.publish(topics.up_events("demo"), payload, qos=1)
        assert await asyncio.wait_for(acks.get(), 10) == 50  # redelivery: acked, not re-stored
        await edge.publish(topics.up_status("demo"), b"online", qos=1, retain=True)
        await wait_for(lambda: worker.counters["ingest_status_updates"] == 1)
    assert await scalar(sessions, select(func.count()).select_from(Event)) == 50
    assert await scalar(sessions, select(Site.online)) is True
    c = worker.counters
    assert (c["ingest_rejected_malformed"], c["ingest_duplicates"]) == (1, 50)
    assert c["ingest_batches"] == 2
    assert c["ingest_worker_acks_published"] == 2


async def test_database_outage_keeps_the_batch_until_storage_returns(
        mosquitto: services.Mosquitto, tmp_path: Path) -> None:
    later = tmp_path / "not-yet"  # the database directory does not exist yet: every store fails
    url = f"sqlite+aiosqlite:///{later / 'cloud.db'}"
    async with sessions_for(url, migrated=False) as sessions:
        await _outage(mosquitto, sessions, url, later)


async def _outage(mosquitto: services.Mosquitto, sessions: async_sessionmaker[AsyncSession],
                  url: str, later: Path) -> None:
    worker = IngestWorker(mosquitto.url, None, None,
                          Ingestor(sessions, SystemClock(), default_registry()),
                          SystemClock(), client_id=f"ingest-{uuid.uuid4().hex[:8]}",
                          store_attempts=8, retry_delay=0.3)
    async with running(worker), site_client(mosquitto.port, "demo") as (edge, acks):
        await edge.publish(topics.up_events("demo"), events("demo", range(1, 11)), qos=1)
        await wait_for(lambda: worker.counters["ingest_worker_store_failures"] >= 2)
        assert acks.empty()  # nothing stored, so nothing acked
        await asyncio.to_thread(later.mkdir)
        await migrate(url)
        assert await asyncio.wait_for(acks.get(), 20) == 10
    assert await scalar(sessions, select(func.count()).select_from(Event)) == 10


async def test_broker_acl_keeps_a_site_out_of_another_sites_records(db_url: str) -> None:
    users = {"site-a": "pa", "site-b": "pb", "ingest": "pi"}
    with services.own_mosquitto(users=users, acl=acl_text(["ingest"])) as broker:
        async with sessions_for(db_url) as sessions:
            await _acl(broker, sessions)


async def _acl(broker: services.Mosquitto, sessions: async_sessionmaker[AsyncSession]) -> None:
    ingestor = Ingestor(sessions, SystemClock(), default_registry())
    worker = IngestWorker(broker.url, "ingest", "pi", ingestor, SystemClock(),
                          client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    async with running(worker), \
            site_client(broker.port, "site-a", "site-a", "pa") as (edge_a, acks):
        # Forged on site-b's topic: the broker drops it. Forged inside the payload: refused.
        await edge_a.publish(topics.up_events("site-b"), events("site-b", range(1, 6)), qos=1)
        await edge_a.publish(topics.up_events("site-a"), events("site-b", range(1, 6)), qos=1)
        await edge_a.publish(topics.up_events("site-a"), events("site-a", range(1, 4)), qos=1)
        assert await asyncio.wait_for(acks.get(), 10) == 3
        # Nor can it read another site's downlink: the broker withholds it on delivery.
        await edge_a.subscribe(topics.down_filter("site-b"), qos=1)
        async with aiomqtt.Client("127.0.0.1", broker.port, username="ingest",
                                  password="pi", timeout=10) as cloud:
            await cloud.publish(topics.down_ack("site-b"), encode_ack(TEST_EPOCH, 999), qos=1)
            await cloud.publish(topics.down_ack("site-a"), encode_ack(TEST_EPOCH, 777), qos=1)
        assert await asyncio.wait_for(acks.get(), 10) == 777
    slugs = set(await _all(sessions, select(Site.slug)))
    assert slugs == {"site-a"}
    assert worker.counters["ingest_rejected_wrong_site"] == 1
    assert await scalar(sessions, select(func.count()).select_from(Event)) == 3


async def _all(sessions: async_sessionmaker[AsyncSession], stmt: Any) -> list[Any]:
    async with sessions() as s:
        return list((await s.scalars(stmt)).all())


