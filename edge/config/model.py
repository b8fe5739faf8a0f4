"""The validated site configuration the edge runs from (built by edge.config.loader)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    #: What validated but deserves a look (``peers: any``), FILE:LINE:COL like problems.
    warnings: tuple[Problem, ...] = ()
