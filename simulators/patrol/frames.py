"""Guards' tags and the advert bytes they send, built from the public specs (PROTOCOLS.md §6,
Apple's iBeacon layout, Google's Eddystone UID / TLM frames) and never from the edge's
decoders or the contract's key helpers: a symmetric bug in both would otherwise stay hidden.

iBeacon manufacturer data, as receivers print it (company id little-endian first)::

    4c 00 | 02 15 | uuid 16 B | major u16 BE | minor u16 BE | tx power int8 (RSSI at 1 m)

Eddystone service data (UUID 0xFEAA)::

    UID  00 | tx power at 0 m int8 | namespace 10 B | instance 6 B | 00 00 (reserved)
    TLM  20 | 00 (version) | battery mV u16 | temperature 8.8 signed | adv count u32 | s×10 u32
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Final

APPLE_COMPANY_LE: Final = b"\x4c\x00"
IBEACON_TYPE: Final = b"\x02\x15"
EDDYSTONE_UUID16: Final = 0xFEAA
EDDYSTONE_UID: Final = 0x00
EDDYSTONE_TLM: Final = 0x20
#: Eddystone advertises its power at 0 m; the RSSI at 1 m is about 41 dB lower (the spec's rule).
EDDYSTONE_0M_TO_1M_DB: Final = 41

_HEX = re.compile(r"[0-9a-f]+")


def _int8(value: int, what: str) -> int:
    if not -128 <= value <= 127:
        raise ValueError(f"{what} 应为 −128…127 / must fit a signed byte, got {value}")
    return value


def _u16(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{what} 应为 0…65535 / must fit 16 bits unsigned, got {value}")
    return value


def _hex(text: str, length: int, what: str) -> str:
    raw = text.replace("-", "").lower()
    if len(raw) != length or not _HEX.fullmatch(raw):
        raise ValueError(f"{what} 应为 {length} 位十六进制 / must be {length} hex digits, "
                         f"got {text!r}")
    return raw


@dataclass(frozen=True, slots=True)
class IBeaconTag:
    """An iBeacon guard tag; ``uuid`` 32 lower-case hex digits (no dashes)."""

    uuid: str
    major: int
    minor: int
    tx_power: int = -59  # the measured power at 1 m the tag advertises

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", _hex(self.uuid, 32, "iBeacon UUID"))
        _u16(self.major, "major")
        _u16(self.minor, "minor")
        _int8(self.tx_power, "tx power")

    @property
    def dashed_uuid(self) -> str:
        u = self.uuid
        return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"

    @property
    def label(self) -> str:
        """How the tag is named in progress lines: ``<uuid>:<major>:<minor>``."""
        return f"{self.dashed_uuid}:{self.major}:{self.minor}"

    @property
    def rssi_at_1m(self) -> int:
        return self.tx_power

    def manufacturer_data(self) -> bytes:
        """The manufacturer-specific data with Apple's company id first (``4c000215…``)."""
        return (APPLE_COMPANY_LE + IBEACON_TYPE + bytes.fromhex(self.uuid)
                + struct.pack(">HHb", self.major, self.minor, self.tx_power))


@dataclass(frozen=True, slots=True)
class EddystoneTag:
    """An Eddystone UID guard tag that also sends TLM frames (the battery)."""

    namespace: str  # 20 hex digits
    instance: str  # 12 hex digits
    tx_power_0m: int = -18  # advertised power at 0 m: about −59 dBm at 1 m

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespace", _hex(self.namespace, 20, "Eddystone namespace"))
        object.__setattr__(self, "instance", _hex(self.instance, 12, "Eddystone instance"))
        _int8(self.tx_power_0m, "tx power at 0 m")

    @property
    def label(self) -> str:
        return f"{self.namespace}:{self.instance}"

    @property
    def rssi_at_1m(self) -> int:
        return self.tx_power_0m - EDDYSTONE_0M_TO_1M_DB

    def uid_frame(self) -> bytes:
        return (struct.pack(">Bb", EDDYSTONE_UID, self.tx_power_0m)
                + bytes.fromhex(self.namespace) + bytes.fromhex(self.instance) + b"\x00\x00")


Tag = IBeaconTag | EddystoneTag


def tlm_frame(battery_mv: int, temperature_c: float, adv_count: int, uptime_s: float) -> bytes:
    """An unencrypted Eddystone TLM frame (version 0): the temperature in signed 8.8 fixed
    point, the uptime in tenths of a second, all big-endian."""
    _u16(battery_mv, "battery mV")
    temp = round(temperature_c * 256)
    if not -32768 <= temp <= 32767:
        raise ValueError(f"temperature out of the 8.8 range: {temperature_c}")
    return struct.pack(">BBHhII", EDDYSTONE_TLM, 0, battery_mv, temp,
                       adv_count & 0xFFFFFFFF, int(uptime_s * 10) & 0xFFFFFFFF)


def parse_tag(text: str) -> Tag:
    """A tag as a person types it: ``<uuid>:<major>:<minor>`` (iBeacon, the UUID with or
    without dashes, optionally ``ibeacon:`` first) or ``<namespace>:<instance>`` (Eddystone
    UID, optionally ``eddystone:`` first). ValueError (zh/en) otherwise."""
    t = text.strip()
    low = t.lower()
    for prefix in ("ibeacon:", "eddystone:"):
        if low.startswith(prefix):
            t = t[len(prefix):]
    parts = t.split(":")
    try:
        if len(parts) == 3:
            return IBeaconTag(parts[0], int(parts[1]), int(parts[2]))
        if len(parts) == 2:
            return EddystoneTag(parts[0], parts[1])
    except ValueError as exc:
        raise ValueError(f"无法识别的标签 / not a tag: {text!r} ({exc})") from None
    raise ValueError(f"无法识别的标签 / not a tag: {text!r} (iBeacon: UUID:major:minor; "
                     "Eddystone: namespace:instance)")


def tag_mac(tag: Tag, salt: str = "") -> str:
    """A stable static-random BLE address for a tag (``aa:bb:cc:dd:ee:ff``, top two bits set
    as the spec requires); another ``salt`` gives a clone its own radio."""
    digest = bytearray(hashlib.blake2b(f"{tag.label}|{salt}".encode(), digest_size=6).digest())
    digest[0] |= 0xC0
    return ":".join(f"{b:02x}" for b in digest)
