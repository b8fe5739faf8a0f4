"""What the BLE decoders hand to presence: one ``Advert`` per advertisement a receiver heard.

Every source (OpenMQTTGateway, ESPresense, the box's own adapter) ends in the same shape, so
presence never knows which receiver format a tag was heard through. A payload that cannot be
one raises ``BadAdvert`` with a stable ``reason`` code: the subscriber counts and logs it and
carries on (one broken receiver must not stop the others).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Advert:
    receiver: str  # receiver id from the site YAML (patrol.receivers[].id)
    tag: str | None  # canonical key (contract.patrol.tag_key) or None (TLM-only, unknown beacon)
    mac: str  # "aa:bb:cc:dd:ee:ff" (lower case, colons)
    rssi: int  # dBm as the receiver heard it
    tx_power: int | None  # measured power at 1 m (iBeacon tx / Eddystone tx at 0 m - 41)
    battery_mv: int | None  # Eddystone TLM
    at: float  # clock.monotonic() when received at the edge


class BadAdvert(ValueError):
    """A payload or advert we cannot read. ``reason`` is a stable code for counters and logs:

    ``bad_topic``, ``unknown_receiver``, ``bad_json``, ``bad_mac``, ``bad_rssi``, ``bad_hex``,
    ``bad_id``, ``bad_field``, ``ibeacon_prefix``, ``ibeacon_length``, ``eddystone_length``,
    ``eddystone_frame``, ``tlm_version``; ``internal_error`` when a decoder itself failed.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
