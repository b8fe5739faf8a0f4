"""Fire panels, elevators and fire linkage at the edge, as one part of the edge process.

Why one part: linkage must see every fire event the moment it is durable, and it acts on the
gates (parking), the elevators and the doors. Wrapping the outbox's ``emit`` here (store first,
then ``Linkage.notice``) keeps that ordering in one place: an alarm that linkage acted on is
always in the outbox, whether or not the cloud is reachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from contract import Clock, NewEvent
from drivers.access.cursors import FileCursors
from drivers.access.uhppote import UhppoteDriver
from drivers.base import DriverStats, Emit
from drivers.elevator.driver import ElevatorDriver
from drivers.elevator.model import ElevatorConfig, ElevatorProfile
from drivers.fire.server import FireServer
from edge.access.egress import DoorRouter, LinkageHold, ReaderEgress
from edge.access.schedule_wiring import ReaderModes, linkage_holds
from edge.access.scheduler import STATE_FILE as SCHEDULE_FILE
from edge.access.scheduler import DoorScheduler, ModeDriver
from edge.config.model import SiteConfig
from edge.linkage.doors import DoorControl, DoorDriver, EgressDoors, NoDoors
from edge.linkage.engine import Linkage
from edge.linkage.http import linkage_routes, reset_routes
from edge.linkage.model import default_rules
from edge.supervisor import Supervisor
from edge.wires import Wires

log = structlog.get_logger("edge.safety")

LINKAGE_STATE_FILE = "linkage.json"
#: The last event index read from each door controller (catch-up after a restart).
DOOR_CURSORS_FILE = "uhppote-cursors.json"


class _LiveGates(Mapping[str, Any]):
    """The parking gates as they are now (parking builds them when it starts)."""

    def __init__(self, source: Callable[[], Mapping[str, Any]]) -> None:
        self._source = source

    def __getitem__(self, key: str) -> Any:
        return self._source()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source())

    def __len__(self) -> int:
        return len(self._source())


class SafetyService:
    """Builds the fire receiver, one supervised driver per elevator and the linkage engine."""

    def __init__(self, config: SiteConfig, emit: Emit, clock: Clock, *,
                 gates: Callable[[], Mapping[str, Any]] | None = None,
                 supervisor_backoff: tuple[float, float] = (1.0, 60.0),
                 wires: Wires | None = None,
                 reader_doors: ReaderEgress | None = None) -> None:
        self.config = config
        self._store = emit
        self._clock = clock
        self._log = log.bind(site=config.site.id)
        self.stats = DriverStats()
        # Elevator boxes talk through the site's one link per wire (edge/wires.py), shared
        # with the meters and relay boards on the same line; alone, safety builds its own.
        self._owns_wires = wires is None
        self.wires = wires if wires is not None else Wires(config.buses, clock,
                                                           site=config.site.id)
        self.elevators: dict[str, ElevatorDriver] = {}
        for e in config.elevators:
            self.elevators[e.id] = self._elevator(e, config.elevator_profiles[e.profile],
                                                  DriverStats())
        # Door controllers (微耕/UHPPOTE): their events, and the egress doors fire opens.
        self.access: UhppoteDriver | None = None
        #: The controllers' doors fire linkage holds open (the console may not lock them).
        self.access_hold: LinkageHold | None = None
        doors: DoorControl = NoDoors()
        egress: list[Any] = []  # controller doors and OSDP reader doors alike
        owners: dict[str, DoorDriver] = {}
        if config.access is not None:
            self.access = UhppoteDriver(
                config.access, self.emit, clock, ZoneInfo(config.site.timezone),
                FileCursors(Path(config.edge.data_dir) / DOOR_CURSORS_FILE),
                log=self._log.bind(part="access"))
            egress += config.access.doors
            self.access_hold = LinkageHold(self.access)
            owners.update(dict.fromkeys((d.id for d in config.access.doors), self.access_hold))
        if reader_doors is not None:
            egress += reader_doors.doors
            owners.update(dict.fromkeys((d.id for d in reader_doors.doors), reader_doors))
        egress_doors: EgressDoors | None = None
        if egress:
            doors = egress_doors = EgressDoors(egress, DoorRouter(owners))
        self.linkage: Linkage | None = None
        rules = config.linkage_rules
        if rules is None and config.fire is not None:
            rules = tuple(default_rules())
        if rules:
            self.linkage = Linkage(
                rules, gates=_LiveGates(gates or dict), elevators=self.elevators,
                doors=doors, emit=emit, clock=clock, site=config.site.id,
                state_file=Path(config.edge.data_dir) / LINKAGE_STATE_FILE)
        # Normally-open windows and first-card unlock (edge/access/scheduler.py).
        self.schedule: DoorScheduler | None = None
        self.door_held: Callable[[str], bool] = lambda _door: False
        if config.door_schedules is not None and egress_doors is not None:
            self._schedule(config, egress_doors, egress, reader_doors)
        self.fire: FireServer | None = None
        if config.fire is not None:
            self.fire = FireServer(config.fire, self.emit, clock,
                                   ZoneInfo(config.site.timezone), config.site.id, self.stats)
        initial, cap = supervisor_backoff
        self._supervisor = Supervisor(clock, initial_backoff=initial, max_backoff=cap,
                                      site=config.site.id)
        for eid, driver in self.elevators.items():
            self._supervisor.add(f"elevator:{eid}", self._elevator_factory(eid, driver))
        if self.access is not None:
            self._supervisor.add("access", self.access.run)

    @property
    def enabled(self) -> bool:
        return (self.fire is not None or bool(self.elevators) or self.linkage is not None
                or self.access is not None or self.schedule is not None)

    def _schedule(self, config: SiteConfig, egress_doors: EgressDoors, doors: list[Any],
                  reader_doors: ReaderEgress | None) -> None:
        assert config.door_schedules is not None
        modes: dict[str, ModeDriver] = {}
        if self.access is not None:
            modes.update(dict.fromkeys((d.id for d in self.access.config.doors), self.access))
        if reader_doors is not None:
            readers = ReaderModes(reader_doors)
            modes.update(dict.fromkeys((d.id for d in reader_doors.doors), readers))
        linkage = self.linkage
        self.door_held = linkage_holds(egress_doors, linkage, doors)
        self.schedule = DoorScheduler(
            config.door_schedules, modes, self._store, self._clock,
            state_file=Path(config.edge.data_dir) / SCHEDULE_FILE, held=self.door_held,
            ready=(lambda: bool(linkage.status()["running"])) if linkage is not None else None)
        egress_doors.settle = self.schedule.settle
        hold, schedule = self.access_hold, self.schedule

        def released(door: str) -> None:  # a reset may leave a door open for its schedule
            if hold is not None:
                hold.held.discard(door)
            if reader_doors is not None:
                reader_doors.linkage_held.discard(door)
            schedule.poke()
        egress_doors.released = released

    async def emit(self, event: NewEvent) -> None:
        """Durable first, then linkage: what linkage acts on is always on record."""
        await self._store(event)
        if self.linkage is not None:
            self.linkage.notice(event)
        if self.schedule is not None:  # a first card opens its door
            self.schedule.notice(event)

    def _elevator(self, config: ElevatorConfig, profile: ElevatorProfile,
                  stats: DriverStats) -> ElevatorDriver:
        dlog = self._log.bind(device=config.id)
        return ElevatorDriver(config, profile, self.emit, self._clock, stats, dlog,
                              link=self.wires.link(config.bus, stats, dlog))

    def _elevator_factory(self, eid: str, first: ElevatorDriver) -> Callable[[], Any]:
        drivers = iter([first])

        async def run_driver() -> None:
            driver = next(drivers, None)
            if driver is None:  # a restart: a fresh driver on the same shared wire
                old = self.elevators[eid]
                driver = self._elevator(old.config, old.profile, old.stats)
                self.elevators[eid] = driver
            await driver.run()
        return run_driver

    def routes(self) -> list[web.RouteDef]:
        """``GET /linkage`` (read only) for the health port."""
        return linkage_routes(self.linkage) if self.linkage is not None else []

    def operator_routes(self) -> list[web.RouteDef]:
        """``POST /linkage/reset`` for the operators' listener; refused while a panel still
        reports fire."""
        if self.linkage is None:
            return []
        fire = self.fire
        return reset_routes(self.linkage, fire.active_fires if fire is not None else None)

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fire is not None:
            out["fire"] = self.fire.status()
        if self.elevators:
            out["elevators"] = {eid: _elevator_status(d) for eid, d in self.elevators.items()}
        if self.linkage is not None:
            out["linkage"] = self.linkage.status()
        if self.access is not None:
            out["access"] = self.access.status()
        if self.schedule is not None:
            out["door_schedules"] = self.schedule.status()
        return out

    async def run(self) -> None:
        """Until cancelled: the fire receiver, the elevators and linkage."""
        try:
            async with asyncio.TaskGroup() as tg:
                if self.linkage is not None:
                    tg.create_task(self.linkage.run(), name="linkage")
                if self.fire is not None:
                    tg.create_task(self.fire.run(), name="fire")
                if self.elevators or self.access is not None:
                    tg.create_task(self._supervisor.run(), name="elevators")
                if self.schedule is not None:
                    tg.create_task(self.schedule.run(), name="door-schedule")
                self._log.info("安防联动已启动 / safety ready",
                               fire_port=self.config.fire.port if self.config.fire else None,
                               elevators=sorted(self.elevators),
                               linkage=self.linkage is not None)
                await asyncio.Event().wait()
        finally:
            if self._owns_wires:
                await self.wires.close()


def _elevator_status(driver: ElevatorDriver) -> dict[str, Any]:
    s = driver.state
    return {"online": driver.online, "building": driver.config.building,
            "state": s.as_dict() if hasattr(s, "as_dict") else repr(s)}
