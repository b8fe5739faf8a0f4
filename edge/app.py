"""The edge process: outbox, one driver per bus, uplink and health server under one TaskGroup.

Shutdown order matters for "never lose an event": drivers stop first (flushing what they
hold into the outbox), then the uplink says ``offline`` and disconnects, then the outbox
commits whatever callers still wait on and closes. SIGINT and SIGTERM both take that path.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog

from contract import Clock, NewEvent, SystemClock
from contract.health import DeviceCount, ReceiverCount
from drivers.base import DriverStats, Emit
from drivers.modbus import ModbusBusDriver
from drivers.modbus.model import Bus, MeterDevice
from edge.access.booth_wiring import Booth, open_booth
from edge.access.dataset_wiring import access_sync, fan_out
from edge.access.reader_service import ReaderService
from edge.access.schedule_wiring import guard_doors
from edge.access.sync import AccessSync
from edge.access_doors import command_doors
from edge.commands import COMMANDS_FILE, CommandRunner, DoorRegistry, handlers
from edge.commands.wiring import command_targets
from edge.config.model import SiteConfig
from edge.health import BusView, HealthServer
from edge.health_report import (
    DEFAULT_INTERVAL_S,
    DeviceCounts,
    HealthReporter,
    family_counts,
    heard_receivers,
)
from edge.operator import OperatorServer
from edge.outbox import AsyncOutbox
from edge.parking.http import parking_routes
from edge.parking.service import ParkingService
from edge.patrol.service import PatrolService
from edge.safety import SafetyService
from edge.supervisor import Supervisor
from edge.uplink import Uplink, UplinkSettings
from edge.wires import Wires, bus_phases

log = structlog.get_logger("edge.app")

OUTBOX_FILE = "outbox.db"


class _LiveExtras(Mapping[str, Any]):
    """``/healthz`` additions read when asked (the health server copies them per request), so
    an operator sees the parking dataset version and the last sync error as they are now."""

    def __init__(self, parts: dict[str, Callable[[], Any]]) -> None:
        self._parts = parts

    def __getitem__(self, key: str) -> Any:
        return self._parts[key]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)


class _BusSlot:
    """The current driver of one bus: the supervisor builds a fresh one on every restart."""

    def __init__(self) -> None:
        self.driver: ModbusBusDriver | None = None

    def online(self) -> dict[str, bool]:
        return self.driver.online() if self.driver is not None else {}


class EdgeApp:
    def __init__(self, config: SiteConfig, clock: Clock | None = None, *,
                 uplink_overrides: dict[str, Any] | None = None,
                 supervisor_backoff: tuple[float, float] = (1.0, 60.0),
                 reader_options: dict[str, Any] | None = None,
                 health_interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.config = config
        self._health_interval_s = health_interval_s
        #: Publishes ``up/health`` every ``health_interval_s`` while the uplink is connected.
        self.reporter: HealthReporter | None = None
        #: OsdpBus timings (offline_after_s, retry_s …), for tests.
        self._reader_options = reader_options or {}
        self.readers: ReaderService | None = None
        self.clock: Clock = clock or SystemClock()
        self._uplink_overrides = uplink_overrides or {}
        self._backoff = supervisor_backoff
        self._stop = asyncio.Event()
        self._log = log.bind(site=config.site.id)
        self.outbox: AsyncOutbox | None = None
        self.uplink: Uplink | None = None
        self.health: HealthServer | None = None
        self.operator: OperatorServer | None = None
        self.supervisor: Supervisor | None = None
        self.started = asyncio.Event()
        self.parking: ParkingService | None = None
        self.safety: SafetyService | None = None
        self.wires: Wires | None = None
        #: Doors the access drivers register for door.open / door.mode commands.
        self.doors = DoorRegistry()
        self.commands: CommandRunner | None = None
        #: Pulls the access dataset for the readers and controllers (None: neither here).
        self.access_sync: AccessSync | None = None
        #: The booth's visitor-pass check (``POST /access/pass``); None without doors.
        self.booth: Booth | None = None
        #: Patrol (巡更): receivers → presence → rounds; None when the site has no ``patrol:``.
        self.patrol: PatrolService | None = None

    @property
    def outbox_path(self) -> Path:
        return Path(self.config.edge.data_dir) / OUTBOX_FILE

    def request_stop(self) -> None:
        """Begin a clean shutdown (what SIGINT/SIGTERM do)."""
        self._stop.set()

    async def run(self) -> None:
        cfg = self.config
        budget = int(cfg.edge.outbox_budget_mb * 1024 * 1024)
        # Opening creates data_dir (on the outbox thread: no blocking I/O on the loop).
        outbox = await AsyncOutbox.open(self.outbox_path, budget_bytes=budget, clock=self.clock,
                                        source=f"edge-{cfg.site.id}")
        # One link per physical bus, handed to every driver on it (meters, relay boards,
        # elevator boxes): the wire carries one request at a time whoever asks.
        wires = self.wires = Wires(cfg.buses, self.clock, site=cfg.site.id)
        async with outbox:
            self.outbox = outbox
            if cfg.parking is not None:  # before the uplink: it takes the dataset notices
                self.parking = ParkingService(cfg, outbox.emit, self.clock, wires=wires)
            self.uplink = Uplink(UplinkSettings.from_site(cfg, **self._uplink_overrides),
                                 outbox, self.clock,
                                 on_sync=self.parking.on_sync if self.parking else None)
            views = self._build_buses(outbox, wires)
            parking = self.parking
            readers = self.readers = await self._start_readers(outbox)
            safety = SafetyService(cfg, outbox.emit, self.clock, gates=self._parking_gates,
                                   supervisor_backoff=self._backoff, wires=wires,
                                   reader_doors=readers.egress if readers else None)
            self.safety = safety if safety.enabled else None
            if safety.access is not None:  # 微耕/UHPPOTE doors answer door.open / door.mode
                held = safety.access_hold.held if safety.access_hold else frozenset[str]()
                for key, door in command_doors(safety.access, held).items():
                    self.doors.register(key, door)
            if safety.schedule is not None:  # a guard's door.mode outranks the schedule
                guard_doors(self.doors, safety.schedule, safety.door_held)
            self.access_sync = access_sync(cfg, readers, safety.access)
            if self.access_sync is not None:  # before the uplink runs: the notice is retained
                self.uplink.on_sync = fan_out(self.uplink.on_sync, self.access_sync.notify)
            if cfg.patrol is not None:  # opened before the commands: patrol.scan needs it
                self.patrol = await PatrolService.open(cfg, outbox.emit, self.clock,
                                                       supervisor_backoff=self._backoff)
                self.uplink.on_sync = fan_out(self.uplink.on_sync, self.patrol.sync.notify)
            # Remote commands act on what is built above; recorded in their own file.
            commands = self.commands = await CommandRunner.open(
                Path(cfg.edge.data_dir) / COMMANDS_FILE, handlers(command_targets(self)),
                self.clock, site=cfg.site.id)
            self.uplink.commands = commands
            parts: dict[str, Callable[[], Any]] = {}
            if parking is not None:
                parts["parking"] = parking.status
            if self.safety is not None:
                parts["safety"] = self.safety.status
            if readers is not None:
                parts["readers"] = readers.status
            if self.access_sync is not None:
                parts["access_dataset"] = self.access_sync.status
            if self.patrol is not None:
                parts["patrol"] = self.patrol.status
            self.health = HealthServer(cfg.site.id, outbox, self.uplink, views,
                                       len(cfg.devices), host=cfg.edge.health_host,
                                       port=cfg.edge.health_port, clock=self.clock,
                                       extra=_LiveExtras(parts) if parts else None,
                                       routes=self.safety.routes() if self.safety else ())
            self.reporter = HealthReporter(
                cfg.site.id, outbox, self.clock, interval_s=self._health_interval_s,
                devices=self._device_counts(views), receivers=self._patrol_receivers,
                call_timeout=self.uplink.s.call_timeout)
            self.uplink.session_jobs["uplink-health"] = self.reporter.run
            self.booth = await open_booth(cfg.site.id, cfg.cloud.password,
                                          Path(cfg.edge.data_dir), readers, safety.access,
                                          self.access_sync, outbox.emit, self.clock)
            self.operator = self._operator_server()
            with self._signals():
                self._announce()
                try:
                    await self._run_all()
                finally:
                    await commands.aclose()
                    await wires.close()  # every driver has stopped by now
                    if readers is not None:  # anti-passback moves written before exit
                        await readers.aclose()
                    if self.booth is not None:
                        await self.booth.aclose()
                    if self.patrol is not None:
                        await self.patrol.aclose()
        self._log.info("边缘网关已停止 / edge stopped")

    async def _start_readers(self, outbox: AsyncOutbox) -> ReaderService | None:
        """OSDP readers (``access.readers``): one supervised job per line, their doors open
        to door.open / door.mode; None when the site lists none."""
        cfg = self.config
        if cfg.readers is None:
            return None
        readers = await ReaderService.open(cfg.readers, cfg.edge.data_dir,
                                           self._reader_emit(outbox), self.clock,
                                           cfg.site.timezone, site=cfg.site.id,
                                           site_secret=cfg.cloud.password,
                                           **self._reader_options)
        assert self.supervisor is not None
        for name, job in readers.jobs().items():
            self.supervisor.add(name, job)
        for key, door in readers.command_doors.items():
            self.doors.register(key, door)
        return readers

    def _reader_emit(self, outbox: AsyncOutbox) -> Emit:
        """The readers' events, stored, then seen by the door schedules (a first card)."""
        async def emit(event: NewEvent) -> None:
            await outbox.emit(event)
            schedule = self.safety.schedule if self.safety is not None else None
            if schedule is not None:
                schedule.notice(event)
        return emit

    def _operator_server(self) -> OperatorServer | None:
        """The booth and guard-room routes behind a staff token (edge/operator.py); None
        when the site has neither parking, linkage nor doors."""
        cfg = self.config
        routes = []
        if self.parking is not None:
            parking = self.parking
            routes += parking_routes(lambda: parking.lanes)
        if self.safety is not None:
            routes += self.safety.operator_routes()
        if self.booth is not None:  # a visitor pass scanned at the booth opens its door
            routes += self.booth.routes()
        if not routes:
            return None
        if not cfg.cloud.password:
            self._log.warning("站点没有 cloud.password：无法校验操作令牌，值班操作将全部被拒绝 / "
                              "the site has no cloud.password: operator tokens cannot be "
                              "checked and every operator request will be refused")
        return OperatorServer(cfg.site.id, cfg.cloud.password, self.clock, routes,
                              host=cfg.operator.host, port=cfg.operator.port)

    def _device_counts(self, views: Mapping[str, BusView]) -> DeviceCounts:
        """Devices online per family for the health report, read from the parts as they are."""
        def counts() -> dict[str, DeviceCount]:
            readers, safety, parking = self.readers, self.safety, self.parking
            return family_counts(
                meters=[v.driver.online() for v in views.values() if v.driver is not None],
                meters_total=len(self.config.devices),
                access=([] if readers is None else
                        [readers.buses[r.line].is_online(r.id) for r in readers.config.readers]),
                elevators=[] if safety is None else [e.online for e in safety.elevators.values()],
                gates=[] if parking is None else [g.online for g in parking.modbus_gates.values()])
        return counts

    def _patrol_receivers(self) -> ReceiverCount | None:
        return None if self.patrol is None else heard_receivers(self.patrol.status()["receivers"])

    def _parking_gates(self) -> Mapping[str, Any]:
        return self.parking.gates if self.parking is not None else {}

    def _build_buses(self, outbox: AsyncOutbox, wires: Wires) -> dict[str, BusView]:
        cfg = self.config
        initial, cap = self._backoff
        sup = Supervisor(self.clock, initial_backoff=initial, max_backoff=cap, site=cfg.site.id)
        views: dict[str, BusView] = {}
        metered = [bus for bus in cfg.buses if any(d.bus == bus.id for d in cfg.devices)]
        # Buses start at evenly spread phases, as meters do within a bus.
        phases = bus_phases(bus.id for bus in metered)
        for bus in metered:  # a bus of relay boards or elevator boxes only has no meters
            devices = [d for d in cfg.devices if d.bus == bus.id]
            stats = DriverStats()
            slot = _BusSlot()
            sup.add(f"bus:{bus.id}", self._driver_factory(bus, devices, stats, slot, outbox,
                                                          wires, phases[bus.id]))
            views[bus.id] = BusView(stats=stats, driver=slot)
        self.supervisor = sup
        return views

    def _driver_factory(self, bus: Bus, devices: list[MeterDevice], stats: DriverStats,
                        slot: _BusSlot, outbox: AsyncOutbox, wires: Wires,
                        phase: float) -> Any:
        async def run_driver() -> None:
            blog = self._log.bind(bus=bus.id)
            slot.driver = ModbusBusDriver(bus, devices, outbox.emit, self.clock, stats,
                                          log=blog, link=wires.link(bus, stats, blog),
                                          phase=phase)
            await slot.driver.run()
        return run_driver

    async def _run_all(self) -> None:
        assert self.supervisor and self.uplink and self.health
        async with asyncio.TaskGroup() as tg:
            drivers = tg.create_task(self.supervisor.run(), name="drivers")
            uplink = tg.create_task(self.uplink.run(), name="uplink")
            health = tg.create_task(self.health.serve(), name="health")
            listeners = [health]
            if self.operator is not None:
                listeners.append(tg.create_task(self.operator.serve(), name="operator"))
            producers = [drivers]
            if self.parking is not None:
                producers.append(tg.create_task(self.parking.run(), name="parking"))
            if self.safety is not None:
                producers.append(tg.create_task(self.safety.run(), name="safety"))
            if self.access_sync is not None:
                producers.append(tg.create_task(self.access_sync.run(), name="access-sync"))
            if self.patrol is not None:
                producers.append(tg.create_task(self.patrol.run(), name="patrol"))
            self.started.set()
            await self._stop.wait()
            self._log.info("正在停止 / stopping")
            for task in (*producers, uplink, *listeners):  # in this order: producers first
                task.cancel()
                await asyncio.wait([task])

    def _announce(self) -> None:
        cfg = self.config
        assert self.health is not None
        buses = ", ".join(f"{b.id}({b.type})" for b in cfg.buses) or "-"
        self._log.info(
            f"边缘网关启动：小区 {cfg.site.name}（{cfg.site.id}），总线 {len(cfg.buses)} 条，"
            f"设备 {len(cfg.devices)} 台，健康检查 {self.health.url}/healthz / edge starting",
            buses=buses, devices=len(cfg.devices), health=f"{self.health.url}/healthz",
            operator=self.operator.url if self.operator else None,
            outbox=str(self.outbox_path), cloud=cfg.cloud.mqtt_url)
        for warning in cfg.warnings:
            self._log.warning(str(warning))

    @contextlib.contextmanager
    def _signals(self) -> Any:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no support
                pass
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
