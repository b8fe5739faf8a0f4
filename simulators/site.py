# Over 500 lines on purpose: one command for every device family of a site file, a section each.
"""`courtyard sim site`: simulate every device a site file declares, where it declares it.

A Modbus TCP bus becomes a server on its host:port; a Modbus RTU bus becomes a socat pty pair
whose one end is the path the site file names (the edge opens it) and whose other end the
simulator serves. So the edge runs unchanged against the simulated site.

Parking: each barrier on a Modbus relay board becomes a ``BarrierSimulator`` answering under
the gate's unit id on its bus (next to any meters on the same converter port), with the coils
and inputs the site file wires; the arm takes about 2 s to travel. The declared cameras are
driven by ``simulators.parking_scenario`` (cars in, a stay, cars out, paying at the booth),
unless ``--no-parking-traffic``.

Safety: each elevator becomes an ``ElevatorBox`` (its profile from ``configs/elevators``)
under its unit id on its bus, the car making light random trips; a bus of elevators only is
served by the elevator simulator, a mixed bus answers every unit on one endpoint. Each UITD of
the ``fire`` section connects to the edge's fire port and keeps reconnecting while the edge is
down (a UITD is the TCP client, the edge the centre); it sends heartbeats and plays a fire
scenario only when asked (``--fire-scenario``). ``--trap`` traps a passenger in a car.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import structlog
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

import configs
from simulators.access.site_readers import SiteReaders
from simulators.elevator import ElevatorBox, ElevatorBusContext, ElevatorSimulator, SimCar
from simulators.elevator.layout import load_layout
from simulators.fire import SCENARIOS, Sent, Step, VirtualUitd
from simulators.fire.uitd import OUTCOME_ZH
from simulators.gate.barrier import BarrierSimulator
from simulators.modbus.meter import SimMeter
from simulators.modbus.server import MeterBusContext, MeterBusSimulator
from simulators.modbus.serving import reply_unit, serve
from simulators.parking_scenario import Pace, ParkingScenario
from simulators.patrol.engine import PatrolEngine
from simulators.patrol.run import PatrolOptions, build_engine, run_patrol
from simulators.patrol.site_cli import add_patrol_arguments, patrol_options
from simulators.pty import PtyError, pty_pair
from simulators.siteconfig import (
    BusSpec,
    ElevatorSpec,
    FireSpec,
    GateSpec,
    SiteError,
    SiteSpec,
    UitdSpec,
    load_site,
)

log = logging.getLogger(__name__)
_slog = structlog.get_logger("courtyard.simulators.site")


def default_profiles_dir(site_yaml: Path) -> Path:
    """configs/profiles next to the site file's configs/sites, else ./configs/profiles, else
    the shipped ones (as the edge looks: an installed package has no ./configs)."""
    beside = site_yaml.resolve().parent.parent / "profiles"
    return beside if beside.is_dir() else _here_or_shipped("profiles")


def default_elevators_dir(site_yaml: Path, profiles_dir: Path | None = None) -> Path:
    """Elevator profiles: ``elevators`` beside the meter profile folder (where the edge looks),
    else configs/elevators next to the site file's configs/sites, else ./configs/elevators,
    else the shipped ones."""
    if profiles_dir is not None and (profiles_dir.parent / "elevators").is_dir():
        return profiles_dir.parent / "elevators"
    beside = site_yaml.resolve().parent.parent / "elevators"
    return beside if beside.is_dir() else _here_or_shipped("elevators")


def _here_or_shipped(folder: str) -> Path:
    here = Path("configs") / folder
    return here if here.is_dir() else configs.path(folder)


GATE_TRAVEL_S = 2.0
#: A folder the simulators keep state in across runs (simulated readers' keys).
SIM_STATE_ENV = "COURTYARD_SIM_STATE"
#: Light traffic: an idle car waits this long before its next trip (well under the edge's
#: 30 s "doors shut with people inside" trap rule, so traffic alone never looks like a trap).
ELEVATOR_IDLE_S = 10.0
TRAP_AFTER_S = 20.0
UITD_HEARTBEAT_S = 25.0        # vendors send one every 20–30 s (docs/protocols.md §2)
UITD_RECONNECT_S = 2.0
UITD_CONNECT_TIMEOUT_S = 5.0
_WRITE_COILS = (5, 15)
_READ_BITS = (1, 2)


def barrier_for(gate: GateSpec, where: tuple[str, int] | str,
                travel_s: float = GATE_TRAVEL_S) -> BarrierSimulator:
    """The relay board + arm of one Modbus gate, wired as the site file says. Inputs the file
    leaves out (the edge does not read them) go to spare channels of the board."""
    coils = [c for c in (gate.open_coil, gate.close_coil, gate.stop_coil) if c is not None]
    wired = {"open": gate.open_limit_input, "closed": gate.closed_limit_input,
             "loop": gate.loop_input}
    spare = (ch for ch in range(64) if ch not in wired.values())
    inputs = {role: ch if ch is not None else next(spare) for role, ch in wired.items()}
    channels = max(8, 1 + max([*coils, *inputs.values()]))
    return BarrierSimulator(
        tcp=where if isinstance(where, tuple) else None,
        serial_port=where if isinstance(where, str) else None, unit=gate.address,
        channels=channels, travel_s=travel_s, open_coil=gate.open_coil,
        close_coil=gate.close_coil, stop_coil=gate.stop_coil,
        open_limit_input=inputs["open"], closed_limit_input=inputs["closed"],
        loop_input=inputs["loop"])


class _SharedBusContext(ModbusServerContext):
    """Meters, relay boards and elevator boxes behind one converter port or RS-485 line, each
    answering under its own unit id (meters and boxes through their simulators' own datastore
    hooks, so their fault modes behave exactly as on a bus of their own). The base initialiser
    is skipped on purpose, as in simulators.modbus.server."""

    def __init__(self, meters: MeterBusSimulator, boards: dict[int, BarrierSimulator],
                 boxes: dict[int, ElevatorBox] | None = None) -> None:
        self._meters = MeterBusContext(meters.meters)
        self._boards = boards
        self._boxes = boxes or {}
        self._lifts = ElevatorBusContext(self._boxes)
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return [*self._meters.device_ids(), *self._boards, *self._boxes]

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        if device_id in self._boxes:
            return await self._lifts.async_getValues(device_id, func_code, address, count)
        board = self._boards.get(device_id)
        if board is None:
            return await self._meters.async_getValues(device_id, func_code, address, count)
        if func_code in _WRITE_COILS:  # pymodbus reads back what a write stored, to echo it
            return list(board.coils[address:address + count])
        board.wire.requests += 1
        if func_code not in _READ_BITS:
            return ExcCodes.ILLEGAL_FUNCTION
        return board.read_bits(func_code, address, count)

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        if device_id in self._boxes:
            return await self._lifts.async_setValues(device_id, func_code, address, values)
        board = self._boards.get(device_id)
        if board is None:
            return await self._meters.async_setValues(device_id, func_code, address, values)
        board.wire.requests += 1
        if func_code not in _WRITE_COILS:
            return ExcCodes.ILLEGAL_FUNCTION
        return board.write_coils(address, [bool(v) for v in values])


class _SharedBus:
    """Serves a bus that mixes device kinds (meters, relay boards, elevator boxes) on one
    endpoint. ``lifts`` is an elevator simulator that is never started: it holds the boxes
    and garbles their replies when a box is told to, as on a bus of its own."""

    def __init__(self, meters: MeterBusSimulator, boards: dict[int, BarrierSimulator],
                 lifts: ElevatorSimulator | None = None) -> None:
        self.meters = meters
        self.boards = boards
        self.lifts = lifts
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """Garbage replies of faulty meters or boxes, each as on its own bus."""
        rtu = self.meters.serial_port is not None
        if self.lifts is not None and reply_unit(data, rtu) in self.lifts.boxes:
            return self.lifts.trace_packet(sending, data)
        return self.meters._trace_packet(sending, data)

    async def start(self) -> None:
        context = _SharedBusContext(self.meters, self.boards,
                                    self.lifts.boxes if self.lifts is not None else None)
        self._server = await serve(context, tcp=self.meters.tcp,
                                   serial_port=self.meters.serial_port,
                                   baudrate=self.meters.baudrate, trace_packet=self._trace)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()


@dataclass(frozen=True)
class SafetyOptions:
    """What the simulated fire panels and elevators do besides answering.

    ``fire_scenario``: a name of ``simulators.fire.SCENARIOS`` each UITD plays once connected
    (None: heartbeats only); ``traps``: elevator ids whose car traps a passenger between floors
    ``trap_after`` seconds after the simulator starts; ``elevator_traffic``: cars make light
    random trips.
    """

    fire_scenario: str | None = None
    traps: tuple[str, ...] = ()
    trap_after: float = TRAP_AFTER_S
    elevator_traffic: bool = True
    uitd_heartbeat_s: float = UITD_HEARTBEAT_S
    uitd_reconnect_s: float = UITD_RECONNECT_S

    def __post_init__(self) -> None:
        if self.fire_scenario is not None and self.fire_scenario not in SCENARIOS:
            raise ValueError(f"未知消防场景 / unknown fire scenario {self.fire_scenario!r} "
                             f"(known: {', '.join(sorted(SCENARIOS))})")
        if self.trap_after < 0 or self.uitd_heartbeat_s <= 0 or self.uitd_reconnect_s <= 0:
            raise ValueError("trap_after ≥ 0, uitd_heartbeat_s > 0, uitd_reconnect_s > 0")


class SiteSimulator:
    """Async context manager running all simulated buses of one site file.

    ``scenario`` is the parking scenario when the site has parking (not running: ``run_site``
    runs it); ``gates`` the barrier simulators by gate id; ``elevators`` the elevator boxes by
    elevator id. While the context is open each UITD of the fire section keeps itself
    connected to the edge (``uitds``: its current connection, by UITD id) and the traps
    of ``safety`` go off.
    """

    def __init__(self, site_yaml: Path, profiles_dir: Path | None = None, *,
                 speedup: float = 1.0, clock: Callable[[], float] = time.time,
                 parking_traffic: bool = True, pace: Pace | None = None,
                 rng: random.Random | None = None, safety: SafetyOptions | None = None,
                 elevators_dir: Path | None = None, state_dir: Path | None = None,
                 patrol: PatrolOptions | None = None) -> None:
        self.site_yaml = Path(site_yaml)
        #: Where simulated readers keep the key the edge gave them (none: for this run only).
        env_state = os.environ.get(SIM_STATE_ENV)
        self.state_dir = state_dir or (Path(env_state) if env_state else None)
        self.readers: SiteReaders | None = None
        self.profiles_dir = profiles_dir or default_profiles_dir(self.site_yaml)
        self.elevators_dir = elevators_dir or default_elevators_dir(self.site_yaml,
                                                                    profiles_dir)
        self.speedup = speedup
        self.clock = clock
        self.spec: SiteSpec = load_site(self.site_yaml)
        self.safety = safety or SafetyOptions()
        self._check_safety()
        #: Guards walking past the ``patrol`` receivers (default: every receiver, on a loop).
        self.patrol_options = patrol or PatrolOptions(loop=True)
        self.patrol: PatrolEngine | None = None
        if self.spec.patrol is not None:
            try:
                self.patrol = build_engine(self.spec.patrol, self.patrol_options,
                                           say=lambda line: print(line, flush=True))
            except ValueError as exc:
                raise SiteError(f"巡更模拟 / patrol: {exc}") from exc
        self.buses: dict[str, MeterBusSimulator] = {}
        self.elevator_buses: dict[str, ElevatorSimulator] = {}
        self.gates: dict[str, BarrierSimulator] = {}
        self.elevators: dict[str, ElevatorBox] = {}
        self.uitds: dict[str, VirtualUitd] = {}
        self.parking_traffic = parking_traffic
        self.pace = pace
        self.rng = rng
        self.scenario: ParkingScenario | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stack = contextlib.AsyncExitStack()
        self._log = _slog.bind(site=self.spec.id)

    def _check_safety(self) -> None:
        known = {e.id for e in self.spec.elevators}
        for eid in self.safety.traps:
            if eid not in known:
                raise SiteError(f"站点文件中没有电梯 {eid} / no elevator {eid} in the site file "
                                f"(elevators: {', '.join(sorted(known)) or 'none'})")
        if self.safety.fire_scenario is not None and (self.spec.fire is None
                                                      or not self.spec.fire.uitds):
            raise SiteError("站点文件没有声明消防传输装置（fire.uitds），无法播放消防场景 / "
                            "the site file declares no UITD (fire.uitds): no fire scenario "
                            "to play")

    def _meters(self, bus: BusSpec) -> list[SimMeter]:
        meters = []
        for dev in bus.devices:
            path = self.profiles_dir / f"{dev.profile}.yaml"
            if not path.is_file():
                raise SiteError(f"设备 {dev.id} 的型号文件不存在 / device {dev.id}: "
                                f"profile file {path} not found")
            try:
                meters.append(SimMeter(dev.address, path, fault=dev.fault, slow_ms=dev.slow_ms,
                                       exception_code=dev.exception_code, seed=dev.seed,
                                       clock=self.clock, speedup=self.speedup,
                                       timezone=self.spec.timezone))
            except (ValueError, KeyError) as exc:
                raise SiteError(f"设备 {dev.id} 无法模拟 / device {dev.id}: {exc}") from exc
        return meters

    def _box(self, elev: ElevatorSpec) -> ElevatorBox:
        """The monitoring box of one elevator; its car makes light random trips."""
        path = self.elevators_dir / f"{elev.profile}.yaml"
        if not path.is_file():
            raise SiteError(f"电梯 {elev.id} 的型号文件不存在 / elevator {elev.id}: "
                            f"profile file {path} not found")
        seed = zlib.crc32(elev.id.encode("utf-8"))  # the same trips after a restart
        try:
            car = SimCar(traffic=self.safety.elevator_traffic, idle_s=ELEVATOR_IDLE_S,
                         rng=random.Random(seed))
            return ElevatorBox(elev.address, load_layout(path), car,
                               main_landing=elev.main_landing)
        except ValueError as exc:
            raise SiteError(f"电梯 {elev.id} 无法模拟 / elevator {elev.id}: {exc}") from exc

    @staticmethod
    def _check_units(bus: BusSpec) -> None:
        seen: dict[int, str] = {}
        named = ([(d.address, f"meter:{d.id}") for d in bus.devices]
                 + [(g.address, f"gate:{g.id}") for g in bus.gates]
                 + [(e.address, f"elevator:{e.id}") for e in bus.elevators])
        for unit, who in named:
            if unit in seen:
                raise SiteError(f"单元号 {unit} 在总线 {bus.id} 上重复（{seen[unit]}、{who}）/ "
                                f"unit {unit} repeats on bus {bus.id} ({seen[unit]}, {who})")
            seen[unit] = who

    async def _start_bus(self, bus: BusSpec, workdir: Path) -> None:
        self._check_units(bus)
        meters = self._meters(bus)
        boxes = {e.address: self._box(e) for e in bus.elevators}
        for e in bus.elevators:
            self.elevators[e.id] = boxes[e.address]
        where: tuple[str, int] | str
        if bus.type == "modbus_tcp":
            where = (bus.host, bus.port)
        else:
            sim_end = workdir / f"{bus.id}-sim"
            await self._stack.enter_async_context(pty_pair(bus.path, sim_end))
            where = str(sim_end)
        tcp = where if isinstance(where, tuple) else None
        serial = where if isinstance(where, str) else None
        lifts = (ElevatorSimulator(list(boxes.values()), tcp=tcp, serial_port=serial,
                                   baudrate=bus.baudrate) if boxes else None)
        if lifts is not None and not meters and not bus.gates:
            await lifts.start()  # a bus of elevator boxes only
            self._stack.push_async_callback(lifts.stop)
            self.elevator_buses[bus.id] = lifts
            return
        sim = MeterBusSimulator(meters, tcp=tcp, serial_port=serial, baudrate=bus.baudrate)
        self.buses[bus.id] = sim
        if not bus.gates and lifts is None:
            await sim.start()
            self._stack.push_async_callback(sim.stop)
            return
        boards: dict[int, BarrierSimulator] = {}
        for gate in bus.gates:
            try:
                boards[gate.address] = self.gates[gate.id] = barrier_for(gate, where)
            except ValueError as exc:
                raise SiteError(f"道闸 {gate.id} 无法模拟 / gate {gate.id}: {exc}") from exc
        shared = _SharedBus(sim, boards, lifts)
        await shared.start()
        self._stack.push_async_callback(shared.stop)

    async def __aenter__(self) -> SiteSimulator:
        try:
            workdir = Path(self._stack.enter_context(
                tempfile.TemporaryDirectory(prefix="courtyard-sim-")))
            for bus in self.spec.buses:
                try:
                    await self._start_bus(bus, workdir)
                except (OSError, RuntimeError) as exc:
                    raise SiteError(f"总线 {bus.id} 无法启动 / bus {bus.id} failed to start: "
                                    f"{exc}") from exc
            if self.spec.readers:
                keys = self.state_dir / "osdp-keys" if self.state_dir else None
                self.readers = await self._stack.enter_async_context(
                    SiteReaders(self.spec.readers, workdir, keys))
            if self.spec.parking is not None:
                self.scenario = ParkingScenario(self.spec.parking, self.gates,
                                                pace=self.pace, traffic=self.parking_traffic,
                                                rng=self.rng)
            self._start_safety()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    # -- fire panels and traps, running while the context is open ----------------------------

    def _start_safety(self) -> None:
        """One task per UITD and per trap; stopped first when the context closes."""
        self._stack.push_async_callback(self._stop_safety)
        fire = self.spec.fire
        if fire is not None:
            for u in fire.uitds:
                self._tasks.append(asyncio.create_task(self._keep_uitd(fire, u),
                                                       name=f"sim-uitd-{u.id}"))
        for eid in self.safety.traps:
            self._tasks.append(asyncio.create_task(self._trap_later(eid),
                                                   name=f"sim-trap-{eid}"))
        if self.patrol is not None and self.spec.patrol is not None:
            self._tasks.append(asyncio.create_task(run_patrol(
                self.spec.patrol, self.patrol_options, engine=self.patrol, site=self.spec.id,
                say=lambda line: print(line, flush=True)), name="sim-patrol"))

    async def _stop_safety(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for t in tasks:
            if not t.cancelled() and t.exception() is not None:
                self._log.error("模拟任务失败 / simulator task failed", task=t.get_name(),
                                error=repr(t.exception()))

    async def _keep_uitd(self, fire: FireSpec, u: UitdSpec) -> None:
        """Keep one UITD connected to the edge's fire port: the UITD is the TCP client, so it
        retries every ``uitd_reconnect_s`` while the edge is not up, and after a lost link."""
        opts = self.safety
        host, port = fire.connect_host, fire.port
        log = self._log.bind(device=u.id, centre=f"{host}:{port}")
        todo = opts.fire_scenario
        waiting = False
        while True:
            uitd = VirtualUitd(host, port, source_address=u.address,
                               centre_address=fire.centre_address, checksum=u.checksum,
                               heartbeat_s=opts.uitd_heartbeat_s, tz=self.spec.timezone,
                               connect_timeout=UITD_CONNECT_TIMEOUT_S)
            try:
                await uitd.connect()
            except (OSError, TimeoutError) as exc:
                if not waiting:
                    waiting = True
                    print(f"消防传输装置 {u.id}：边缘消防端口 {host}:{port} 尚未就绪，每 "
                          f"{opts.uitd_reconnect_s:g} 秒重试 / UITD {u.id}: the edge's fire port "
                          f"{host}:{port} is not up yet, retrying every "
                          f"{opts.uitd_reconnect_s:g} s", flush=True)
                log.debug("连接失败 / cannot connect", error=repr(exc))
                await asyncio.sleep(opts.uitd_reconnect_s)
                continue
            waiting = False
            self.uitds[u.id] = uitd
            print(f"消防传输装置 {u.id}（地址 {u.address}）已连接边缘 {host}:{port} / UITD {u.id} "
                  f"(address {u.address}) connected to the edge at {host}:{port}", flush=True)
            try:
                if todo is not None and await self._play(u, uitd, todo):
                    todo = None
                await uitd.wait_lost()
                print(f"消防传输装置 {u.id}：与边缘的连接断开，将重连 / UITD {u.id}: the link to "
                      "the edge was lost, reconnecting", flush=True)
            finally:
                await uitd.close()
            await asyncio.sleep(opts.uitd_reconnect_s)

    @staticmethod
    async def _play(u: UitdSpec, uitd: VirtualUitd, name: str) -> bool:
        """Play a fire scenario; False when the link dropped before its end (played again
        after reconnecting)."""
        steps = SCENARIOS[name]

        def progress(i: int, step: Step, sent: Sent) -> None:
            print(f"消防传输装置 {u.id} [{i + 1}/{len(steps)}] {step.say} → "
                  f"{OUTCOME_ZH[sent.outcome]} / {sent.outcome}", flush=True)

        try:
            await uitd.run_scenario(name, progress=progress)
        except (ConnectionError, OSError, TimeoutError) as exc:
            print(f"消防传输装置 {u.id}：场景 {name} 中断，重连后重放 / UITD {u.id}: scenario "
                  f"{name} interrupted ({exc}), played again after reconnecting", flush=True)
            return False
        return True

    async def _trap_later(self, eid: str) -> None:
        await asyncio.sleep(self.safety.trap_after)
        await self.elevators[eid].trap(at_landing=False)
        print(f"电梯 {eid}：乘客被困在两层之间 / elevator {eid}: a passenger is trapped between "
              "floors", flush=True)

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._stack.aclose()

    def summary(self) -> list[str]:
        """One bilingual line per bus: where it listens and which unit ids it answers."""
        lines = []
        for spec in self.spec.buses:
            if spec.id not in self.buses and spec.id not in self.elevator_buses:
                continue
            where = (f"Modbus TCP {spec.host}:{spec.port}" if spec.type == "modbus_tcp"
                     else f"Modbus RTU {spec.path}")
            units = ", ".join(
                [f"{d.address}={d.profile}" + ("" if d.fault == "none" else f"({d.fault})")
                 for d in spec.devices] + [f"{g.address}=gate:{g.id}" for g in spec.gates]
                + [f"{e.address}=elevator:{e.id}" for e in spec.elevators])
            n = len(spec.devices) + len(spec.gates) + len(spec.elevators)
            lines.append(f"总线 {spec.id}：{where}，模拟 {n} 台设备 [{units}] / "
                         f"bus {spec.id}: {where}, simulating {n} devices")
            for g in spec.gates:
                lines.append(
                    f"道闸 {g.id}：单元 {g.address}，开闸线圈 {g.open_coil}，落闸线圈 "
                    f"{g.close_coil}，起落约 {GATE_TRAVEL_S:g} 秒 / gate {g.id}: unit "
                    f"{g.address}, open coil {g.open_coil}, close coil {g.close_coil}, arm "
                    f"travel ~{GATE_TRAVEL_S:g} s")
            for e in spec.elevators:
                lines.append(self._elevator_line(e))
        for bid in self.spec.skipped_buses:
            lines.append(f"总线 {bid}：非 Modbus，未模拟 / bus {bid}: not Modbus, not simulated")
        lines.extend(self._fire_lines())
        if self.readers is not None:
            lines.extend(self.readers.summary())
        if self.scenario is not None:
            lines.extend(self.scenario.summary())
        if self.patrol is not None and self.spec.patrol is not None:
            lines.extend(self.patrol.summary())
            broker = self.spec.patrol.broker
            lines.append(f"巡更接收器发布到站点 broker {broker} / patrol receivers publish to "
                         f"the site broker {broker}")
        return lines

    def _elevator_line(self, e: ElevatorSpec) -> str:
        name = f"（{e.name}）" if e.name else ""
        moving = ("轻度随机运行", "light random traffic") if self.safety.elevator_traffic \
            else ("静止", "standing still")
        line = (f"电梯 {e.id}{name}：总线 {e.bus} 单元 {e.address}，型号 {e.profile}，首层 "
                f"{e.main_landing}，{moving[0]} / elevator {e.id}: bus {e.bus} unit {e.address}, "
                f"profile {e.profile}, main landing {e.main_landing}, {moving[1]}")
        if e.id in self.safety.traps:
            after = self.safety.trap_after
            line += (f"；{after:g} 秒后困人 / passenger trapped after {after:g} s")
        return line

    def _fire_lines(self) -> list[str]:
        fire = self.spec.fire
        if fire is None:
            return []
        host, port = fire.connect_host, fire.port
        name = self.safety.fire_scenario
        plays = (f"连接后播放场景 {name}", f"plays scenario {name} once connected") if name \
            else ("不模拟火警", "no fire played")
        beat = self.safety.uitd_heartbeat_s
        lines = []
        for u in fire.uitds:
            lines.append(
                f"消防传输装置 {u.id}：地址 {u.address} → 边缘 {host}:{port}（中心地址 "
                f"{fire.centre_address}，校验 {u.checksum}），心跳 {beat:g} 秒，{plays[0]} / "
                f"UITD {u.id}: address {u.address} → edge {host}:{port} (centre "
                f"{fire.centre_address}, checksum {u.checksum}), heartbeat every {beat:g} s, "
                f"{plays[1]}")
            if host.startswith("127.") and not ({"127.0.0.1", "any"} & set(u.peers)):
                lines.append(f"注意：{u.id} 的 peers 不含 127.0.0.1，边缘会拒绝本机的模拟连接 / "
                             f"note: the peers of {u.id} leave out 127.0.0.1, so the edge refuses "
                             "this simulated UITD")
        if not fire.uitds:
            lines.append(f"消防：边缘端口 {host}:{port}，未声明传输装置 / fire: edge port "
                         f"{host}:{port}, no UITD declared")
        return lines


async def run_site(site_yaml: Path, profiles_dir: Path | None = None, speedup: float = 1.0,
                   *, ready: asyncio.Event | None = None, parking_traffic: bool = True,
                   pace: Pace | None = None, safety: SafetyOptions | None = None,
                   patrol: PatrolOptions | None = None) -> None:
    """Serve the site's simulated devices until cancelled (``ready`` is set once serving)."""
    async with SiteSimulator(site_yaml, profiles_dir, speedup=speedup,
                             parking_traffic=parking_traffic, pace=pace,
                             safety=safety, patrol=patrol) as sim:
        for line in sim.summary():
            print(line, flush=True)
        if speedup != 1.0:
            print(f"模拟时间倍速 {speedup:g} / simulated time runs {speedup:g}× faster",
                  flush=True)
        if ready is not None:
            ready.set()
        if sim.scenario is not None:
            await sim.scenario.run()  # until cancelled
        await asyncio.Event().wait()


