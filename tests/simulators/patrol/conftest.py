"""A small site's patrol section: two OpenMQTTGateways (the second with Theengs decoding,
as ``theengs="half"`` picks), an ESPresense room, a far ESPresense node and the box's own
adapter, on a line so distances are easy to reason about."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.patrol.config import PatrolSpec, patrol_of

VECTOR6_UUID = "426c7565-4368-6172-6d42-6561636f6e73"
IBEACON = f"{VECTOR6_UUID}:3838:4949"
EDDYSTONE = "8b0ca750e7a74e14bd99:000000000707"


def patrol_section(broker: str = "mqtt://127.0.0.1:1884") -> dict[str, object]:
    return {
        "broker": broker,
        "dwell_s": 5,
        "receivers": [
            {"id": "omg-north", "kind": "openmqttgateway", "source": "omg_north",
             "rssi_at_1m": -59, "x": 0, "y": 0},
            {"id": "omg-east", "kind": "openmqttgateway", "source": "omg_east",
             "rssi_at_1m": -61, "x": 20, "y": 0},
            {"id": "esp-b1", "kind": "espresense", "source": "b1_lobby", "rssi_at_1m": -62,
             "x": 40, "y": 0},
            {"id": "esp-far", "kind": "espresense", "source": "far_gate", "x": 300, "y": 0},
            {"id": "box", "kind": "adapter", "source": "hci0", "x": 60, "y": 0},
        ],
    }


def site_yaml(tmp_path: Path, broker: str) -> Path:
    import yaml

    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"site": {"id": "demo", "timezone": "Asia/Shanghai"},
                                    "patrol": patrol_section(broker)}, allow_unicode=True),
                    encoding="utf-8")
    return path


@pytest.fixture
def spec() -> PatrolSpec:
    found = patrol_of(patrol_section())
    assert found is not None
    return found
