"""Raw advertisement content → tag key and telemetry: iBeacon and Eddystone UID / TLM.

Input is what bleak gives (``manufacturer_data``: company id → bytes after the id;
``service_data``: 128-bit UUID string → bytes); receivers that publish hex (OpenMQTTGateway,
TheengsDecoder: little-endian company id first) go through ``manufacturer_from_hex``.

Layouts (PROTOCOLS.md §6, big-endian):

* iBeacon, company 0x004C: ``02 15`` + UUID 16 B + major u16 + minor u16 + tx power int8 (the
  RSSI a phone reads 1 m away).
* Eddystone, service 0xFEAA: ``00`` UID (tx power at 0 m int8, namespace 10 B, instance 6 B,
  2 reserved, often left out), ``20`` TLM version 0 (battery mV u16, temperature 8.8 signed,
  advert count u32, seconds × 10 u32), ``10`` URL and ``30`` EID (not tags here).

Other Apple adverts (AirPods, Find My, nearby) and other companies are not tags: they decode to
nothing rather than to an error, since every receiver hears dozens of them. Bytes that claim to
be one of our frames but cannot be raise ``BadAdvert``. Tag keys are cached: a site has a few
hundred tags, each advertising every second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from contract.patrol import eddystone_key, ibeacon_key
from drivers.ble.model import BadAdvert

APPLE: Final = 0x004C
EDDYSTONE_UUID: Final = "0000feaa-0000-1000-8000-00805f9b34fb"
#: How a receiver may name the Eddystone service (bleak, OpenMQTTGateway "0xfeaa", bare).
EDDYSTONE_NAMES: Final = frozenset({EDDYSTONE_UUID, "0xfeaa", "feaa", "0000feaa"})
#: Eddystone UID advertises its power at 0 m; the spec puts 1 m at 41 dB less.
EDDYSTONE_0M_TO_1M_DB: Final = 41

_IBEACON_TYPE, _IBEACON_LEN = 0x02, 0x15
_FRAME_UID, _FRAME_URL, _FRAME_TLM, _FRAME_EID = 0x00, 0x10, 0x20, 0x30
_TLM_PLAIN, _TLM_ENCRYPTED = 0x00, 0x01
_TEMP_UNSUPPORTED = 0x8000


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one advertisement says; every field None when it did not say it."""

    tag: str | None = None
    tx_power: int | None = None  # at 1 m
    battery_mv: int | None = None
    temperature_c: float | None = None
    adv_count: int | None = None
    uptime_s: float | None = None


NOTHING: Final = Decoded()


def _int8(b: int) -> int:
    return b - 256 if b > 127 else b


@lru_cache(maxsize=8192)
def _ibeacon_tag(ident: bytes) -> str:
    major = int.from_bytes(ident[16:18], "big")
    minor = int.from_bytes(ident[18:20], "big")
    return ibeacon_key(ident[:16].hex(), major, minor)


@lru_cache(maxsize=8192)
def _eddystone_tag(ident: bytes) -> str:
    return eddystone_key(ident[:10].hex(), ident[10:16].hex())


def decode_ibeacon(data: bytes) -> Decoded:
    """Apple manufacturer data (after the company id); NOTHING for other Apple adverts."""
    if not data or data[0] != _IBEACON_TYPE:
        return NOTHING
    if len(data) < 2 or data[1] != _IBEACON_LEN:
        raise BadAdvert("ibeacon_prefix", f"02 then {data[1:2].hex() or 'nothing'}, not 15")
    if len(data) != 23:
        raise BadAdvert("ibeacon_length", f"{len(data)} bytes after the company id, not 23")
    return Decoded(tag=_ibeacon_tag(bytes(data[2:22])), tx_power=_int8(data[22]))


