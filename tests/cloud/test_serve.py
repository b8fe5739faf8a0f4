"""``courtyard cloud serve`` end to end: a real process, its embedded broker, a real edge client.

The process is started exactly as an operator would (environment variables, CLI entry), fed a
batch over MQTT as site ``demo``, read back over HTTP, and stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from cloud.db.engine import make_engine, session_factory
from contract import Batch, Envelope, Priority, decode_ack, encode_batch, topics
from tests.support.auth import admin_headers
from tests.support.epochs import TEST_EPOCH
from tests.support.services import Mosquitto, free_port

REPO = Path(__file__).resolve().parents[2]
START = "from cloud.serve import main; import sys; raise SystemExit(main(sys.argv[1:]))"


class Console:
    def __init__(self, proc: asyncio.subprocess.Process, http: int, mqtt: int,
                 db_url: str = "") -> None:
        self.proc, self.http, self.mqtt = proc, http, mqtt
        self.url = f"http://127.0.0.1:{http}"
        self.db_url = db_url
        self.headers: dict[str, str] | None = None

    async def _auth(self, path: str) -> dict[str, str]:
        """An admin token in the console's database (made once it has migrated)."""
        if path == "/healthz":
            return {}
        if self.headers is None:
            engine = make_engine(self.db_url)
            try:
                self.headers = await admin_headers(session_factory(engine))
            finally:
                await engine.dispose()
        return self.headers

    async def get(self, path: str) -> tuple[int, Any]:
        headers = await self._auth(path)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s, \
                s.get(self.url + path, headers=headers) as resp:
            return resp.status, await resp.json()

    async def wait_healthy(self, within: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                if self.proc.returncode is not None:
                    raise AssertionError(f"serve exited early: {self.proc.returncode}")
                try:
                    status, body = await self.get("/healthz")
                    if status == 200:
                        return dict(body)
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)


async def start_console(tmp_path: Path, *args: str, **env: str) -> Console:
    http, mqtt = free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    full_env = {
        **base,
        "COURTYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cloud.db'}",
        "COURTYARD_BROKER_PORT": str(mqtt),
        "COURTYARD_HTTP_PORT": str(http),
        "COURTYARD_SITE_CREDENTIALS": "demo:demo-secret-0001,north:north-secret",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", START, *args, cwd=REPO, env=full_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Console(proc, http, mqtt, full_env["COURTYARD_DATABASE_URL"])


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(tmp_path)
    try:
        yield c
    finally:
        if c.proc.returncode is None:  # stopped, not killed: it stops its managed broker too
            c.proc.terminate()
            try:
                async with asyncio.timeout(30):
                    await c.proc.wait()
            except TimeoutError:
                c.proc.kill()
                await c.proc.wait()


def batch(site: str) -> bytes:
    ts = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    events = [
        Envelope(seq=1, id=str(uuid.uuid4()), ts=ts, device="meter-1-101", kind="meter.reading",
                 data={"v": 1, "profile": "eastron_sdm120", "unit": "1-101",
                       "values": {"voltage": 230.1, "energy_import_kwh": 1234.56},
                       "units": {"voltage": "V", "energy_import_kwh": "kWh"}},
                 priority=Priority.TELEMETRY),
        Envelope(seq=2, id=str(uuid.uuid4()), ts=ts, device="door-3", kind="door.forced",
                 data={"v": 1}, priority=Priority.ALARM),
    ]
    return encode_batch(Batch(epoch=TEST_EPOCH, site=site, events=events), compress=True)


async def test_serve_ingests_a_batch_acks_it_and_stops_on_sigterm(console: Console) -> None:
    health = await console.wait_healthy()
    assert health["broker"]["embedded"] is True and health["ingest"]["connected"] is True

    async with aiomqtt.Client("127.0.0.1", console.mqtt, username="demo",
                              password="demo-secret-0001", identifier="edge-demo",
                              clean_session=False, timeout=5) as edge:
        await edge.subscribe(topics.down_ack("demo"), qos=1)
        await edge.publish(topics.up_events("demo"), batch("demo"), qos=1)
        async with asyncio.timeout(10):
            async for message in edge.messages:
                assert isinstance(message.payload, bytes)
                assert decode_ack(message.payload) == (TEST_EPOCH, 2)
                break

    status, body = await console.get("/api/sites/demo/events")
    assert status == 200
    assert [(e["seq"], e["kind"], e["device"]) for e in body["events"]] == [
        (1, "meter.reading", "meter-1-101"), (2, "door.forced", "door-3")]
    status, body = await console.get("/api/devices/meter-1-101/readings"
                                     "?since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00Z")
    assert status == 200
    assert {r["name"]: r["value"] for r in body["readings"]} == {
        "voltage": "230.1", "energy_import_kwh": "1234.56"}
    _, health = await console.get("/healthz")
    assert health["ingest"]["counters"]["ingest_events_inserted"] == 2

    console.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        out, err = await console.proc.communicate()
    assert console.proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    assert f"mqtt://127.0.0.1:{console.mqtt}" in text
    assert text.index("控制台已启动") < text.index("console running")
    assert f"http://127.0.0.1:{console.http}/" in text
    assert "已停止 / stopped" in text


async def test_site_credential_is_enforced_by_the_console_broker(console: Console) -> None:
    await console.wait_healthy()
    # A wrong secret is refused; a right one cannot write into another site's log.
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", console.mqtt, username="demo",
                                  password="guess", timeout=5):
            pass
    async with aiomqtt.Client("127.0.0.1", console.mqtt, username="demo",
                              password="demo-secret-0001", timeout=5) as edge:
        await edge.publish(topics.up_events("north"), batch("north"), qos=1)
        await edge.publish(topics.up_events("demo"), batch("demo"), qos=1)
    async with asyncio.timeout(10):
        while True:
            _, body = await console.get("/api/sites")
            if body["sites"]:
                break
            await asyncio.sleep(0.2)
    assert [s["slug"] for s in body["sites"]] == ["demo"]
    status, _ = await console.get("/api/sites/north/events")
    assert status == 404


