"""The parking edge end to end with the cloud unreachable: simulated cameras push over HTTP, a
simulated relay board moves the barrier over Modbus TCP, the booth pays through the edge's
operator listener with a console-issued guard token."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from edge.app import EdgeApp
from edge.config import load_site
from simulators.gate.barrier import BarrierSimulator
from simulators.lpr.camera import VirtualCamera
from tests.edge.helpers_cloud import wait_until
from tests.support.operator import guard_headers
from tests.support.services import free_port

PROFILES = Path(__file__).resolve().parents[3] / "configs" / "profiles"

DATASET = """\
version: 3
vehicles:
  - {plate: 粤B12345, holder: 张伟, unit: "1-101"}
tariffs:
  lot-a:
    id: short-stay
    lost_entry: flat
    prices:
      small:
        first_period: {minutes: 60, price: "5"}
        unit: {minutes: 60, price: "2"}
        lost_entry_fee: "50"
"""


SECRET = "park-t-secret"


def _site(tmp: Path, http_port: int, gate_port: int, dead_mqtt: int, op_port: int) -> Path:
    (tmp / "dataset.yaml").write_text(DATASET, encoding="utf-8")
    site = f"""\
site: {{id: park-t, name: 停车测试}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{dead_mqtt}", username: park-t, password: {SECRET}}}
edge: {{data_dir: "{tmp / 'edge'}", health_port: {free_port()}}}
operator: {{port: {op_port}}}
buses:
  - {{id: gates, type: modbus_tcp, host: 127.0.0.1, port: {gate_port}, timeout: 0.5}}
parking:
  http_host: 127.0.0.1
  http_port: {http_port}
  dataset: dataset.yaml
  lots: [{{id: lot-a, capacity: 10}}]
  cameras:
    - {{id: cam-in, vendor: vzenith, address: 127.0.0.1}}
    - {{id: cam-out, vendor: hikvision, address: 127.0.0.2}}
  gates:
    - {{id: gate-in, via: camera_relay, camera: cam-in, relay_io: 1}}
    - {{id: gate-out, via: modbus, bus: gates, address: 1, open_coil: 0, close_coil: 1,
        open_limit_input: 0, closed_limit_input: 1, loop_input: 2, confirm_timeout: 3,
        auto_close: 0.5}}
  lanes:
    - {{id: lane-in, lot: lot-a, direction: in, camera: cam-in, gate: gate-in}}
    - {{id: lane-out, lot: lot-a, direction: out, camera: cam-out, gate: gate-out}}
"""
    path = tmp / "site.yaml"
    path.write_text(site, encoding="utf-8")
    return path


def _outbox_events(db: Path) -> list[tuple[str, dict[str, object]]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
    return [(k, json.loads(d)) for k, d in rows]


async def test_entry_exit_and_payment_work_with_the_cloud_unreachable(tmp_path: Path) -> None:
    http_port, gate_port, dead, op_port = free_port(), free_port(), free_port(), free_port()
    config = load_site(_site(tmp_path, http_port, gate_port, dead, op_port), PROFILES)
    barrier = BarrierSimulator(tcp=("127.0.0.1", gate_port), travel_s=0.3)
    await barrier.start()
    app = EdgeApp(config, uplink_overrides={"backoff_initial": 0.2, "backoff_cap": 0.5})
    task = asyncio.create_task(app.run())
    base = f"http://127.0.0.1:{http_port}"
    booth = f"http://127.0.0.1:{op_port}"
    exit_conn = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    try:
        await wait_until(lambda: app.parking is not None and app.parking.ready.is_set(),
                         what="parking ready")
        async with VirtualCamera("vzenith", f"{base}/lpr/vzenith/cam-in", ip="127.0.0.1") as cam:
            owner = await cam.push_plate("粤B12345")
            assert owner.opened and owner.relay_pulse and owner.relay_io == 1
            visitor = await cam.push_plate("粤A2B345")
            assert visitor.opened and "临时车 欢迎" in visitor.led_lines
        async with aiohttp.ClientSession(connector=exit_conn) as session, VirtualCamera(
                "hikvision", f"{base}/lpr/hikvision/cam-out", ip="127.0.0.2",
                session=session) as cam_out:
            assert (await cam_out.push_plate("粤A2B345")).status == 200
        async with aiohttp.ClientSession(headers=guard_headers(SECRET, "park-t")) as http:
            async with http.get(f"{booth}/parking/lanes") as r:
                lanes = {ln["lane"]: ln for ln in (await r.json())["lanes"]}
            assert lanes["lane-out"]["waiting"]["due"] == "5.00"
            async with http.get(f"{booth}/parking/lanes") as r:
                (lot,) = (await r.json())["lots"]
            assert (lot["capacity"], lot["inside"], lot["free"]) == (10, 2, 8)
            assert barrier.arm_position == 0.0, "nothing paid: the barrier stays down"
            async with http.post(f"{booth}/parking/lanes/lane-out/pay",
                                 json={"amount": "7", "method": "cash"}) as r:
                assert r.status == 409 and "more than" in (await r.json())["error"]
            async with http.post(f"{booth}/parking/lanes/lane-out/pay",
                                 json={"amount": "5.00", "method": "cash"}) as r:
                assert r.status == 200 and (await r.json())["open"] is True
        await wait_until(lambda: barrier.arm_position == 1.0, what="barrier up")
        await barrier.vehicle_enters_loop()
        await asyncio.sleep(0.3)
        await barrier.vehicle_leaves_loop()
        await wait_until(lambda: barrier.arm_position == 0.0, what="auto close after the car")
        assert not barrier.crushes
        await wait_until(lambda: any(k == "gate.closed" for k, _ in _outbox_events(
            app.outbox_path)), what="gate.closed stored")
        events = _outbox_events(app.outbox_path)
        kinds = [k for k, _ in events]
        assert kinds.count("parking.entry") == 2 and "payment.recorded" in kinds
        exit_ = next(d for k, d in events if k == "parking.exit")
        assert (exit_["fee"], exit_["paid"], exit_["plate"]) == ("5.00", "5.00", "粤A2B345")
        paid = next(d for k, d in events if k == "payment.recorded")
        assert paid["operator"] == "值班保安 Wang (guard, user:7)"  # from the token
        opened = [d for k, d in events if k == "gate.opened"]
        assert {d["cause"] for d in opened} >= {"plate", "pay"}
        assert app.uplink is not None and not app.uplink.connected  # all of it without a cloud
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 15)
        await barrier.stop()
