"""The parts of a site file the simulators need: buses, devices, addresses and `simulate:`,
of its ``parking`` section the cameras, lanes, Modbus gates, the edge's parking port and the
local dataset file, of its ``fire`` section the edge's fire port and the UITDs that connect to
it, and its ``elevators`` (the monitoring boxes on the Modbus buses).

Read with plain pyyaml and checked only as far as simulating needs; the edge validates the
file for installers (`courtyard edge validate`).
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulators.access.site_readers import SimReader, readers_of
from simulators.patrol.config import PatrolSpec, patrol_of

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SIM_BUS_TYPES = ("modbus_tcp", "modbus_rtu")
CHECKSUMS = ("sum", "sum_from_command", "xor")
#: The centre address a UITD addresses when the site file names none (the edge then answers
#: as whatever address the UITD uses).
DEFAULT_CENTRE_ADDRESS = 88888
_ADDRESS_MAX = 2**48 - 1  # GB/T 26875.3 addresses are 6 bytes


class SiteError(ValueError):
    """The site file cannot be simulated; the message is bilingual (zh-CN / English)."""


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    profile: str
    address: int
    fault: str = "none"
    slow_ms: int = 0
    exception_code: int = 4

    @property
    def seed(self) -> int:
        """Stable per device id, so a restarted simulator shows the same meter totals."""
        return zlib.crc32(self.id.encode("utf-8"))


@dataclass(frozen=True)
class GateSpec:
    """A barrier on a Modbus relay board: which unit, which coils, which inputs."""

    id: str
    bus: str
    address: int
    open_coil: int = 0
    close_coil: int = 1
    stop_coil: int | None = None
    open_limit_input: int | None = None
    closed_limit_input: int | None = None
    loop_input: int | None = None


@dataclass(frozen=True)
class ElevatorSpec:
    """One elevator's monitoring box: which bus, which unit id, which register map."""

    id: str
    bus: str
    address: int
    profile: str
    name: str = ""
    building: str = ""
    main_landing: int = 1


@dataclass(frozen=True)
class BusSpec:
    id: str
    type: str
    host: str = "127.0.0.1"
    port: int = 0                 # TCP port (modbus_tcp)
    path: str = ""                # serial device the edge opens (modbus_rtu)
    baudrate: int = 9600
    devices: list[DeviceSpec] = field(default_factory=list)
    gates: list[GateSpec] = field(default_factory=list)
    elevators: list[ElevatorSpec] = field(default_factory=list)


@dataclass(frozen=True)
class CameraSpec:
    id: str
    vendor: str                   # vzenith | hikvision
    address: str                  # the address the edge accepts its pushes from
    username: str | None = None   # HTTP credentials the camera sends, when the site sets them
    password: str | None = None


@dataclass(frozen=True)
class LaneSpec:
    id: str
    lot: str
    direction: str                # in | out
    camera: str
    gate: str | None = None


@dataclass(frozen=True)
class ParkingSpec:
    http_host: str
    http_port: int
    cameras: list[CameraSpec]
    lanes: list[LaneSpec]
    #: The local dataset file, resolved against the site file (None: the site names none).
    dataset: Path | None = None
    #: The edge's operator listener (booth API) seen from this machine, and what the
    #: simulated booth signs its operator tokens with (the site id and its cloud password,
    #: as the console would).
    operator_url: str = "http://127.0.0.1:9180"
    site: str = ""
    secret: str = ""

    @property
    def base_url(self) -> str:
        """Where the edge serves camera pushes, seen from this machine."""
        host = self.http_host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.http_port}"


@dataclass(frozen=True)
class UitdSpec:
    """A fire panel's user information transmission device, as the edge expects it."""

    id: str
    address: int                  # its own (source) address
    checksum: str = "sum"         # sum | sum_from_command | xor
    building: str = ""
    peers: tuple[str, ...] = ()   # the IPs the edge admits it from ("any": anyone)


@dataclass(frozen=True)
class FireSpec:
    """Where the edge listens for UITDs, and which UITDs the site has."""

    host: str
    port: int
    centre_address: int
    uitds: list[UitdSpec]

    @property
    def connect_host(self) -> str:
        """The edge's fire port seen from this machine (a wildcard listen address: loopback)."""
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host


@dataclass(frozen=True)
class SiteSpec:
    id: str
    timezone: str
    buses: list[BusSpec]
    skipped_buses: list[str]
    parking: ParkingSpec | None = None
    fire: FireSpec | None = None
    elevators: list[ElevatorSpec] = field(default_factory=list)
    #: OSDP readers (``access.readers``): a pty per line, a simulated reader on it.
    readers: list[SimReader] = field(default_factory=list)
    #: The ``patrol`` section: the site broker and the BLE receivers the walkers pass.
    patrol: PatrolSpec | None = None


