"""Attack on the edge health report, against the console really started with its managed
Mosquitto: site north's credential publishes a report on south's ``up/health`` (which would
paint south's edge as healthy, or hide its backlog). The broker refuses it, so the console
never stores anything for south; north's own report, sent after, is kept (the control)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.db.engine import make_engine
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Site
from cloud.sites.edge_health import EdgeHealthRow
from contract import topics
from contract.health import DeviceCount, Health, OutboxHealth, encode_health
from tests.support.managed_broker import (
    CLOUD_USER,
    SITES,
    RunningConsole,
    client,
    console,
    messages_until,
    need_mosquitto,
)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    need_mosquitto()
    async with console(tmp_path) as c:
        yield c


def _report(depth: int) -> bytes:
    return encode_health(Health(ts=datetime.now(UTC), outbox=OutboxHealth(depth=depth),
                                devices={"meter": DeviceCount(9, 9)}, uptime_s=1.0,
                                version=f"forged-{depth}"))


async def _kept(c: RunningConsole) -> dict[str, int]:
    """Site slug → outbox depth of every kept report, read from the console's database."""
    engine = make_engine(c.settings.database_url)
    try:
        async with make_sessions(engine)() as s:
            rows = (await s.execute(select(Site.slug, EdgeHealthRow.outbox_depth)
                                    .join(EdgeHealthRow, EdgeHealthRow.site_id == Site.id))).all()
    finally:
        await engine.dispose()
    return {slug: depth for slug, depth in rows}


async def test_a_site_cannot_report_health_for_another_site(running: RunningConsole) -> None:
    forged, own = _report(0), _report(7)
    async with client(running.mqtt_port, CLOUD_USER, running.settings.mqtt_password,
                      "watch-health") as cloud:
        await cloud.subscribe(topics.INGEST_FILTER, qos=1)
        async with client(running.mqtt_port, "north", SITES["north"], "north-forger") as north:
            await north.publish(topics.up_health("south"), forged, qos=1)
            await north.publish(topics.up_health("north"), own, qos=1)
        got = await messages_until(cloud, own)
        assert [str(m.topic) for m in got] == [topics.up_health("north")], \
            "the broker let north's credential publish on south's topic"
    kept: dict[str, int] = {}
    async with asyncio.timeout(10):
        while "north" not in kept:
            kept = await _kept(running)
            await asyncio.sleep(0.1)
    assert kept == {"north": 7}, "only north's own report is kept; south has none"
