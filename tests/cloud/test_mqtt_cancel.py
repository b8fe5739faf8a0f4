"""The console's MQTT loops stop when cancelled, even when the client turns the cancel into
``MqttError`` (aiomqtt's disconnect wait timing out on the way out of ``async with``).

Without ``cloud.mqttlink.mqtt_session`` the ingest worker, the sync publisher and the command
link took that error for a lost broker and reconnected forever, so the console's shutdown hung.
The seam is the client object; the loops around it are the real ones.
"""

from __future__ import annotations

import pytest

from cloud.commands.link import CommandLink
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.ingest import IngestWorker
from cloud.parking.sync import SyncPublisher
from contract import SystemClock
from tests.support.cancel_client import LosesTheCancel, stops_when_cancelled

URL = "mqtt://127.0.0.1:1"


async def test_the_ingest_worker_stops_when_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = IngestWorker(URL, None, None, object(),  # type: ignore[arg-type]
                          SystemClock(), min_backoff=0.01, max_backoff=0.01)
    monkeypatch.setattr(worker, "_client", LosesTheCancel)
    await stops_when_cancelled(worker.run, "the ingest worker")


async def test_the_sync_publisher_stops_when_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = SyncPublisher(URL, None, None, min_backoff=0.01, max_backoff=0.01)
    monkeypatch.setattr(publisher, "_client", LosesTheCancel)
    await stops_when_cancelled(publisher.run, "the sync publisher")


async def test_the_command_link_stops_when_cancelled(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/c.db"
    await migrate(url)
    engine = make_engine(url)
    link = CommandLink(URL, None, None, session_factory(engine), SystemClock(),
                       min_backoff=0.01, max_backoff=0.01)
    monkeypatch.setattr(link, "_client", LosesTheCancel)
    try:
        await stops_when_cancelled(link.run, "the command link")
    finally:
        await engine.dispose()
