"""The console keeps each edge's latest health report (``up/health``): stored on both
databases, replaced by the next, judged stale after 60 s or when the site is offline; a
malformed report is refused naming the field and counted, and the worker routes the topic."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aiomqtt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Site
from cloud.features import default_registry
from cloud.ingest import Ingestor, IngestWorker
from cloud.ingest.handlers import HandlerRegistry
from cloud.sites.edge_health import EdgeHealth, EdgeHealthRow, latest_health
from contract import FakeClock, SystemClock, jsoncodec, topics
from contract.health import (
    DeviceCount,
    Health,
    OutboxHealth,
    ReceiverCount,
    encode_health,
)
from tests.support import services
from tests.support.auth import admin_headers
from tests.support.console_app import console_app

SITE = "yard-h1"
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
EDGE_TS = T0 - timedelta(seconds=3)  # the edge's clock runs 3 s behind the console's


def report(depth: int = 12, age: float | None = 19.5, *, meters: int = 40) -> bytes:
    oldest = None if age is None else EDGE_TS - timedelta(seconds=age)
    return encode_health(Health(
        ts=EDGE_TS, outbox=OutboxHealth(depth=depth, oldest_ts=oldest, oldest_age_s=age),
        devices={"meter": DeviceCount(meters, 42), "elevator": DeviceCount(2, 2)},
        patrol_receivers=ReceiverCount(5, 6), uptime_s=86400.0, version="1.4.0"))


async def _site_id(sessions: async_sessionmaker[AsyncSession], slug: str) -> int | None:
    async with sessions() as s:
        return await s.scalar(select(Site.id).where(Site.slug == slug))


async def _latest(sessions: async_sessionmaker[AsyncSession], slug: str,
                  now: datetime) -> EdgeHealth | None:
    site_id = await _site_id(sessions, slug)
    assert site_id is not None
    async with sessions() as s:
        return await latest_health(s, site_id, now)


async def test_a_report_is_kept_replaced_and_goes_stale(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    ingestor = Ingestor(sessions, clock, default_registry())
    assert (await ingestor.handle_status(topics.up_status(SITE), b"online")).ok
    result = await ingestor.handle_health(topics.up_health(SITE), report())
    assert result.ok and result.site == SITE

    h = await _latest(sessions, SITE, T0 + timedelta(seconds=10))
    assert h is not None
    assert (h.outbox_depth, h.oldest_age_s) == (12, 19.5)
    assert h.reported_at == T0, "received at the console's clock"
    assert h.edge_ts == EDGE_TS, "the edge's own time kept beside it"
    assert h.devices == {"meter": {"online": 40, "total": 42},
                         "elevator": {"online": 2, "total": 2}}
    assert h.patrol_receivers == {"heard": 5, "total": 6}
    assert h.stale is False
    assert ingestor.stats.as_dict()["ingest_health_reports"] == 1

    # The next report replaces it: one row per site, the newest numbers.
    clock.advance(15)
    await ingestor.handle_health(topics.up_health(SITE), report(depth=0, age=None, meters=41))
    h = await _latest(sessions, SITE, clock.now())
    assert h is not None
    assert (h.outbox_depth, h.oldest_age_s) == (0, None)
    assert h.devices["meter"] == {"online": 41, "total": 42}
    assert h.reported_at == T0 + timedelta(seconds=15)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(EdgeHealthRow)) == 1

    # Stale once older than 60 s by the console's clock ...
    at = h.reported_at
    assert not (await _latest(sessions, SITE, at + timedelta(seconds=60))).stale  # type: ignore[union-attr]
    assert (await _latest(sessions, SITE, at + timedelta(seconds=61))).stale  # type: ignore[union-attr]
    # ... and at once when the site is offline (its Last Will fired).
    await ingestor.handle_status(topics.up_status(SITE), b"offline")
    assert (await _latest(sessions, SITE, at + timedelta(seconds=1))).stale  # type: ignore[union-attr]


async def test_a_site_that_never_reported_has_no_health(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    ingestor = Ingestor(sessions, FakeClock(T0), default_registry())
    await ingestor.handle_status(topics.up_status(SITE), b"online")
    assert await _latest(sessions, SITE, T0) is None


async def test_a_malformed_report_is_refused_by_field_and_counted(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    ingestor = Ingestor(sessions, FakeClock(T0), default_registry())
    doc = jsoncodec.loads(report())
    doc["outbox"]["depth"] = -5
    refused = await ingestor.handle_health(topics.up_health(SITE), jsoncodec.dumpb(doc))
    assert not refused.ok
    assert refused.field == "outbox.depth"
    assert (await ingestor.handle_health(topics.up_health(SITE), b"online")).field == "health"
    wrong_topic = await ingestor.handle_health(topics.up_status(SITE), report())
    assert not wrong_topic.ok and wrong_topic.field == "topic"
    stats = ingestor.stats.as_dict()
    assert stats["ingest_rejected_malformed_health"] == 2
    assert stats["ingest_rejected_bad_topic"] == 1
    assert "ingest_health_reports" not in stats
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(EdgeHealthRow)) == 0


async def test_without_the_sites_feature_a_report_is_checked_not_kept(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    ingestor = Ingestor(sessions, FakeClock(T0), HandlerRegistry())
    assert (await ingestor.handle_health(topics.up_health(SITE), report())).ok
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(EdgeHealthRow)) == 0


async def test_the_worker_routes_up_health_to_the_table(
        mosquitto: services.Mosquitto, sessions: async_sessionmaker[AsyncSession]) -> None:
    ingestor = Ingestor(sessions, SystemClock(), default_registry())
    worker = IngestWorker(mosquitto.url, None, None, ingestor, SystemClock(),
                          client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            while not worker.connected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=10,
                                  identifier=f"edge-{uuid.uuid4().hex[:8]}") as edge:
            await edge.publish(topics.up_status(SITE), b"online", qos=1)
            await edge.publish(topics.up_health(SITE), b'{"v": 1}', qos=1)  # refused
            await edge.publish(topics.up_health(SITE), report(depth=7, age=2.0), qos=1)
            async with asyncio.timeout(10):
                while worker.counters.get("ingest_health_reports", 0) < 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    h = await _latest(sessions, SITE, datetime.now(UTC))
    assert h is not None and h.outbox_depth == 7 and h.stale is False
    assert worker.counters["ingest_rejected_malformed_health"] == 1


async def test_the_devices_api_shows_the_edge_report(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        headers = await admin_headers(c.sessions)
        ingestor = Ingestor(c.sessions, c.clock, default_registry())
        await ingestor.handle_status(topics.up_status(SITE), b"online")
        body = await c.call("GET", f"/api/sites/{SITE}/devices", headers, 200)
        assert body["edge"] is None, "an edge that never reported shows no numbers"
        await ingestor.handle_health(topics.up_health(SITE), report(depth=12, age=19.5))
        c.clock.advance(5)
        edge = (await c.call("GET", f"/api/sites/{SITE}/devices", headers, 200))["edge"]
        assert edge["outbox_depth"] == 12 and edge["oldest_age_s"] == 19.5
        assert edge["devices"]["meter"] == {"online": 40, "total": 42}
        assert edge["reported_at"] == "2026-12-07T08:00:00.000Z"
        assert edge["reported_at_local"].startswith("2026-12-07T16:00:00")  # Asia/Shanghai
        assert edge["stale"] is False
        c.clock.advance(60)
        edge = (await c.call("GET", f"/api/sites/{SITE}/devices", headers, 200))["edge"]
        assert edge["stale"] is True, "65 s without a report"
