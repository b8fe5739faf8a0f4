"""`courtyard sim site` with a parking section: barrier boards where the site file wires them,
and a scenario that drives cars through the real edge (cameras over HTTP from their listed
addresses, the booth API, the gate over Modbus TCP), with the cloud unreachable."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pymodbus.client import AsyncModbusTcpClient

from edge.app import EdgeApp
from edge.config import load_site as load_edge_site
from edge.parking.datasets import parse_dataset
from simulators.parking_scenario import (
    CarStory,
    Pace,
    ParkingScenario,
    can_bind,
    canonical,
    confuse,
    read_dataset_plates,
    temporary_plate,
)
from simulators.site import SiteSimulator, main
from simulators.siteconfig import load_site
from tests.edge.helpers_cloud import wait_until
from tests.support import services
from tests.support.services import free_port

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
OWNER, BARRED = "粤B12345", "粤B44444"

DATASET = f"""\
version: 2
vehicles:
  - {{plate: {OWNER}, holder: 张伟, unit: "1-101"}}
  - {{plate: 粤BD10086, holder: 李娜, unit: "1-102"}}
blacklist:
  - {{plate: {BARRED}, reason: 冲卡}}
tariffs:
  lot-a:
    id: t
    free_minutes: 30
    lost_entry: flat
    prices:
      small:
        first_period: {{minutes: 60, price: "5"}}
        unit: {{minutes: 60, price: "2"}}
        lost_entry_fee: "50"
"""


def _site(tmp: Path, *, http_port: int, bus_port: int, mqtt_port: int) -> Path:
    (tmp / "data").mkdir(exist_ok=True)
    (tmp / "data" / "dataset.yaml").write_text(DATASET, encoding="utf-8")
    text = f"""\
