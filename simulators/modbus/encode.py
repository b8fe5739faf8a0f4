"""Values → 16-bit Modbus registers, written independently of the driver's decoder.

The simulator has its own encoder (pinned to the public test vectors in the tests) so that a
mistake shared by encoder and decoder cannot make a wrong byte order look right.
"""

from __future__ import annotations

import struct
from typing import Literal

DataType = Literal["float32", "int16", "uint16", "int32", "uint32"]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]

DATA_TYPES: tuple[str, ...] = ("float32", "int16", "uint16", "int32", "uint32")
ORDERS: tuple[str, ...] = ("ABCD", "CDAB", "BADC", "DCBA")

_PACK = {"float32": ">f", "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I"}
_LIMITS = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


def word_count(data_type: str) -> int:
    """Registers one value of ``data_type`` occupies."""
    if data_type not in _PACK:
        raise ValueError(f"unknown data_type {data_type!r}")
    return 2 if data_type.endswith("32") else 1


def _reorder(big_endian: bytes, order: str) -> bytes:
    """Rearrange big-endian bytes ``ABCD`` (or ``AB``) into the meter's wire order."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}")
    b = big_endian
    if len(b) == 2:
        # A 16-bit value has only two orders: as is, or bytes swapped (BADC / DCBA).
        return b if order in ("ABCD", "CDAB") else b[::-1]
    if order == "ABCD":
        return b
    if order == "CDAB":
        return b[2:4] + b[0:2]
    if order == "BADC":
        return bytes((b[1], b[0], b[3], b[2]))
    return b[::-1]


def encode_value(value: float, data_type: str = "float32", order: str = "ABCD",
                 scale: float = 1.0) -> list[int]:
    """Registers a meter would hold for ``value`` (engineering units) read back as raw × scale.

    Integers are rounded and clamped to their type's range, as a meter's firmware saturates.
    """
    if scale == 0:
        raise ValueError("scale must not be 0")
    raw = value / scale
    fmt = _PACK.get(data_type)
    if fmt is None:
        raise ValueError(f"unknown data_type {data_type!r}")
    if data_type == "float32":
        packed = struct.pack(fmt, raw)
    else:
        lo, hi = _LIMITS[data_type]
        packed = struct.pack(fmt, min(hi, max(lo, round(raw))))
    wire = _reorder(packed, order)
    return [int.from_bytes(wire[i:i + 2], "big") for i in range(0, len(wire), 2)]


def crc16_modbus(frame: bytes) -> bytes:
    """Modbus RTU CRC (poly 0xA001 reflected, init 0xFFFF), low byte first as sent."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")
