"""Readings exported to a real InfluxDB-v2-compatible server (VictoriaMetrics), losslessly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, migrate
from cloud.db.engine import session_factory as make_sessions
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.sites.telemetry import TelemetryExporter
from contract import Batch, Envelope, Priority, SystemClock, encode_batch, topics
from tests.support.epochs import TEST_EPOCH
from tests.support.victoria import Victoria, own_victoria

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # inside VM retention


def reading(seq: int, kwh: float) -> Envelope:
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=NOW + timedelta(seconds=seq),
                    device="meter-1-101", kind="meter.reading",
                    data={"unit": "1-101", "values": {"energy_import_kwh": kwh, "voltage": 230.5}},
                    priority=Priority.TELEMETRY)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await migrate(db_url)
    engine = make_engine(db_url)
    try:
        sessions = make_sessions(engine)
        ingestor = Ingestor(sessions, SystemClock(), default_registry())
        events = [reading(s, 100.25 + s) for s in range(1, 4)]
        payload = encode_batch(Batch(epoch=TEST_EPOCH, site="demo", events=events))
        assert (await ingestor.handle(topics.up_events("demo"), payload)).inserted == 3
        yield sessions
    finally:
        await engine.dispose()


def exporter(sessions: async_sessionmaker[AsyncSession], vm: Victoria) -> TelemetryExporter:
    return TelemetryExporter(sessions, vm.url, token="t", org="courtyard", bucket="meters",
                             batch_size=4, settle_seconds=0, poll_interval=0.1, timeout=3,
                             max_backoff=0.5)


async def series(vm: Victoria, name: str, points: int) -> dict[str, Any]:
    """Poll the server until ``name`` has ``points`` samples (it ingests asynchronously)."""
    async with asyncio.timeout(20):
        while True:
            found = await asyncio.to_thread(vm.export, f'{{__name__="{name}"}}')
            if found and len(found[0]["values"]) >= points:
                return found[0]
            await asyncio.sleep(0.2)


async def test_readings_are_written_and_read_back(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    with own_victoria() as vm:
        exp = exporter(sessions, vm)
        try:
            assert await exp.export_once() == 4  # batch_size 4 of the 6 readings
            assert await exp.export_once() == 2
            assert await exp.export_once() == 0  # the cursor moved past everything
        finally:
            await exp.aclose()
        energy = await series(vm, "meter_energy_import_kwh", 3)
    assert energy["metric"] == {"__name__": "meter_energy_import_kwh", "site": "demo",
                                "device": "meter-1-101", "unit": "1-101"}
    assert energy["values"] == [101.25, 102.25, 103.25]
    expected_ms = [int((NOW + timedelta(seconds=s)).timestamp() * 1000) for s in (1, 2, 3)]
    assert energy["timestamps"] == expected_ms
    assert await exp.cursor() == 6


async def test_nothing_is_lost_while_the_server_is_down(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    with own_victoria(start=False) as vm:
        exp = exporter(sessions, vm)
        task = asyncio.create_task(exp.run())
        try:
            async with asyncio.timeout(20):
                while exp.counters["telemetry_write_failures"] < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert await exp.cursor() == 0  # failed writes never move the cursor
            await asyncio.to_thread(vm.start)
            voltage = await series(vm, "meter_voltage", 3)
            assert voltage["values"] == [230.5, 230.5, 230.5]
            energy = await series(vm, "meter_energy_import_kwh", 3)
            assert energy["values"] == [101.25, 102.25, 103.25]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert exp.counters["telemetry_exported"] == 6
    assert await exp.cursor() == 6
