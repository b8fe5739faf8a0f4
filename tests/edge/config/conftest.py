"""Fixtures for the site/profile loader tests: a small valid site and fixture profiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
FIXTURE_PROFILES = DATA / "profiles"

# A valid site the tests break one line at a time; line numbers matter to the assertions.
BASE_SITE = """\
site:
  id: court-7
  name: 七号院
  timezone: Asia/Shanghai
cloud:
  mqtt_url: mqtt://10.0.0.2:1883
  username: court-7
edge:
  data_dir: var/edge-court-7
buses:
  - id: tcp1
    type: modbus_tcp
    host: 10.0.0.50
    port: 502
  - id: rtu1
    type: modbus_rtu
    port: /dev/ttyUSB0
    baudrate: 9600
    parity: E
devices:
  - id: meter-101
    bus: tcp1
    profile: eastron_sdm120
    address: 1
    deadband: {voltage: 0.5}
  - id: water-101
    bus: rtu1
    profile: xintai_water
    address: 1
    poll_interval: 30
"""


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing needle, so assertions follow the fixture."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


@pytest.fixture
def write_site(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "site.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
