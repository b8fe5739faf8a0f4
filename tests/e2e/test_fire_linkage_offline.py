"""Acceptance (safety): with the cloud unreachable, a simulated fire alarm still triggers every
linkage action at the edge; the alarm and the actions reach the cloud when the link returns.

Real parts throughout: the edge process core (EdgeApp) with its fire receiver, elevator drivers,
parking gates and linkage; a simulated UITD speaking GB/T 26875.3 over TCP; simulated elevator
boxes and a barrier relay board over Modbus TCP; Mosquitto (stopped for the outage) and the
cloud's ingest worker on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from cloud.alarms.tables import Alarm, AlarmLinkage
from cloud.db.engine import make_engine, migrate
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Event
from cloud.features import default_registry
from cloud.ingest import Ingestor, IngestWorker
from contract import SystemClock
from edge.app import EdgeApp
from edge.config import load_site
from edge.parking.service import ParkingService
from simulators.elevator.car import SimCar
from simulators.elevator.server import ElevatorBox, ElevatorSimulator
from simulators.fire.uitd import VirtualUitd
from simulators.gate.barrier import BarrierSimulator
from tests.edge.helpers_cloud import wait_until
from tests.support import services
from tests.support.operator import guard_headers

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SITE = "fire-e2e"
SECRET = "fire-e2e-secret"
SMOKE = 40  # point photoelectric smoke detector
FIRE_BIT = 0x0002


def _site(tmp: Path, *, broker: str, fire_port: int, elev_port: int, gate_port: int,
          http_port: int, health_port: int, op_port: int) -> Path:
    (tmp / "dataset.yaml").write_text("version: 1\n", encoding="utf-8")
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {SITE}, name: 消防联动验收}}
cloud: {{mqtt_url: "{broker}", username: {SITE}, password: {SECRET}}}
edge: {{data_dir: "{tmp / 'edge'}", health_host: 127.0.0.1, health_port: {health_port}}}
operator: {{port: {op_port}}}
buses:
  - {{id: elev, type: modbus_tcp, host: 127.0.0.1, port: {elev_port}, timeout: 0.5}}
  - {{id: gates, type: modbus_tcp, host: 127.0.0.1, port: {gate_port}, timeout: 0.5}}
parking:
  http_host: 127.0.0.1
  http_port: {http_port}
  dataset: dataset.yaml
  lots: [{{id: lot-a, capacity: 10}}]
  cameras: [{{id: cam-out, vendor: vzenith, address: 127.0.0.1}}]
  gates:
    - {{id: gate-out, via: modbus, bus: gates, address: 1, open_coil: 0, close_coil: 1,
        open_limit_input: 0, closed_limit_input: 1, loop_input: 2, confirm_timeout: 3,
        auto_close: 0.5}}
  lanes: [{{id: lane-out, lot: lot-a, direction: out, camera: cam-out, gate: gate-out}}]
fire:
  host: 127.0.0.1
  port: {fire_port}
  centre_address: 88888
  uitds:
    - id: uitd-1
      address: 889
      building: "1"
      peers: [127.0.0.1]
      locations:
        - {{zone: 10, building: "1", floor: "3", area: 东侧走廊}}
elevators:
  - {{id: elev-1, building: "1", bus: elev, address: 1, profile: generic_gbt24476,
     poll_interval: 0.2}}
  - {{id: elev-2, building: "2", bus: elev, address: 2, profile: generic_gbt24476,
     poll_interval: 0.2}}
""", encoding="utf-8")
    return path


def _outbox(db: Path) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
    return [(k, json.loads(d)) for k, d in rows]


@pytest.fixture
async def cloud_db(pg_url: str) -> AsyncIterator[str]:
    await migrate(pg_url)
    yield pg_url


