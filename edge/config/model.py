"""The validated site configuration the edge runs from (built by edge.config.loader)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drivers.modbus.model import Bus, MeterDevice


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


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    data_dir: Path
    outbox_budget_mb: float = 256.0
    health_host: str = "127.0.0.1"
    health_port: int = 9100
    replay_rate: float = 2000.0


@dataclass(frozen=True, slots=True)
class SiteConfig:
    path: Path
    site: SiteInfo
    cloud: CloudLink
    edge: EdgeSettings
    buses: tuple[Bus, ...]
    devices: tuple[MeterDevice, ...]
