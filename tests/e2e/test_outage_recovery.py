"""Acceptance: nothing lost, nothing doubled, through edge crashes, a cloud outage and a broker
restart — with real processes, real Modbus simulators, real Mosquitto and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from edge.app import OUTBOX_FILE
from tests.support import services
from tests.support.auth import cli_token_headers
from tests.support.procs import Part, base_env, get_json, wait_until

pytestmark = pytest.mark.slow

SITE = "e2e"


def _site_yaml(tmp: Path, broker: str, tcp_port: int, health_port: int) -> Path:
    path = tmp / "site.yaml"
    path.write_text(f"""
site: {{id: {SITE}, name: 端到端测试小区, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "{broker}", username: {SITE}, password: e2e-secret}}
edge:
  data_dir: "{tmp / 'edge'}"
  outbox_budget_mb: 64
  health_host: 127.0.0.1
  health_port: {health_port}
  replay_rate: 5000
buses:
  - {{id: tcp1, type: modbus_tcp, host: 127.0.0.1, port: {tcp_port}, timeout: 0.5, retries: 1}}
  - {{id: rtu1, type: modbus_rtu, port: "{tmp / 'rtu1'}", baudrate: 9600, timeout: 0.5,
     retries: 1}}
devices:
  - {{id: m-tcp-1, bus: tcp1, profile: eastron_sdm120, address: 1, poll_interval: 1, unit: "1-101"}}
  - {{id: m-tcp-2, bus: tcp1, profile: chint_ddsu666, address: 2, poll_interval: 1, unit: "1-102"}}
  - {{id: m-tcp-3, bus: tcp1, profile: eastron_sdm630, address: 3, poll_interval: 1, unit: "1-pub"}}
  - {{id: m-rtu-1, bus: rtu1, profile: chint_dtsu666, address: 1, poll_interval: 1, unit: "2-201"}}
  - {{id: w-rtu-2, bus: rtu1, profile: xintai_water, address: 2, poll_interval: 1, unit: "2-201"}}
""")
    return path


def _edge_last_seq(data_dir: Path) -> int:
    """The highest seq the edge's outbox ever assigned (read from its SQLite file)."""
    outbox = data_dir / OUTBOX_FILE  # the data dir holds other databases too (commands)
    assert outbox.is_file(), f"no outbox database in {data_dir}"
    with sqlite3.connect(outbox) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'high_water'").fetchone()
    return int(row[0])


def _all_events(api: str, auth: dict[str, str]) -> list[dict]:
    events: list[dict] = []
    after = 0
    while True:
        page = get_json(f"{api}/api/sites/{SITE}/events?after_seq={after}&limit=1000", 10,
                        headers=auth)
        assert page is not None, "events API did not answer"
        events += page["events"]
        if not page["events"]:
            return events
        after = page["events"][-1]["seq"]


def test_every_reading_arrives_once_through_crashes_outage_and_broker_restart(
        tmp_path: Path, pg_url: str, mosquitto: services.Mosquitto) -> None:
    http_port, health_port, tcp_port = (services.free_port() for _ in range(3))
    site = _site_yaml(tmp_path, mosquitto.url, tcp_port, health_port)
    api = f"http://127.0.0.1:{http_port}"
    health = f"http://127.0.0.1:{health_port}/healthz"
    env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=mosquitto.url,
                   COURTYARD_HTTP_PORT=str(http_port))
    cloud = Part("cloud", ["cloud", "serve"], env, tmp_path)
    sim = Part("sim", ["sim", "site", str(site)], env, tmp_path)
    edge = Part("edge", ["edge", "run", str(site)], env, tmp_path)
    parts = [cloud, sim, edge]
    try:
        cloud.start()
        wait_until(lambda: get_json(f"{api}/healthz"), 60, "cloud /healthz", parts)
        auth = cli_token_headers(env)
        sim.start()
        wait_until(lambda: (tmp_path / "rtu1").exists() and services.port_open(
            "127.0.0.1", tcp_port), 30, "simulators listening", parts)
        edge.start()

        def readings_seen() -> int:
            page = get_json(f"{api}/api/sites/{SITE}/events?kind=meter.reading&limit=1000",
                            headers=auth)
            return len(page["events"]) if page else 0

        wait_until(lambda: readings_seen() >= 5, 60, "first readings at the cloud", parts)

        # 1st edge crash, straight back up.
        time.sleep(2)
        edge.kill9()
        edge.start()
        time.sleep(3)

        # The cloud goes away for 60 s; meanwhile the edge crashes again and the broker restarts.
        cloud.stop()
        outage_started = time.monotonic()
        time.sleep(15)
        edge.kill9()
        edge.start()
        time.sleep(15)
        mosquitto.restart()
        time.sleep(max(0.0, 60 - (time.monotonic() - outage_started)))
        cloud.start()
        wait_until(lambda: get_json(f"{api}/healthz"), 60, "cloud back", parts)

        # Stop the meters; the edge reports them offline and drains its outbox.
        time.sleep(5)
        sim.stop()

        def drained() -> bool:
            h = get_json(health)
            if not h:
                return False
            return bool(h["devices"]["online"] == 0 and h["outbox"]["depth"] == 0)

        wait_until(drained, 120, "edge outbox drained with every device offline", parts)
        assert edge.stop() == 0
        last_seq = _edge_last_seq(tmp_path / "edge")

        events = _all_events(api, auth)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, last_seq + 1)), (
            f"cloud holds {len(seqs)} events, edge assigned {last_seq}; "
            f"missing: {sorted(set(range(1, last_seq + 1)) - set(seqs))[:20]}")
        assert len({e["id"] for e in events}) == len(events), "an event was stored twice"

        readings = [e for e in events if e["kind"] == "meter.reading"]
        assert len(readings) > 5 * 60, "expected more than a minute of readings from 5 meters"
        offline = {e["device"] for e in events if e["kind"] == "device.offline"}
        assert offline == {"m-tcp-1", "m-tcp-2", "m-tcp-3", "m-rtu-1", "w-rtu-2"}

        # Each reading event became its reading rows exactly once.
        for device in ("m-tcp-1", "w-rtu-2"):
            expected = sum(len(e["data"]["values"]) for e in readings if e["device"] == device)
            rows = get_json(f"{api}/api/devices/{device}/readings?site={SITE}"
                            f"&since=2000-01-01T00:00:00Z&limit=10000", 30, headers=auth)
            assert rows is not None
            assert not rows["truncated"]
            assert len(rows["readings"]) == expected
    finally:
        for p in reversed(parts):
            if p.alive():
                p.proc.kill()  # type: ignore[union-attr]
