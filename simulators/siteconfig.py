"""The parts of a site file the simulators need: buses, devices, addresses and `simulate:`.

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

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SIM_BUS_TYPES = ("modbus_tcp", "modbus_rtu")


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
class BusSpec:
    id: str
    type: str
    host: str = "127.0.0.1"
    port: int = 0                 # TCP port (modbus_tcp)
    path: str = ""                # serial device the edge opens (modbus_rtu)
    baudrate: int = 9600
    devices: list[DeviceSpec] = field(default_factory=list)


@dataclass(frozen=True)
class SiteSpec:
    id: str
    timezone: str
    buses: list[BusSpec]
    skipped_buses: list[str]


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
    return SiteSpec(id=str(site.get("id", "")), timezone=str(site.get("timezone")
                                                            or "Asia/Shanghai"),
                    buses=list(buses.values()), skipped_buses=skipped)
