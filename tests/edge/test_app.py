"""The whole edge process: drivers, outbox, uplink and health server on real services."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from contract import encode_ack
from drivers.base import DriverStats
from edge.app import EdgeApp
from edge.config.model import SiteConfig
from edge.health import BusView, HealthServer
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.edge.helpers_cloud import RecordingCloud, running, wait_until
from tests.edge.helpers_events import reading
from tests.edge.helpers_site import silent_meter_site
from tests.edge.test_last_will import retained_status
from tests.support.services import Mosquitto, free_port

SITE = "apptest"
REPO = Path(__file__).resolve().parents[2]


def site_config(tmp_path: Path, mqtt_url: str, health_port: int) -> SiteConfig:
    return silent_meter_site(SITE, tmp_path / "edge-data", mqtt_url, health_port, free_port())


async def get_json(url: str) -> dict[str, object]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        async with s.get(url) as r:
            assert r.status == 200
            body: dict[str, object] = await r.json()
            return body


async def get_text(url: str) -> str:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        async with s.get(url) as r:
            assert r.status == 200 and r.content_type == "text/plain"
            return await r.text()


async def test_edge_app_runs_drivers_uplink_and_health_then_stops_cleanly(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    cfg = site_config(tmp_path, mosquitto.url, port)
    cloud = RecordingCloud(mosquitto.url, SITE)
    app = EdgeApp(cfg, uplink_overrides={"backoff_initial": 0.1})
    async with running(cloud.run):
        await cloud.subscribed.wait()
        task = asyncio.create_task(app.run())
        try:
            async with asyncio.timeout(10):
                await app.started.wait()
            await wait_until(lambda: app.uplink is not None and app.uplink.connected,
                             what="uplink connected")
            # The unreachable meter is reported offline, and that event reaches the cloud.
            await wait_until(lambda: any(e.kind == "device.offline" and e.device == "m-101"
                                         for b in cloud.batches for e in b.events),
                             within=20, what="device.offline at the cloud")
            health = await get_json(f"http://127.0.0.1:{port}/healthz")
            assert health["site"] == SITE and health["status"] == "degraded"
            assert health["uplink"] == {"connected": True}
            assert health["devices"] == {"online": 0, "total": 1}
            assert "1 of 1 devices offline" in health["degraded"]  # type: ignore[operator]
            metrics = await get_text(f"http://127.0.0.1:{port}/metrics")
            assert "courtyard_devices_total 1" in metrics
            assert "courtyard_uplink_connected 1" in metrics
            published = [ln for ln in metrics.splitlines()
                         if ln.startswith("courtyard_published_events_total ")]
            assert published and int(published[0].split()[1]) >= 1
            assert 'courtyard_poll_errors_total{bus="tcp1",kind="bus_down"}' in metrics
            assert (cfg.edge.data_dir / "outbox.db").exists()
        finally:
            app.request_stop()
            async with asyncio.timeout(15):
                await task
    assert await retained_status(mosquitto, SITE, b"offline") == b"offline"


async def test_healthz_reports_backlog_and_disconnected_uplink(tmp_path: Path) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    async with box:
        await box.append_many([reading(n=i) for i in range(5)])
        uplink = Uplink(UplinkSettings(site="s1", mqtt_url="mqtt://127.0.0.1:1"), box)
        port = free_port()
        server = HealthServer("s1", box, uplink, {"tcp1": BusView(DriverStats())}, 0,
                              port=port)
        async with running(server.serve):
            body: dict[str, object] = {}
            for _ in range(100):
                try:
                    body = await get_json(f"{server.url}/healthz")
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            assert body["status"] == "degraded"
            assert body["degraded"] == ["uplink disconnected"]
            outbox = body["outbox"]
            assert isinstance(outbox, dict)
            assert outbox["depth"] == 5 and outbox["oldest_unacked_s"] >= 0
            assert outbox["bytes"] > 0
            await uplink.handle_downlink("courtyard/v1/s1/down/ack", encode_ack(box.epoch, 5))
            text = await get_text(f"{server.url}/metrics")
            assert "courtyard_outbox_depth 0" in text
            assert "courtyard_outbox_oldest_unacked_seconds 0" in text
            assert "courtyard_uplink_connected 0" in text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_the_edge_cleanly(tmp_path: Path, mosquitto: Mosquitto,
                                             sig: signal.Signals) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.edge.helpers_app_proc", SITE, str(tmp_path / "data"),
        mosquitto.url, str(port), str(free_port()), cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert await retained_status(mosquitto, SITE, b"online", within=20) == b"online"
        health: dict[str, object] = {}
        for _ in range(100):
            try:
                health = await get_json(f"http://127.0.0.1:{port}/healthz")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        assert health["site"] == SITE
        proc.send_signal(sig)
        async with asyncio.timeout(15):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert await retained_status(mosquitto, SITE, b"offline") == b"offline"
    lines = err.decode().splitlines()
    assert any("边缘网关启动" in ln and "/healthz" in ln for ln in lines)
    assert any("边缘网关已停止" in ln for ln in lines)