site: {{id: park-sim, name: 停车模拟}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{mqtt_port}", username: park-sim, password: sim-secret}}
edge: {{data_dir: "{tmp / 'edge'}", health_port: {free_port()}}}
operator: {{port: {free_port()}}}
buses:
  # one converter port: a meter (unit 1) and the exit barrier's relay board (unit 10)
  - {{id: shared, type: modbus_tcp, host: 127.0.0.1, port: {bus_port}, timeout: 0.5}}
devices:
  - {{id: m-1, bus: shared, profile: eastron_sdm120, address: 1, poll_interval: 5}}
parking:
  http_host: 127.0.0.1
  http_port: {http_port}
  dataset: data/dataset.yaml
  lots: [{{id: lot-a, capacity: 20}}]
  cameras:
    - {{id: cam-in, vendor: vzenith, address: 127.0.0.1}}
    - {{id: cam-out, vendor: hikvision, address: 127.0.0.2}}
  gates:
    - {{id: gate-in, via: camera_relay, camera: cam-in}}
    - {{id: gate-out, via: modbus, bus: shared, address: 10, open_coil: 3, close_coil: 4,
        open_limit_input: 5, closed_limit_input: 6, loop_input: 7, confirm_timeout: 4,
        auto_close: 0.3}}
  lanes:
    - {{id: lane-in, lot: lot-a, direction: in, camera: cam-in, gate: gate-in}}
    - {{id: lane-out, lot: lot-a, direction: out, camera: cam-out, gate: gate-out,
        match: lenient}}
"""
    path = tmp / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- pieces ---------------------------------------------------------------------------------

def test_the_parking_section_is_read_for_simulating(tmp_path: Path) -> None:
    spec = load_site(_site(tmp_path, http_port=18088, bus_port=15021, mqtt_port=1))
    (bus,) = spec.buses
    (gate,) = bus.gates
    assert (gate.id, gate.address, gate.open_coil, gate.close_coil, gate.loop_input) == (
        "gate-out", 10, 3, 4, 7)
    assert spec.parking is not None
    assert spec.parking.dataset == (tmp_path / "data" / "dataset.yaml").resolve()
    assert spec.parking.base_url == "http://127.0.0.1:18088"
    assert [(c.id, c.vendor, c.address) for c in spec.parking.cameras] == [
        ("cam-in", "vzenith", "127.0.0.1"), ("cam-out", "hikvision", "127.0.0.2")]
    plates, note = read_dataset_plates(spec.parking.dataset)
    assert note is None and plates.owners == [OWNER, "粤BD10086"] and plates.barred == [BARRED]
    _, note = read_dataset_plates(tmp_path / "missing.yaml")
    assert note is not None and note.index("无法读取") < note.index("cannot read")


def test_generated_and_misread_plates() -> None:
    rng = random.Random(3)
    for _ in range(200):
        misread = confuse(OWNER, rng)
        assert misread != OWNER and misread[:2] == OWNER[:2]
        assert canonical(misread) == canonical(OWNER), "a look-alike, not another plate"
    taken = {canonical(OWNER)}
    plates = {temporary_plate(rng, "粤", taken) for _ in range(300)}
    assert all(len(p) == 7 and p[1].isalpha() and canonical(p) not in taken for p in plates)
    assert all(any(c in "0258BDSZ6G" for c in p[2:]) for p in plates), "each can be misread"


def test_a_car_is_one_line_chinese_first() -> None:
    story = CarStory(n=4, plate="粤A2B345", kind="missed_entry", exit_lane="lane-out",
                     exit_read="粤A2B345", due=Decimal("50"), paid=Decimal("50"), left=True,
                     stayed_s=12)
    line = story.line()
    assert "\n" not in line
    zh, en = line.split(" / ")
    assert "应缴 ¥50.00，微信支付" in zh and "开闸离场" in zh
    assert "¥50.00 due, paid by WeChat" in en and "gate opened" in en


def test_pace_options_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path, http_port=18088, bus_port=15021, mqtt_port=1)
    assert main([str(site), "--parking-interval", "0"]) == 2
    assert "--parking-interval must be > 0" in capsys.readouterr().out
    with pytest.raises(ValueError):
        Pace(interval=1, stay=-1)


# -- against the real edge ----------------------------------------------------------------------

def _events(db: Path) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
    return [(k, json.loads(d)) for k, d in rows]


async def _stop(app: EdgeApp, edge: asyncio.Task[None]) -> None:
    """Stop the edge; cancel again if it lingers. On Python 3.11 the Modbus gate's poll can
    swallow one cancellation (``asyncio.wait_for`` returning a reply that arrived together
    with the cancel) and go on polling; a second cancel ends it."""
    app.request_stop()
    for _ in range(6):
        done, _ = await asyncio.wait([edge], timeout=5)
        if done:
            if not edge.cancelled():
                edge.result()
            return
        edge.cancel()
    raise AssertionError("the edge did not stop")


@pytest.fixture
async def parking_site(tmp_path: Path) -> AsyncIterator[tuple[SiteSimulator, EdgeApp]]:
    services.need(can_bind("127.0.0.2"), "127.0.0.2 on the loopback interface")
    path = _site(tmp_path, http_port=free_port(), bus_port=free_port(), mqtt_port=free_port())
    sim = SiteSimulator(path, PROFILES, pace=Pace(interval=0.4, stay=0.3),
                        rng=random.Random(11))
    async with sim:
        app = EdgeApp(load_edge_site(path, PROFILES),
                      uplink_overrides={"backoff_initial": 0.5, "backoff_cap": 1.0})
        edge = asyncio.create_task(app.run())
        try:
            await wait_until(lambda: app.parking is not None and app.parking.ready.is_set(),
                             what="edge parking ready")
            yield sim, app
        finally:
            await _stop(app, edge)


async def _running(scenario: ParkingScenario) -> asyncio.Task[None]:
    task = asyncio.create_task(scenario.run())
    await asyncio.sleep(0.1)
    return task


async def test_the_board_answers_where_the_site_file_wires_it(
        parking_site: tuple[SiteSimulator, EdgeApp]) -> None:
    sim, _ = parking_site
    board = sim.gates["gate-out"]
    assert (board.unit, board.travel_s) == (10, 2.0)
    assert any("道闸 gate-out：单元 10" in line and "gate gate-out: unit 10" in line
               for line in sim.summary())
    spec = sim.spec.buses[0]
    client = AsyncModbusTcpClient("127.0.0.1", port=spec.port, timeout=1.0, retries=0)
    assert await client.connect()
    try:
        bits = await client.read_discrete_inputs(5, count=3, device_id=10)
        assert bits.bits[:3] == [False, True, False]  # open limit, closed limit, loop
        meter = await client.read_input_registers(0x0000, count=2, device_id=1)
        assert not meter.isError(), "the meter on the same port still answers"
    finally:
        client.close()


async def test_each_kind_of_car_through_the_real_edge(
        parking_site: tuple[SiteSimulator, EdgeApp], capsys: pytest.CaptureFixture[str]
        ) -> None:
    sim, app = parking_site
    scenario = sim.scenario
    assert scenario is not None and scenario.exits and scenario.entries
    scenario.traffic = False
    task = await _running(scenario)
    board = sim.gates["gate-out"]
    try:
        owner = await scenario.car("owner", OWNER)
        assert (owner.entered, owner.left, owner.paid) == (True, True, None), owner.line()
        misread = await scenario.car("ocr", "粤BD10086")  # another owner: see REREAD_S
        assert misread.entry_read != "粤BD10086", misread.line()
        assert misread.entered and misread.left, misread.line()
        temp = await scenario.car("temporary")
        assert temp.entered and temp.left and temp.due == 0, temp.line()
        missed = await scenario.car("missed_entry")
        assert missed.entry_lane is None and missed.due == Decimal("50.00"), missed.line()
        assert missed.paid == Decimal("50.00") and missed.left, missed.line()
        barred = await scenario.car("barred")
        assert barred.plate == BARRED and barred.entered is False and barred.exit_lane is None
        assert board.arm_position == 0.0 and not board.crushes
        assert len(board.presses("open")) == 4 and board.presses("close")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    out = capsys.readouterr().out
    assert out.count("车辆 #") == 5 and "car #" in out
    await wait_until(lambda: sum(k == "gate.closed" for k, _ in _events(app.outbox_path)) >= 4,
                     what="gate closed after each car")
    events = _events(app.outbox_path)
    kinds = [k for k, _ in events]
    assert kinds.count("parking.entry") == 3 and kinds.count("parking.exit") == 4
    (pay,) = [d for k, d in events if k == "payment.recorded"]
    assert (pay["amount"], pay["method"], pay["operator"]) == (
        "50.00", "wechat", "模拟岗亭 simulated booth (guard, sim:booth)")
    refused = [d["plate"] for k, d in events if k == "parking.refused"]
    assert refused == [missed.plate, BARRED], "held for payment, then turned away"


async def test_traffic_runs_by_itself_at_the_set_pace(
        parking_site: tuple[SiteSimulator, EdgeApp]) -> None:
    sim, _ = parking_site
    scenario = sim.scenario
    assert scenario is not None
    scenario.max_cars = 4
    scenario.mix = {"temporary": 1.0, "owner": 1.0}
    task = await _running(scenario)
    try:
        await wait_until(lambda: len(scenario.stories) == 4, within=60, what="4 cars through")
        assert all(s.entered and s.left for s in scenario.stories), [
            s.line() for s in scenario.stories]
        assert not sim.gates["gate-out"].crushes
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_car_held_with_nothing_to_pay_is_let_out_by_the_guard(
        parking_site: tuple[SiteSimulator, EdgeApp]) -> None:
    sim, app = parking_site
    scenario = sim.scenario
    assert scenario is not None and app.parking is not None and app.parking.lanes is not None
    scenario.traffic = False
    # The console's first dataset may come without a tariff: the exit cannot charge.
    app.parking.lanes.use(parse_dataset({"version": 3}, ZoneInfo("Asia/Shanghai")))
    task = await _running(scenario)
    try:
        story = await scenario.car("temporary")
        assert story.held == "no tariff for the lot: call the booth", story.line()
        assert story.left and story.paid is None, story.line()
        assert "岗亭人工放行" in story.line() and "the guard opened by hand" in story.line()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    opened = [d for k, d in _events(app.outbox_path) if k == "gate.opened"]
    assert [(d["cause"], d["by"]) for d in opened][-1] == (
        "manual", "模拟岗亭 simulated booth (guard, sim:booth)")