async def _serve_until_signal(site: Path, profiles: Path | None, speedup: float,
                              parking_traffic: bool = True, pace: Pace | None = None,
                              safety: SafetyOptions | None = None,
                              patrol: PatrolOptions | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(run_site(site, profiles, speedup,
                                             parking_traffic=parking_traffic, pace=pace,
                                             safety=safety, patrol=patrol))
            stopper = tg.create_task(stop.wait())
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            runner.cancel()
            stopper.cancel()
    except ExceptionGroup as eg:
        known, rest = eg.split((SiteError, PtyError))
        if rest is not None:
            raise rest from None
        for exc in known.exceptions if known is not None else ():
            print(f"错误 / error: {exc}", flush=True)
        return 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("模拟器已停止 / simulators stopped", flush=True)
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="courtyard sim site",
                                description="模拟站点文件中的全部设备 / simulate a site's devices")
    p.add_argument("site", type=Path)
    p.add_argument("--profiles", type=Path, default=None,
                   help="设备型号目录 / device profile folder")
    p.add_argument("--speedup", type=float, default=1.0,
                   help="模拟时间倍速 / simulated time runs this many times faster")
    p.add_argument("--no-parking-traffic", action="store_true",
                   help="不模拟进出车辆（道闸和摄像机心跳照常）/ no cars (gates and camera "
                        "heartbeats still simulated)")
    p.add_argument("--parking-interval", type=float, default=Pace.interval, metavar="SECONDS",
                   help="平均每隔多少秒来一辆车 / mean seconds between arriving cars")
    p.add_argument("--parking-stay", type=float, default=Pace.stay, metavar="SECONDS",
                   help="车辆平均停留秒数（真实时间）/ mean seconds a car stays (real time)")
    p.add_argument("--fire-scenario", choices=sorted(SCENARIOS), default=None,
                   help="传输装置连接后播放的消防场景（默认只发心跳）/ fire scenario each UITD "
                        "plays once connected (default: heartbeats only)")
    p.add_argument("--trap", action="append", default=[], metavar="ELEVATOR_ID",
                   help="该电梯在 --trap-after 秒后困人（可重复）/ this elevator traps a "
                        "passenger after --trap-after seconds (repeatable)")
    p.add_argument("--trap-after", type=float, default=TRAP_AFTER_S, metavar="SECONDS",
                   help=f"困人前的秒数（默认 {TRAP_AFTER_S:g}）/ seconds before the trap "
                        f"(default {TRAP_AFTER_S:g})")
    p.add_argument("--no-elevator-traffic", action="store_true",
                   help="电梯停在原处不运行 / elevator cars stay where they are")
    add_patrol_arguments(p)
    args = p.parse_args(argv)
    if args.speedup <= 0:
        print("错误 / error: --speedup 必须大于 0 / must be > 0")
        return 2
    try:
        pace = Pace(interval=args.parking_interval, stay=args.parking_stay)
    except ValueError:
        print("错误 / error: --parking-interval 必须大于 0，--parking-stay 不能为负 / "
              "--parking-interval must be > 0 and --parking-stay ≥ 0")
        return 2
    if args.trap_after < 0:
        print("错误 / error: --trap-after 不能为负 / --trap-after must be ≥ 0")
        return 2
    safety = SafetyOptions(fire_scenario=args.fire_scenario, traps=tuple(args.trap),
                           trap_after=args.trap_after,
                           elevator_traffic=not args.no_elevator_traffic)
    patrol = patrol_options(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.WARNING)
    logging.getLogger("simulators.gate.barrier").setLevel(logging.WARNING)
    logging.getLogger("simulators.elevator").setLevel(logging.WARNING)  # every arrival
    try:
        with _problems_only_in_structlog():
            return asyncio.run(_serve_until_signal(args.site, args.profiles, args.speedup,
                                                   not args.no_parking_traffic, pace, safety,
                                                   patrol))
    except SiteError as exc:
        print(f"错误 / error: {exc}")
        return 2


@contextlib.contextmanager
def _problems_only_in_structlog() -> Iterator[None]:
    """The UITDs log through structlog: warnings and errors only, on stderr (the summary and
    the connect lines are printed). The previous configuration comes back afterwards, so
    calling ``main`` leaves the process as it was (tests call it in-process)."""
    before = structlog.get_config() if structlog.is_configured() else None
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False)
    try:
        yield
    finally:
        if before is None:
            structlog.reset_defaults()
        else:
            structlog.configure(**before)