def decode_eddystone(data: bytes) -> Decoded:
    """Eddystone service data; NOTHING for URL / EID / encrypted TLM frames."""
    if not data:
        raise BadAdvert("eddystone_length", "empty service data")
    frame = data[0]
    if frame == _FRAME_UID:
        if not 18 <= len(data) <= 20:  # the 2 reserved bytes are often left out
            raise BadAdvert("eddystone_length", f"UID frame of {len(data)} bytes, not 18-20")
        return Decoded(tag=_eddystone_tag(bytes(data[2:18])),
                       tx_power=_int8(data[1]) - EDDYSTONE_0M_TO_1M_DB)
    if frame == _FRAME_TLM:
        if len(data) < 2:
            raise BadAdvert("eddystone_length", "TLM frame without a version")
        if data[1] == _TLM_ENCRYPTED:
            return NOTHING  # eTLM: readable only with the beacon's key
        if data[1] != _TLM_PLAIN:
            raise BadAdvert("tlm_version", f"TLM version {data[1]}")
        if len(data) != 14:
            raise BadAdvert("eddystone_length", f"TLM frame of {len(data)} bytes, not 14")
        mv = int.from_bytes(data[2:4], "big")
        raw_temp = int.from_bytes(data[4:6], "big")
        temp = None if raw_temp == _TEMP_UNSUPPORTED else \
            int.from_bytes(data[4:6], "big", signed=True) / 256
        return Decoded(battery_mv=mv or None, temperature_c=temp,  # 0 mV: not supported
                       adv_count=int.from_bytes(data[6:10], "big"),
                       uptime_s=int.from_bytes(data[10:14], "big") / 10)
    if frame in (_FRAME_URL, _FRAME_EID):
        return NOTHING
    raise BadAdvert("eddystone_frame", f"unknown frame type 0x{frame:02x}")


def _merge(a: Decoded, b: Decoded) -> Decoded:
    if a is NOTHING:
        return b
    if b is NOTHING:
        return a
    return Decoded(
        tag=a.tag if a.tag is not None else b.tag,
        tx_power=a.tx_power if a.tx_power is not None else b.tx_power,
        battery_mv=a.battery_mv if a.battery_mv is not None else b.battery_mv,
        temperature_c=a.temperature_c if a.temperature_c is not None else b.temperature_c,
        adv_count=a.adv_count if a.adv_count is not None else b.adv_count,
        uptime_s=a.uptime_s if a.uptime_s is not None else b.uptime_s,
    )


def decode(manufacturer_data: Mapping[int, bytes], service_data: Mapping[str, bytes]) -> Decoded:
    """The tag and telemetry in one advertisement (bleak's shapes); BadAdvert when bytes that
    claim to be an iBeacon or Eddystone frame cannot be one."""
    out = NOTHING
    apple = manufacturer_data.get(APPLE) if manufacturer_data else None
    if apple is not None:
        out = decode_ibeacon(apple)
    if service_data:
        for name, data in service_data.items():
            if name.lower() in EDDYSTONE_NAMES:
                out = _merge(out, decode_eddystone(data))
    return out


def manufacturer_from_hex(text: str) -> dict[int, bytes]:
    """``4c000215…`` (company id little-endian first, as OpenMQTTGateway and TheengsDecoder
    publish it) → bleak's ``{0x004C: b"\\x02\\x15…"}``."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise BadAdvert("bad_hex", f"manufacturer data is not hex: {text[:60]!r}") from None
    if len(raw) < 2:
        raise BadAdvert("bad_hex", f"manufacturer data of {len(raw)} bytes has no company id")
    return {raw[0] | raw[1] << 8: raw[2:]}


def service_from_hex(uuid: str, text: str) -> dict[str, bytes]:
    """One service's data as hex (OpenMQTTGateway ``servicedata`` + ``servicedatauuid``)."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise BadAdvert("bad_hex", f"service data is not hex: {text[:60]!r}") from None
    name = uuid.lower()
    return {EDDYSTONE_UUID if name in EDDYSTONE_NAMES else name: raw}


@lru_cache(maxsize=65536)
def normalise_mac(text: str) -> str:
    """``AA:BB:CC:DD:EE:FF``, ``aabbccddeeff``, ``AA-BB-…`` → ``aa:bb:cc:dd:ee:ff``."""
    compact = text.replace(":", "").replace("-", "").lower()
    if len(compact) != 12 or compact.strip("0123456789abcdef"):
        raise BadAdvert("bad_mac", f"not a MAC address: {text[:40]!r}")
    return ":".join(compact[i:i + 2] for i in range(0, 12, 2))
