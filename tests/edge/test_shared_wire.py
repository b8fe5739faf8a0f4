"""One link per wire: a meter, a gate relay board and an elevator box on ONE bus, all polled at
once by the real edge (``EdgeApp``: meters, parking and safety wired by its composition root).

The simulated site serves the three behind one Modbus TCP port, or on one RTU line (a socat
pty pair), and the simulator side records every request's start and end on that endpoint
(``simulators.modbus.serving.wiretap``). On a real RS-485 line two requests at once garble
each other, so the wire must never see one arrive while another is outstanding, across every
connection to the port. Each device must keep polling at its own rate, and a gate opened in
the middle of it all must still reach the board within its budget.

Timing is real (a few seconds per case); assertions are on overlap, on ordering and on
generous bounds, never on tight latency.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from edge.app import EdgeApp
from edge.config import load_site
from simulators.modbus.serving import WireLog, WireRequest, wiretap
from simulators.site import SafetyOptions, SiteSimulator
from tests.drivers.harness import wait_for
from tests.support import services

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "configs" / "profiles"
ELEVATORS = REPO / "configs" / "elevators"
METER_UNIT, GATE_UNIT, ELEVATOR_UNIT = 1, 2, 3
METER_S = ELEVATOR_S = 0.3    # poll intervals (real seconds)
GATE_S = 0.1                  # the relay board's poll interval (GateSpec's default)
RUN_S = 6.0                   # how long all three poll together, per case
OPEN_BUDGET_S = 3.0           # call → coil on at the board; generous for a loaded 2-core box
_READ_REGS, _READ_BITS, _WRITE_COIL = (3, 4), (1, 2), (5, 15)


def _site(tmp: Path, bus: str) -> Path:
    (tmp / "dataset.yaml").write_text("version: 1\n", encoding="utf-8")
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: wire-test, name: 共线测试}}
cloud: {{mqtt_url: "{services.mqtt_url()}", username: wire-test}}
edge: {{data_dir: "{tmp / 'edge'}", health_host: 127.0.0.1, health_port: {services.free_port()}}}
buses:
  - {bus}
devices:
  - {{id: m1, bus: line, profile: eastron_sdm120, address: {METER_UNIT},
     poll_interval: {METER_S}}}
parking:
  http_host: 127.0.0.1
  http_port: {services.free_port()}
  dataset: dataset.yaml
  lots: [{{id: lot-a, capacity: 10}}]
  cameras: [{{id: cam-in, vendor: vzenith, address: 127.0.0.1}}]
  gates:
    - {{id: g1, via: modbus, bus: line, address: {GATE_UNIT}, open_coil: 0, close_coil: 1,
        open_limit_input: 0, closed_limit_input: 1, loop_input: 2, auto_close: 0}}
  lanes: [{{id: lane-in, lot: lot-a, direction: in, camera: cam-in, gate: g1}}]
elevators:
  - {{id: e1, building: "1", bus: line, address: {ELEVATOR_UNIT},
     profile: generic_gbt24476, poll_interval: {ELEVATOR_S}}}
""", encoding="utf-8")
    return path


@asynccontextmanager
async def _site_running(site_yaml: Path) -> AsyncIterator[tuple[EdgeApp, SiteSimulator,
                                                                 WireLog]]:
    with wiretap() as taps:
        async with SiteSimulator(site_yaml, PROFILES, elevators_dir=ELEVATORS,
                                 parking_traffic=False,
                                 safety=SafetyOptions(elevator_traffic=False)) as sim:
            (wire,) = taps.values()  # the site has one bus: one endpoint
            app = EdgeApp(load_site(site_yaml, PROFILES),
                          uplink_overrides={"backoff_initial": 0.1})
            task = asyncio.create_task(app.run())
            try:
                async with asyncio.timeout(15):
                    await app.started.wait()
                yield app, sim, wire
                assert not task.done(), f"the edge stopped on its own: {task!r}"
            finally:
                app.request_stop()
                async with asyncio.timeout(20):
                    await task