def expand_env(value: Any, env: dict[str, str] | None = None) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string of a parsed YAML tree."""
    env = dict(os.environ) if env is None else env
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


def _int(raw: Any, what: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise SiteError(f"{what} 应为整数 / must be an integer, got {raw!r}") from None


def load_site(site_yaml: Path, env: dict[str, str] | None = None) -> SiteSpec:
    try:
        raw = yaml.safe_load(site_yaml.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SiteError(f"无法读取站点文件 / cannot read site file {site_yaml}: {exc}") from exc
    if not isinstance(raw, dict):
        raise SiteError(f"站点文件格式错误 / not a site file: {site_yaml}")
    data = expand_env(raw, env)
    site = data.get("site") or {}
    buses: dict[str, BusSpec] = {}
    skipped: list[str] = []
    for b in data.get("buses") or []:
        bid, btype = str(b.get("id", "")), str(b.get("type", ""))
        if btype not in SIM_BUS_TYPES:
            skipped.append(bid)
            continue
        if btype == "modbus_tcp":
            buses[bid] = BusSpec(bid, btype, host=str(b.get("host", "127.0.0.1")),
                                 port=_int(b.get("port"), f"buses.{bid}.port"))
        else:
            if not b.get("port"):
                raise SiteError(f"总线 {bid} 缺少串口路径 / bus {bid} has no serial port path")
            buses[bid] = BusSpec(bid, btype, path=str(b["port"]),
                                 baudrate=_int(b.get("baudrate", 9600), f"buses.{bid}.baudrate"))
    for d in data.get("devices") or []:
        did, bus = str(d.get("id", "")), str(d.get("bus", ""))
        if bus in skipped:
            continue
        if bus not in buses:
            raise SiteError(f"设备 {did} 的总线 {bus!r} 未定义 / device {did}: unknown bus {bus!r}")
        sim = d.get("simulate") or {}
        buses[bus].devices.append(DeviceSpec(
            id=did, profile=str(d.get("profile", "")),
            address=_int(d.get("address"), f"devices.{did}.address"),
            fault=str(sim.get("fault", "none")),
            slow_ms=_int(sim.get("slow_ms", 0), f"devices.{did}.simulate.slow_ms"),
            exception_code=_int(sim.get("exception_code", 4),
                                f"devices.{did}.simulate.exception_code")))
    parking = _parking(data.get("parking"), buses, site_yaml, site=str(site.get("id", "")),
                       cloud=data.get("cloud"), operator=data.get("operator"))
    elevators = _elevators(data.get("elevators"), buses)
    return SiteSpec(id=str(site.get("id", "")), timezone=str(site.get("timezone")
                                                            or "Asia/Shanghai"),
                    buses=list(buses.values()), skipped_buses=skipped, parking=parking,
                    fire=_fire(data.get("fire")), elevators=elevators,
                    readers=readers_of(data), patrol=_patrol(data.get("patrol")))


def _patrol(raw: Any) -> PatrolSpec | None:
    try:
        return patrol_of(raw)
    except ValueError as exc:
        raise SiteError(str(exc)) from exc


def _opt_int(raw: Any, what: str) -> int | None:
    return None if raw is None else _int(raw, what)


def _operator_url(raw: Any) -> str:
    op = raw if isinstance(raw, dict) else {}
    host = str(op.get("host") or "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{host}:{_int(op.get('port', 9180), 'operator.port')}"


def _parking(raw: Any, buses: dict[str, BusSpec], site_yaml: Path, *, site: str = "",
             cloud: Any = None, operator: Any = None) -> ParkingSpec | None:
    """The parking section; Modbus gates are attached to their bus's BusSpec."""
    if not isinstance(raw, dict):
        return None
    for g in raw.get("gates") or []:
        if not isinstance(g, dict) or g.get("via") != "modbus":
            continue
        gid, bus = str(g.get("id", "")), str(g.get("bus", ""))
        if bus not in buses:
            raise SiteError(f"道闸 {gid} 的总线 {bus!r} 未定义或不是 Modbus / gate {gid}: bus "
                            f"{bus!r} is not a Modbus bus of this file")
        w = f"parking.gates.{gid}"
        buses[bus].gates.append(GateSpec(
            id=gid, bus=bus, address=_int(g.get("address", 1), f"{w}.address"),
            open_coil=_int(g.get("open_coil", 0), f"{w}.open_coil"),
            close_coil=_int(g.get("close_coil", 1), f"{w}.close_coil"),
            stop_coil=_opt_int(g.get("stop_coil"), f"{w}.stop_coil"),
            open_limit_input=_opt_int(g.get("open_limit_input"), f"{w}.open_limit_input"),
            closed_limit_input=_opt_int(g.get("closed_limit_input"), f"{w}.closed_limit_input"),
            loop_input=_opt_int(g.get("loop_input"), f"{w}.loop_input")))
    cameras = [CameraSpec(id=str(c.get("id", "")), vendor=str(c.get("vendor", "")),
                          address=str(c.get("address", "")),
                          username=None if c.get("username") is None else str(c["username"]),
                          password=None if c.get("password") is None else str(c["password"]))
               for c in raw.get("cameras") or [] if isinstance(c, dict)]
    lanes = [LaneSpec(id=str(ln.get("id", "")), lot=str(ln.get("lot", "")),
                      direction=str(ln.get("direction", "")), camera=str(ln.get("camera", "")),
                      gate=str(ln["gate"]) if ln.get("gate") else None)
             for ln in raw.get("lanes") or [] if isinstance(ln, dict)]
    dataset = raw.get("dataset")
    path: Path | None = None
    if dataset:
        path = Path(str(dataset)).expanduser()
        if not path.is_absolute():
            path = (site_yaml.resolve().parent / path).resolve()
    return ParkingSpec(http_host=str(raw.get("http_host") or "0.0.0.0"),
                       http_port=_int(raw.get("http_port"), "parking.http_port"),
                       cameras=cameras, lanes=lanes, dataset=path,
                       operator_url=_operator_url(operator), site=site,
                       secret=str((cloud or {}).get("password") or "")
                       if isinstance(cloud, dict) else "")