async def test_bad_setting_exits_with_the_variable_named(tmp_path: Path) -> None:
    c = await start_console(tmp_path, COURTYARD_HTTP_PORT="eighty")
    async with asyncio.timeout(30):
        _, err = await c.proc.communicate()
    assert c.proc.returncode == 2
    assert "COURTYARD_HTTP_PORT" in err.decode()


async def test_busy_port_is_reported_not_hung(tmp_path: Path) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        c = await start_console(tmp_path, "--port", str(port))
        async with asyncio.timeout(30):
            out, err = await c.proc.communicate()
        assert c.proc.returncode == 1, (out + err).decode()[-2000:]
        assert "端口被占用" in err.decode()
    finally:
        blocker.close()
        await blocker.wait_closed()


async def test_serve_with_an_external_broker(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """With COURTYARD_MQTT_URL set no embedded broker starts; ingest uses the given one."""
    c = await start_console(tmp_path, COURTYARD_MQTT_URL=mosquitto.url)
    try:
        health = await c.wait_healthy()
        assert health["broker"] == {"ok": True, "embedded": False,
                                    "address": f"127.0.0.1:{mosquitto.port}"}
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="edge-x",
                                  timeout=5) as edge:
            await edge.subscribe(topics.down_ack("demo"), qos=1)
            await edge.publish(topics.up_events("demo"), batch("demo"), qos=1)
            async with asyncio.timeout(10):
                async for message in edge.messages:
                    assert isinstance(message.payload, bytes)
                    assert decode_ack(message.payload) == (TEST_EPOCH, 2)
                    break
        c.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            out, _ = await c.proc.communicate()
        assert c.proc.returncode == 0
        assert "内置 MQTT 代理" not in out.decode()
    finally:
        if c.proc.returncode is None:
            c.proc.kill()
            await c.proc.wait()


def test_openapi_is_valid_json_from_the_module() -> None:
    """The document is plain JSON data (no callables or sets slip in)."""
    from cloud.openapi_doc import document

    assert json.loads(json.dumps(document()))["openapi"] == "3.1.0"


async def test_serve_in_process_signals_ready_and_releases_ports(tmp_path: Path) -> None:
    from cloud.serve import serve
    from cloud.settings import Settings

    http, mqtt = free_port(), free_port()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
                        broker_port=mqtt, http_port=http, mqtt_password="pw")
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, ready, stop=stop))
    async with asyncio.timeout(30):
        await ready.wait()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s, \
            s.get(f"http://127.0.0.1:{http}/") as resp:
        assert resp.status == 200 and "智慧社区控制台" in await resp.text()
    stop.set()
    async with asyncio.timeout(20):
        await task
    # Both listeners are closed: the ports can be bound again at once.
    for port in (http, mqtt):
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
        server.close()
        await server.wait_closed()
