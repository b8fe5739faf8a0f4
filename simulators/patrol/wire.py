"""What a receiver publishes to the site broker when it hears one advert, in the formats of
the real firmwares the edge subscribes to.

OpenMQTTGateway: ``home/<gateway>/BTtoMQTT/<MAC upper case, no colons>`` with the raw
``manufacturerdata`` (iBeacon) or ``servicedata`` + ``servicedatauuid`` (Eddystone). A gateway
with Theengs decoding on also adds what TheengsDecoder reads from an iBeacon (its
``IBEACON`` model): ``uuid`` without dashes, ``major`` / ``minor`` read as *signed* 16-bit
(so ≥ 32768 come out negative) and ``txpower``.

ESPresense: ``espresense/devices/<id>/<room>`` with ``id`` ``iBeacon:<uuid>-<major>-<minor>``
(UUID with dashes, major / minor unsigned) or ``eddy:<namespace>-<instance>``, ``rssi@1m``
the beacon's calibrated power, ``distance`` its estimate, ``mac`` lower case without colons.
It reports devices (UID frames), not Eddystone TLM telemetry.
"""

from __future__ import annotations

import json
from typing import Any, Final

from simulators.patrol.frames import EddystoneTag, IBeaconTag, Tag

FEAA: Final = "0xfeaa"
#: ESPresense's default path-loss exponent ("absorption") for its distance estimate.
ESPRESENSE_ABSORPTION: Final = 3.5


def _signed16(value: int) -> int:
    return value - 0x10000 if value >= 0x8000 else value


def omg_topic(gateway: str, mac: str) -> str:
    return f"home/{gateway}/BTtoMQTT/{mac.replace(':', '').upper()}"


def omg_payload(tag: Tag, mac: str, rssi: int, frame: bytes | None = None, *,
                theengs: bool = False) -> dict[str, Any]:
    """One OpenMQTTGateway message. ``frame``: the Eddystone frame heard (UID or TLM); for an
    iBeacon the manufacturer data is the tag's own."""
    msg: dict[str, Any] = {"id": mac.upper(), "rssi": rssi}
    if isinstance(tag, IBeaconTag):
        msg["manufacturerdata"] = tag.manufacturer_data().hex()
        if theengs:
            msg.update({"brand": "GENERIC", "model": "iBeacon", "model_id": "IBEACON",
                        "mfid": "4c00", "uuid": tag.uuid, "major": _signed16(tag.major),
                        "minor": _signed16(tag.minor), "txpower": tag.tx_power})
    else:
        msg["servicedata"] = (frame if frame is not None else tag.uid_frame()).hex()
        msg["servicedatauuid"] = FEAA
    return msg


def espresense_id(tag: Tag) -> str:
    if isinstance(tag, EddystoneTag):
        return f"eddy:{tag.namespace}-{tag.instance}"
    return f"iBeacon:{tag.dashed_uuid}-{tag.major}-{tag.minor}"


def espresense_topic(tag: Tag, room: str) -> str:
    return f"espresense/devices/{espresense_id(tag)}/{room}"


def espresense_payload(tag: Tag, mac: str, rssi: int, interval_s: float) -> dict[str, Any]:
    ref = tag.rssi_at_1m
    distance = round(10 ** ((ref - rssi) / (10 * ESPRESENSE_ABSORPTION)), 2)
    return {"id": espresense_id(tag), "rssi@1m": ref, "rssi": rssi, "raw": distance,
            "distance": distance, "mac": mac.replace(":", "").lower(),
            "interval": round(interval_s * 1000)}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")
