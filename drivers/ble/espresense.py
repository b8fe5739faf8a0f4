"""ESPresense (``espresense/devices/<id>/<room>``) → ``Advert``.

The node has already decoded the advert into an id; the payload is JSON with ``id``, ``rssi``
(the node's median of the last three), ``rssi@1m`` (the beacon's measured power, or the node's
reference when the beacon sends none), ``distance``, ``mac`` and, from an Eddystone TLM, ``mV``.

Ids that are tags (ESPresense firmware ``BleFingerprint.cpp``):

* ``iBeacon:<uuid with dashes>-<major>-<minor>`` (major / minor unsigned);
* ``eddy:<namespace>-<instance>``: the firmware's format string repeats the namespace's fifth
  byte, so the namespace arrives as 22 hex digits with digits 8-9 equal to 10-11; both that and
  a plain 20-digit namespace are read.

Any other id (a phone's ``apple:…``, ``name:…``, an alias the installer configured) is not a
tag: the advert still goes to presence with ``tag`` None.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from contract.patrol import eddystone_key, tag_key
from drivers.ble.adverts import normalise_mac
from drivers.ble.fields import load_object, optional_int, read_rssi
from drivers.ble.model import Advert, BadAdvert

TOPIC_ROOT = "espresense"
TOPIC_LEVEL = "devices"


@lru_cache(maxsize=8192)
def espresense_tag(ident: str) -> str | None:
    """The canonical tag key of an ESPresense id; None when the id is not a tag;
    BadAdvert when it says iBeacon / eddy but cannot be one."""
    low = ident[:8].lower()
    try:
        if low.startswith("ibeacon:"):
            return tag_key(ident)
        if low.startswith("eddy:"):
            ns, _, inst = ident[5:].partition("-")
            if len(ns) == 22 and ns[8:10] == ns[10:12]:  # the firmware's repeated byte
                ns = ns[:10] + ns[12:]
            return eddystone_key(ns, inst)
    except ValueError as exc:
        raise BadAdvert("bad_id", str(exc)) from None
    return None


def parse_espresense(topic: str, payload: bytes, at: float, rooms: Mapping[str, str]) -> Advert:
    """One ESPresense message; ``rooms`` maps the node's room → receiver id."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[1] != TOPIC_LEVEL:
        raise BadAdvert("bad_topic", topic[:120])
    receiver = rooms.get(parts[3])
    if receiver is None:
        raise BadAdvert("unknown_receiver", parts[3])
    doc = load_object(payload)
    ident = doc.get("id")
    if not isinstance(ident, str):
        ident = parts[2]
    mac = doc.get("mac")
    if not isinstance(mac, str):
        raise BadAdvert("bad_mac", f"mac {mac!r}")
    mv = optional_int(doc, "mV")
    return Advert(receiver=receiver, tag=espresense_tag(ident), mac=normalise_mac(mac),
                  rssi=read_rssi(doc.get("rssi")), tx_power=optional_int(doc, "rssi@1m"),
                  battery_mv=mv if mv else None, at=at)
