"""The validated site configuration the edge runs from (built by edge.config.loader)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from drivers.access.uhppote_model import AccessConfig
from drivers.elevator.model import ElevatorConfig, ElevatorProfile
from drivers.fire.model import FireConfig
from drivers.modbus.model import Bus, MeterDevice
from edge.access.door_schedule import DoorSchedules
from edge.access.reader_config import ReadersConfig
from edge.linkage.model import LinkageRule
from yamlcheck.problems import Problem


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: str
    name: str
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class CloudLink:
    mqtt_url: str
    username: str
    password: str = field(repr=False, default="")
    #: The console's base URL (``http(s)://host[:port]``, no trailing slash) the edge pulls
    #: datasets from after a ``down/sync``; None: the edge only uses what it has.
    http_url: str | None = None
    #: A private CA (PEM) for ``mqtts://`` and ``https://`` to the cloud; None: the system's.
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    data_dir: Path
    outbox_budget_mb: float = 256.0
    health_host: str = "127.0.0.1"
    health_port: int = 9100
    replay_rate: float = 2000.0


@dataclass(frozen=True, slots=True)
class LotConfig:
    id: str
    capacity: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    """The operators' listener (booth open/pay, lane states, linkage reset): a staff token
    on every request, JSON bodies only, loopback unless the site file says otherwise."""

    host: str = "127.0.0.1"
    port: int = 9180


@dataclass(frozen=True, slots=True)
class CameraConfig:
    id: str
    vendor: str  # vzenith | hikvision
    address: str
    #: More source addresses or networks allowed to push for this camera.
    allow: tuple[str, ...] = ()
    #: HTTP credentials the camera sends (Basic or Digest); None: it sends none.
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class GateConfig:
    """A barrier: opened by its camera's relay (no feedback) or by a Modbus relay board."""

    id: str
    via: str  # camera_relay | modbus
    camera: str | None = None
    relay_io: int = 0
    bus: str | None = None
    address: int = 1
    open_coil: int = 0
    close_coil: int = 1
    stop_coil: int | None = None
    open_limit_input: int | None = None
    closed_limit_input: int | None = None
    loop_input: int | None = None
    pulse_ms: int = 500
    confirm_timeout: float = 6.0
    auto_close: float = 3.0


@dataclass(frozen=True, slots=True)
class LaneConfig:
    id: str
    lot: str
    direction: str  # in | out
    camera: str
    gate: str | None = None
    match: str = "ocr"
    temporary: bool = True
    #: Minutes after an exit opens during which a read of the same plate only re-opens.
    reread_minutes: float = 5.0


@dataclass(frozen=True, slots=True)
class ParkingConfig:
    http_port: int
    lots: tuple[LotConfig, ...]
    cameras: tuple[CameraConfig, ...]
    gates: tuple[GateConfig, ...]
    lanes: tuple[LaneConfig, ...]
    http_host: str = "0.0.0.0"
    #: A local dataset file (JSON or YAML) used until the cloud pushes one.
    dataset: Path | None = None
    #: Seconds a lane may take to answer a camera before it answers "keep shut, call the
    #: guard"; keep it below the cameras' own HTTP timeout (a few seconds on common models).
    decide_timeout: float = 1.0


ReceiverKind = Literal["openmqttgateway", "espresense", "adapter"]


@dataclass(frozen=True, slots=True)
class PatrolReceiver:
    """A BLE receiver at a checkpoint (docs/patrol.md); ``id`` is what checkpoints name."""

    id: str
    kind: ReceiverKind
    #: OMG: the gateway name (<gw> in the topic); ESPresense: the room; adapter: "hci0".
    source: str
    rssi_at_1m: int = -59
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True, slots=True)
class PatrolConfig:
    """The site file's ``patrol:`` section: receivers, the site-local broker remote receivers
    publish to, and the presence settings (defaults as docs/patrol.md "Presence")."""

    receivers: tuple[PatrolReceiver, ...] = ()
    #: ``mqtt://host:port`` of the site-local broker; None when every receiver is an adapter.
    broker: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    dwell_s: float = 5.0
    enter_db: float = 12.0
    hysteresis_db: float = 6.0
    leave_after_s: float = 10.0
    max_speed_mps: float = 4.0
    range_m: float = 5.0
    battery_low_mv: int = 2500
    tag_seen_every_s: float = 60.0
    #: Seconds between dataset pulls besides start and ``down/sync`` notices.
    pull_every_s: float = 300.0

    @property
    def remote(self) -> tuple[PatrolReceiver, ...]:
        return tuple(r for r in self.receivers if r.kind != "adapter")

    @property
    def adapters(self) -> tuple[PatrolReceiver, ...]:
        return tuple(r for r in self.receivers if r.kind == "adapter")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    path: Path
    site: SiteInfo
    cloud: CloudLink
    edge: EdgeSettings
    buses: tuple[Bus, ...]
    devices: tuple[MeterDevice, ...]
    parking: ParkingConfig | None = None
    fire: FireConfig | None = None
    elevators: tuple[ElevatorConfig, ...] = ()
    #: None: the default rules (a fire alarm anywhere → everything) when there is a fire panel.
    linkage_rules: tuple[LinkageRule, ...] | None = None
    #: The elevator profiles the site uses, by id (checked when the site was loaded).
    elevator_profiles: Mapping[str, ElevatorProfile] = field(default_factory=dict)
    operator: OperatorSettings = field(default_factory=OperatorSettings)
    #: Door controllers (微耕/UHPPOTE) and their doors; None when the site has none.
    access: AccessConfig | None = None
    #: OSDP readers the edge polls (``access.readers``); None when the site has none.
    readers: ReadersConfig | None = None
    #: Normally-open windows and first-card unlock per door; None when no door has one.
    door_schedules: DoorSchedules | None = None
    #: Patrol (巡更) receivers and presence settings; None when the site has no ``patrol:``.
    patrol: PatrolConfig | None = None
    #: What validated but deserves a look (``peers: any``), FILE:LINE:COL like problems.
    warnings: tuple[Problem, ...] = ()
