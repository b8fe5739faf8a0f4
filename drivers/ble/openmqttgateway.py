"""OpenMQTTGateway (``home/<gw>/BTtoMQTT/<MAC>``) → ``Advert``.

The payload is JSON with ``id`` (the MAC with colons) and ``rssi``, then either the raw bytes
(``manufacturerdata`` hex with the little-endian company id first; ``servicedata`` hex with
``servicedatauuid`` such as ``"0xfeaa"``) or, with TheengsDecoder on the gateway, decoded
fields: ``model_id`` ``"IBEACON"``, ``uuid`` (32 hex, no dashes), ``major`` / ``minor``
(TheengsDecoder 2.5 reads them as signed 16-bit: ≥ 32768 arrive negative) and ``power`` (the
measured power; some builds say ``txpower``), ``volt`` (volts). The raw bytes win when both are
there: they are what the tag sent, the decoded fields are a firmware's reading of them.

Hot path (10,000 adverts/s on the edge): one ``orjson.loads``, a split of the topic, a few dict
lookups and cached tag keys / MACs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contract.patrol import ibeacon_key
from drivers.ble.adverts import (
    NOTHING,
    Decoded,
    decode,
    manufacturer_from_hex,
    normalise_mac,
    service_from_hex,
)
from drivers.ble.fields import load_object, optional_int, read_rssi
from drivers.ble.model import Advert, BadAdvert

TOPIC_ROOT = "home"
TOPIC_LEVEL = "BTtoMQTT"


def _volts_to_mv(doc: Mapping[str, Any]) -> int | None:
    volt = doc.get("volt")
    if isinstance(volt, bool) or not isinstance(volt, int | float) or not 0 < volt < 10:
        return None
    return round(volt * 1000)


def _theengs(doc: Mapping[str, Any]) -> Decoded:
    """TheengsDecoder's fields: an iBeacon's id and power, a voltage when it gives one."""
    battery = _volts_to_mv(doc)
    if doc.get("model_id") != "IBEACON":
        return Decoded(battery_mv=battery) if battery is not None else NOTHING
    uuid, major, minor = doc.get("uuid"), doc.get("major"), doc.get("minor")
    if not isinstance(uuid, str) or not isinstance(major, int) or not isinstance(minor, int):
        raise BadAdvert("bad_id", f"IBEACON without uuid/major/minor: {uuid!r} {major!r} {minor!r}")
    try:
        tag = ibeacon_key(uuid, major, minor)  # normalises negative major/minor, no dashes
    except ValueError as exc:
        raise BadAdvert("bad_id", str(exc)) from None
    power = optional_int(doc, "power")
    if power is None:
        power = optional_int(doc, "txpower")
    return Decoded(tag=tag, tx_power=power, battery_mv=battery)


def parse_omg(topic: str, payload: bytes, at: float, receivers: Mapping[str, str]) -> Advert:
    """One OpenMQTTGateway message; ``receivers`` maps gateway name → receiver id.
    BadAdvert (``unknown_receiver`` for a gateway not configured) when it cannot be one."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[2] != TOPIC_LEVEL:
        raise BadAdvert("bad_topic", topic[:120])
    receiver = receivers.get(parts[1])
    if receiver is None:
        raise BadAdvert("unknown_receiver", parts[1])
    doc = load_object(payload)
    ident = doc.get("id")
    mac = normalise_mac(ident if isinstance(ident, str) else parts[3])
    rssi = read_rssi(doc.get("rssi"))
    mfr, sd = doc.get("manufacturerdata"), doc.get("servicedata")
    if isinstance(mfr, str) or isinstance(sd, str):
        sd_uuid = doc.get("servicedatauuid")
        decoded = decode(
            manufacturer_from_hex(mfr) if isinstance(mfr, str) else {},
            service_from_hex(sd_uuid, sd) if isinstance(sd, str) and isinstance(sd_uuid, str)
            else {})
    else:
        decoded = _theengs(doc)
    return Advert(receiver=receiver, tag=decoded.tag, mac=mac, rssi=rssi,
                  tx_power=decoded.tx_power, battery_mv=decoded.battery_mv, at=at)