def _poll_starts(wire: WireLog, unit: int, fcs: tuple[int, ...]) -> list[float]:
    """When each poll of ``unit`` began: its requests at the lowest address it reads."""
    reqs = wire.of(unit, fcs)
    first = min(r.address for r in reqs)
    return [r.start for r in reqs if r.address == first]


def _assert_keeps_interval(wire: WireLog, unit: int, fcs: tuple[int, ...], interval: float,
                           since: float, until: float) -> None:
    starts = [t for t in _poll_starts(wire, unit, fcs) if since <= t <= until]
    expected = (until - since) / interval
    assert len(starts) >= 0.5 * expected, (unit, len(starts), expected)
    worst = max(b - a for a, b in itertools.pairwise(starts))
    assert worst <= 4 * interval + 0.5, (unit, worst)


async def _shared_wire_case(tmp: Path, bus: str) -> WireLog:
    async with _site_running(_site(tmp, bus)) as (app, sim, wire):
        assert app.wires is not None and len(app.wires) == 1
        board = sim.gates["g1"]
        # Every device has answered: all three are polling on the one wire.
        await wait_for(lambda: all(wire.of(u) for u in (METER_UNIT, GATE_UNIT, ELEVATOR_UNIT))
                       and app.parking is not None and "g1" in app.parking.modbus_gates,
                       15.0)
        since = time.monotonic()
        await asyncio.sleep(RUN_S / 2)  # a span of polling to measure, not a wait for state
        gate = app.parking.modbus_gates["g1"] if app.parking else None
        assert gate is not None
        asked = time.monotonic()
        await gate.open(cause="remote", by="guard-7", reason="shared-wire test")
        landed = time.monotonic()
        await asyncio.sleep(RUN_S / 2)
        until = time.monotonic()

    # 1. Never two requests outstanding on the wire, whoever asked, over any connection.
    assert wire.overlaps == 0, wire.overlapping()[:5]
    assert wire.overlapping() == []
    assert all(r.end is not None for r in wire.requests)
    if wire.endpoint.startswith("tcp:"):
        assert wire.max_connections == 1, "one converter port, one connection"
    # 2. All three kept polling at their own rates meanwhile.
    _assert_keeps_interval(wire, METER_UNIT, _READ_REGS, METER_S, since, until)
    _assert_keeps_interval(wire, ELEVATOR_UNIT, _READ_REGS, ELEVATOR_S, since, until)
    _assert_keeps_interval(wire, GATE_UNIT, _READ_BITS, GATE_S, since, until)
    # 3. The open reached the board, through the same wire, within its budget.
    assert len(board.presses("open")) == 1
    (coil_on,) = [r for r in wire.of(GATE_UNIT, _WRITE_COIL) if asked <= r.start][:1]
    assert coil_on.start <= landed
    assert landed - asked <= OPEN_BUDGET_S, landed - asked
    # The others were polled before and after the command: it did not stop the wire.
    assert _requests_between(wire.requests, asked - 1.0, asked, {METER_UNIT, ELEVATOR_UNIT})
    assert _requests_between(wire.requests, landed, landed + 1.0, {METER_UNIT, ELEVATOR_UNIT})
    return wire


def _requests_between(reqs: list[WireRequest], a: float, b: float, units: set[int]) -> bool:
    seen = {r.unit for r in reqs if a <= r.start <= b}
    return units <= seen


async def test_meter_gate_and_elevator_share_one_tcp_port_without_overlap(
        tmp_path: Path) -> None:
    port = services.free_port()
    wire = await _shared_wire_case(
        tmp_path, f"{{id: line, type: modbus_tcp, host: 127.0.0.1, port: {port}, "
                  "timeout: 0.5, retries: 1}")
    assert len(wire.requests) > 50


async def test_meter_gate_and_elevator_share_one_rtu_line_without_overlap(
        tmp_path: Path) -> None:
    line = tmp_path / "ttyEDGE"
    wire = await _shared_wire_case(
        tmp_path, f"{{id: line, type: modbus_rtu, port: \"{line}\", baudrate: 9600, "
                  "timeout: 0.5, retries: 1}")
    assert wire.endpoint.startswith("serial:")
    assert len(wire.requests) > 50


@pytest.fixture(autouse=True)
def _need_socat_and_broker() -> None:
    services.mqtt_url()