def _elevators(raw: Any, buses: dict[str, BusSpec]) -> list[ElevatorSpec]:
    """The elevators section; each box is also attached to its bus's BusSpec."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SiteError("elevators 应为列表 / elevators must be a list")
    out: list[ElevatorSpec] = []
    for e in raw:
        if not isinstance(e, dict):
            raise SiteError(f"elevators 的每一项应为映射 / each elevator must be a mapping, "
                            f"got {e!r}")
        eid, bus = str(e.get("id", "")), str(e.get("bus", ""))
        if bus not in buses:
            raise SiteError(f"电梯 {eid} 的总线 {bus!r} 未定义或不是 Modbus / elevator {eid}: bus "
                            f"{bus!r} is not a Modbus bus of this file")
        if not e.get("profile"):
            raise SiteError(f"电梯 {eid} 缺少型号 profile / elevator {eid} has no profile")
        w = f"elevators.{eid}"
        address = _int(e.get("address"), f"{w}.address")
        if not 1 <= address <= 247:
            raise SiteError(f"{w}.address 应在 1–247 之间 / must be within 1..247, got {address}")
        spec = ElevatorSpec(id=eid, bus=bus, address=address, profile=str(e["profile"]),
                            name=str(e.get("name") or ""), building=str(e.get("building") or ""),
                            main_landing=_int(e.get("main_landing", 1), f"{w}.main_landing"))
        buses[bus].elevators.append(spec)
        out.append(spec)
    return out


def _fire(raw: Any) -> FireSpec | None:
    """The fire section: the edge's listening port and the UITDs that connect to it."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SiteError("fire 应为映射 / fire must be a mapping")
    port = _int(raw.get("port"), "fire.port")
    if not 1 <= port <= 65535:
        raise SiteError(f"fire.port 应在 1–65535 之间 / must be within 1..65535, got {port}")
    centre = _address(raw.get("centre_address", DEFAULT_CENTRE_ADDRESS), "fire.centre_address")
    uitds: list[UitdSpec] = []
    seen: set[str] = set()
    for u in raw.get("uitds") or []:
        if not isinstance(u, dict):
            raise SiteError(f"fire.uitds 的每一项应为映射 / each UITD must be a mapping, got {u!r}")
        uid = str(u.get("id", ""))
        if uid in seen:
            raise SiteError(f"传输装置 {uid} 重复 / UITD {uid} is declared twice")
        seen.add(uid)
        w = f"fire.uitds.{uid}"
        checksum = str(u.get("checksum") or "sum")
        if checksum not in CHECKSUMS:
            raise SiteError(f"{w}.checksum 应为 {' | '.join(CHECKSUMS)} 之一 / must be one of "
                            f"{', '.join(CHECKSUMS)}, got {checksum!r}")
        peers = u.get("peers") or []
        if peers == "any":
            peers = ["any"]
        if not isinstance(peers, list):
            raise SiteError(f"{w}.peers 应为 IP 列表 / must be a list of IPs, got {peers!r}")
        uitds.append(UitdSpec(id=uid, address=_address(u.get("address"), f"{w}.address"),
                              checksum=checksum, building=str(u.get("building") or ""),
                              peers=tuple(str(p) for p in peers)))
    return FireSpec(host=str(raw.get("host") or "0.0.0.0"), port=port,
                    centre_address=centre, uitds=uitds)


def _address(raw: Any, what: str) -> int:
    value = _int(raw, what)
    if not 0 <= value <= _ADDRESS_MAX:
        raise SiteError(f"{what} 应为 0–{_ADDRESS_MAX} 的地址（6 字节）/ must be an address "
                        f"within 0..{_ADDRESS_MAX} (6 bytes), got {value}")
    return value