async def test_fire_linkage_runs_offline_and_reaches_the_cloud_afterwards(
        tmp_path: Path, cloud_db: str, mosquitto: services.Mosquitto) -> None:
    fire_port, elev_port, gate_port = (services.free_port() for _ in range(3))
    http_port, health_port, op_port = (services.free_port() for _ in range(3))
    config = load_site(_site(tmp_path, broker=mosquitto.url, fire_port=fire_port,
                             elev_port=elev_port, gate_port=gate_port, http_port=http_port,
                             health_port=health_port, op_port=op_port))
    cars = {1: SimCar(start_floor=6, floor_s=0.1, door_s=0.1, dwell_s=0.5),
            2: SimCar(start_floor=4, floor_s=0.1, door_s=0.1, dwell_s=0.5)}
    elevators = ElevatorSimulator([ElevatorBox.from_profile(u, "generic", car)
                                   for u, car in cars.items()], tcp=("127.0.0.1", elev_port))
    barrier = BarrierSimulator(tcp=("127.0.0.1", gate_port), travel_s=0.3)
    await elevators.start()
    await barrier.start()
    mosquitto.stop()  # the cloud is unreachable from the start
    app = EdgeApp(config, uplink_overrides={"backoff_initial": 0.2, "backoff_cap": 0.5})
    edge = asyncio.create_task(app.run())
    engine = make_engine(cloud_db)
    sessions = make_sessions(engine)
    cloud: asyncio.Task[None] | None = None
    uitd = VirtualUitd("127.0.0.1", fire_port, source_address=889, centre_address=88888,
                       heartbeat_s=0)
    try:
        await wait_until(lambda: app.safety is not None and app.safety.fire is not None
                         and app.safety.fire.ready.is_set(), within=20, what="fire receiver")
        safety = app.safety
        assert safety is not None
        await wait_until(lambda: all(d.online for d in safety.elevators.values()),
                         within=20, what="elevators online")
        await uitd.connect()
        sent = await uitd.send_component(1, 1, SMOKE, 10, 2, FIRE_BIT, "三层东侧走廊烟感")
        assert sent.ok, "the edge confirmed the fire frame with the cloud down"

        # Every linkage action ran at the edge, without the cloud.
        await wait_until(lambda: barrier.arm_position == 1.0, what="barrier raised")
        await wait_until(lambda: cars[1].floor == 1 and cars[1].door == "open", within=20,
                         what="building 1's car recalled to the main landing")
        assert not cars[2].recalled, "building 2 has no fire: its car keeps running"
        assert app.uplink is not None and not app.uplink.connected
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{health_port}/linkage") as r:
            status = await r.json()
        assert status["active"], status
        edge_events = _outbox(app.outbox_path)
        actions = {(d["action"], d["target"]): d["result"]
                   for k, d in edge_events if k == "linkage.action"}
        assert actions[("raise_gate", "gate-out")] == "ok"
        assert actions[("recall_elevator", "elev-1")] == "ok"
        assert ("recall_elevator", "elev-2") not in actions
        assert any(a == "unlock_doors" and r == "noop" for (a, _t), r in actions.items())
        (fire,) = [d for k, d in edge_events if k == "fire.alarm"]
        assert fire["location"]["floor"] == "3" and fire["zone"] == 10

        # The link returns: the alarm and the actions reach the cloud.
        mosquitto.start()
        cloud = asyncio.create_task(IngestWorker(
            mosquitto.url, None, None, Ingestor(sessions, SystemClock(), default_registry()),
            SystemClock(),
            client_id="fire-ingest").run())

        async def kinds() -> list[str]:
            async with sessions() as s:
                return list((await s.scalars(select(Event.kind).where(
                    Event.kind.in_(("fire.alarm", "linkage.triggered", "linkage.action")))
                )).all())

        deadline = asyncio.get_running_loop().time() + 60
        while sorted(set(got := await kinds())) != ["fire.alarm", "linkage.action",
                                                    "linkage.triggered"]:
            assert asyncio.get_running_loop().time() < deadline, got
            await asyncio.sleep(0.5)
        assert got.count("fire.alarm") == 1
        assert got.count("linkage.action") == len(actions)
        async with sessions() as s:
            (alarm,) = (await s.scalars(select(Alarm))).all()
            linked = (await s.scalars(select(AlarmLinkage).where(
                AlarmLinkage.alarm_id == alarm.id))).all()
        assert (alarm.kind, alarm.severity, alarm.state) == ("fire.alarm", "critical", "open")
        assert alarm.location_text.startswith("1号楼 3层 东侧走廊")
        assert {(x.action, x.target, x.result) for x in linked if x.kind == "linkage.action"} >= {
            ("raise_gate", "gate-out", "ok"), ("recall_elevator", "elev-1", "ok")}

        # A guard resets linkage at the edge's operator listener with a console-issued
        # token: refused while the panel still reports the fire, done once it has cleared.
        reset = f"http://127.0.0.1:{op_port}/linkage/reset"
        body = {"reason": "火警已排除 / fire cleared"}
        async with aiohttp.ClientSession(headers=guard_headers(SECRET, SITE)) as http:
            async with http.post(reset, json=body) as r:
                assert r.status == 409, await r.text()
            cleared = await uitd.send_component(1, 1, SMOKE, 10, 2, 0, "三层东侧走廊烟感")
            assert cleared.ok
            async with http.post(reset, json=body) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["operator"]["role"] == "guard"
    finally:
        await uitd.close()
        app.request_stop()
        await asyncio.wait_for(edge, 30)
        if cloud is not None:
            cloud.cancel()
            await asyncio.gather(cloud, return_exceptions=True)
        await elevators.stop()
        await barrier.stop()
        await engine.dispose()


async def test_the_barriers_fire_raises_exist_before_parking_has_started(tmp_path: Path) -> None:
    """A fire in the edge's first second (parking not yet serving) still plans raise_gate: the
    linkage reads the gates the moment the app is built, not once parking's task has run."""
    ports = [services.free_port() for _ in range(6)]
    config = load_site(_site(tmp_path, broker="mqtt://127.0.0.1:1", fire_port=ports[0],
                             elev_port=ports[1], gate_port=ports[2], http_port=ports[3],
                             health_port=ports[4], op_port=ports[5]))
    assert config.parking is not None

    async def emit(_: Any) -> None:
        return None

    parking = ParkingService(config, emit, SystemClock())
    assert parking.lanes is None  # not started
    assert set(parking.gates) == {g.id for g in config.parking.gates} == {"gate-out"}
