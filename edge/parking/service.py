"""Parking at the edge as one supervised part: camera endpoint, booth API, lanes, gates.

Built from the site file's ``parking`` section. The cameras push to their own HTTP port
(admitted by address and, where configured, credentials); the booth API is served on the
operators' listener (edge/operator.py); the Modbus gates each poll their relay board.
Everything here decides from local state, so it works the same with the cloud unreachable.
When the site file names the console (``cloud.http_url``) a ``DatasetSync`` keeps the lanes
on the newest dataset the console serves (edge/parking/sync.py); without it the lanes use the
cached or local dataset only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from contract import Clock
from drivers.base import DriverStats, Emit
from drivers.gate.controller import CameraRelayGate
from drivers.gate.modbus_relay import ModbusRelayGate
from drivers.gate.model import CameraRelayGateSpec, ModbusGateSpec
from drivers.lpr.httpauth import HttpCredential
from drivers.lpr.model import CameraSpec
from drivers.lpr.server import LprConfig, LprEndpoint
from edge.config.model import GateConfig, SiteConfig
from edge.parking.dataset_store import DatasetStore
from edge.parking.decide import Direction, LaneRules, LotInfo
from edge.parking.lanes import Gate, LaneSetup, ParkingLanes
from edge.parking.sessions import SessionStore
from edge.parking.sync import DatasetSync
from edge.wires import Wires
from parkingrules.plates import Strictness

log = structlog.get_logger("edge.parking")

SESSIONS_FILE = "parking.db"


class ParkingService:
    def __init__(self, config: SiteConfig, emit: Emit, clock: Clock, *,
                 wires: Wires | None = None) -> None:
        if config.parking is None:
            raise ValueError("the site has no parking section")
        self.config = config
        self.parking = config.parking
        self._emit = emit
        self._clock = clock
        self.tz = ZoneInfo(config.site.timezone)
        self.stats = DriverStats()
        self.lanes: ParkingLanes | None = None
        self.endpoint: LprEndpoint | None = None
        self.modbus_gates: dict[str, ModbusRelayGate] = {}
        self.ready = asyncio.Event()
        self.url = ""
        self._log = log.bind(site=config.site.id)
        # The relay boards talk through the site's one link per wire (edge/wires.py), shared
        # with the meters and elevator boxes on the same line; alone, parking builds its own.
        self._owns_wires = wires is None
        self.wires = wires if wires is not None else Wires(config.buses, clock,
                                                           site=config.site.id)
        self.store = DatasetStore(Path(config.edge.data_dir), self.parking.dataset, self.tz)
        cloud = config.cloud
        self.sync: DatasetSync | None = None
        if cloud.http_url:
            self.sync = DatasetSync(config.site.id, cloud.http_url, cloud.username,
                                    cloud.password, self.store, stats=self.stats,
                                    ca_file=str(cloud.ca_file) if cloud.ca_file else None)
        # Built now, not when run() starts: fire linkage may raise them from the first second.
        self.gates: dict[str, Gate] = self._gates()

    def on_sync(self, dataset: str, version: int) -> None:
        """The uplink's ``down/sync`` callback (runs on the MQTT receive loop: never blocks)."""
        if self.sync is not None:
            self.sync.notify(dataset, version)
            return
        self.stats.inc("dataset_sync_unconfigured")
        self._log.warning("收到数据集更新通知，但站点文件没有 cloud.http_url，无法拉取 / dataset "
                          "update announced, but the site file sets no cloud.http_url to pull "
                          "it from", dataset=dataset, version=version)

    def _lane_of_gate(self, gate_id: str) -> str | None:
        return next((lane.id for lane in self.parking.lanes if lane.gate == gate_id), None)

    def _gates(self) -> dict[str, Gate]:
        gates: dict[str, Gate] = {}
        for g in self.parking.gates:
            if g.via == "camera_relay":
                assert g.camera is not None
                gates[g.id] = CameraRelayGate(
                    CameraRelayGateSpec(id=g.id, camera=g.camera, relay_io=g.relay_io,
                                        lane=self._lane_of_gate(g.id), pulse_ms=g.pulse_ms),
                    self._emit, self._clock, self.stats, self._log)
            else:
                bus = self.wires.bus(g.bus or "")
                link = self.wires.link(bus, self.stats, self._log.bind(gate=g.id))
                mg = ModbusRelayGate(self._modbus_spec(g), bus, self._emit, self._clock,
                                     self.stats, self._log, link=link)
                self.modbus_gates[g.id] = mg
                gates[g.id] = mg
        return gates

    def _modbus_spec(self, g: GateConfig) -> ModbusGateSpec:
        return ModbusGateSpec(
            id=g.id, bus=g.bus or "", address=g.address, lane=self._lane_of_gate(g.id),
            open_coil=g.open_coil, close_coil=g.close_coil, stop_coil=g.stop_coil,
            pulse_ms=g.pulse_ms, open_limit_input=g.open_limit_input,
            closed_limit_input=g.closed_limit_input, loop_input=g.loop_input,
            confirm_timeout=g.confirm_timeout, auto_close=g.auto_close or None)

    def _cameras(self) -> dict[str, CameraSpec]:
        relay = {g.camera: g.relay_io for g in self.parking.gates
                 if g.via == "camera_relay" and g.camera}
        return {c.id: CameraSpec(vendor=c.vendor,  # type: ignore[arg-type]
                                 addresses=(c.address, *c.allow), relay_io=relay.get(c.id),
                                 heartbeat_s=5.0 if c.vendor == "vzenith" else None)
                for c in self.parking.cameras}

    def _credentials(self) -> dict[str, HttpCredential]:
        return {c.id: HttpCredential(c.username, c.password or "")
                for c in self.parking.cameras if c.username is not None}

    async def run(self) -> None:
        """Serve until cancelled."""
        p = self.parking
        data_dir = Path(self.config.edge.data_dir)
        store = await SessionStore(data_dir / SESSIONS_FILE).open()
        try:
            data = await self.store.load()
            gates = self.gates
            setups = [LaneSetup(
                LaneRules(id=ln.id, lot=ln.lot, direction=Direction(ln.direction),
                          strictness=Strictness(ln.match), temporary=ln.temporary),
                camera=ln.camera, gate=ln.gate,
                camera_relay=any(g.id == ln.gate and g.via == "camera_relay" for g in p.gates),
                reread_window=timedelta(minutes=ln.reread_minutes))
                for ln in p.lanes]
            lots = {lot.id: LotInfo(lot.id, lot.name, lot.capacity) for lot in p.lots}
            self.lanes = ParkingLanes(setups, lots, data, store, gates, self._emit, self._clock,
                                      self.tz, self.config.site.id, self.stats)
            # The lanes' own events (entry, exit, refusal, gate) are durable before any reply.
            self.endpoint = LprEndpoint(self._cameras(), self.lanes.decide, self._emit,
                                        self._clock, self.stats, log=self._log,
                                        config=LprConfig(read_durable_before_decide=False,
                                                          decide_timeout_s=p.decide_timeout),
                                        credentials=self._credentials())
            app = self.endpoint.app()
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, p.http_host, p.http_port)
                await site.start()
                self.url = f"http://{p.http_host}:{p.http_port}"
                self._log.info("停车服务已启动 / parking ready", url=self.url,
                               lanes=len(setups), dataset=data.version)
                self.ready.set()
                async with asyncio.TaskGroup() as tg:
                    for gid, gate in self.modbus_gates.items():
                        tg.create_task(gate.run(), name=f"gate:{gid}")
                    if self.sync is not None:
                        tg.create_task(self.sync.run(self.lanes), name="dataset-sync")
                    tg.create_task(asyncio.Event().wait(), name="parking-idle")
            finally:
                await runner.cleanup()
        finally:
            await store.close()
            if self._owns_wires:
                await self.wires.close()

    def status(self) -> dict[str, Any]:
        lanes = self.lanes
        sync = self.sync
        return {"ready": self.ready.is_set(),
                "dataset_version": lanes.chain.data.version if lanes else None,
                "dataset_sync": None if sync is None else {
                    "url": sync.url, "wanted": sync.wanted_version,
                    "last": str(sync.last_outcome) if sync.last_outcome else None,
                    "error": str(sync.last_failure) if sync.last_failure else None},
                "counters": dict(self.stats.counters)}
