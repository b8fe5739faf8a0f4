"""A one-bus site whose only meter never answers (nothing listens on its port)."""

from __future__ import annotations

from pathlib import Path

from drivers.modbus.model import MeterDevice, Profile, RegisterSpec, TcpBus
from edge.config.model import CloudLink, EdgeSettings, SiteConfig, SiteInfo


def silent_meter_site(site: str, data_dir: Path, mqtt_url: str, health_port: int,
                      dead_port: int) -> SiteConfig:
    profile = Profile(id="p", name="test meter", kind="energy_meter",
                      registers=(RegisterSpec(name="voltage", address=0, unit="V"),))
    return SiteConfig(
        path=data_dir.parent / "site.yaml",
        site=SiteInfo(id=site, name="测试小区"),
        cloud=CloudLink(mqtt_url=mqtt_url, username=""),
        edge=EdgeSettings(data_dir=data_dir, health_port=health_port),
        buses=(TcpBus(id="tcp1", host="127.0.0.1", port=dead_port, timeout=0.2, retries=0),),
        devices=(MeterDevice(id="m-101", bus="tcp1", profile=profile, address=1,
                             poll_interval=0.2),),
    )
