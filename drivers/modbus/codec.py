"""Registers → engineering values, for every word/byte order meters ship with.

Vendors disagree on how a 32-bit value is laid over two 16-bit registers, so the order is a
profile setting. Naming the value's bytes A (most significant) … D (least significant):

=====  =================  ================================
order  registers on wire  seen on
=====  =================  ================================
ABCD   [AB, CD]           Eastron, CHINT (high word first)
CDAB   [CD, AB]           word-swapped meters
BADC   [BA, DC]           byte-swapped within each word
DCBA   [DC, BA]           Xintai water meters (LSB first)
=====  =================  ================================

16-bit values are byte-swapped under BADC/DCBA and taken as is under ABCD/CDAB.
A meter that answers NaN or ±inf has not measured anything: that is :class:`GarbageValue`,
never a reading.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal

from drivers.modbus.model import DataType, WordOrder

_FORMATS: dict[str, str] = {
    "float32": ">f",
    "int32": ">i",
    "uint32": ">I",
    "int16": ">h",
    "uint16": ">H",
}
# float32 carries about 7 significant decimal digits; more would report binary noise.
FLOAT32_DIGITS = 7


class GarbageValue(ValueError):
    """Registers that do not hold a usable value (wrong length, out of range, NaN, inf)."""


def width_of(data_type: DataType) -> int:
    return 1 if data_type in ("int16", "uint16") else 2


def _wire_to_value_bytes(wire: bytes, order: WordOrder) -> bytes:
    if len(wire) == 2:
        return wire[::-1] if order in ("BADC", "DCBA") else wire
    if order == "ABCD":
        return wire
    if order == "CDAB":
        return wire[2:4] + wire[0:2]
    if order == "BADC":
        return bytes((wire[1], wire[0], wire[3], wire[2]))
    if order == "DCBA":
        return wire[::-1]
    raise ValueError(f"unknown order {order!r}")


def _value_to_wire_bytes(value_bytes: bytes, order: WordOrder) -> bytes:
    # Each of the four permutations undoes itself, so encoding reuses the decoding shuffle.
    return _wire_to_value_bytes(value_bytes, order)


def _round_sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


def _scale_decimals(scale: float) -> int:
    exp = Decimal(repr(scale)).normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def decode(
    registers: Sequence[int],
    data_type: DataType = "float32",
    order: WordOrder = "ABCD",
    scale: float = 1.0,
) -> float:
    """Value of ``registers`` as ``raw × scale``, rounded to the precision the meter has.

    Raises :class:`GarbageValue` for anything that is not a measurement.
    """
    fmt = _FORMATS.get(data_type)
    if fmt is None:
        raise ValueError(f"unknown data type {data_type!r}")
    width = width_of(data_type)
    if len(registers) != width:
        raise GarbageValue(f"{data_type} needs {width} registers, got {len(registers)}")
    if any(not isinstance(r, int) or not 0 <= r <= 0xFFFF for r in registers):
        raise GarbageValue(f"register value out of 16-bit range: {list(registers)!r}")
    wire = b"".join(r.to_bytes(2, "big") for r in registers)
    (raw,) = struct.unpack(fmt, _wire_to_value_bytes(wire, order))
    if data_type == "float32":
        if not math.isfinite(raw):
            raise GarbageValue(f"meter reported {raw!r} (registers {wire.hex(' ')})")
        value = _round_sig(_round_sig(raw, FLOAT32_DIGITS) * scale, FLOAT32_DIGITS)
    else:
        value = round(raw * scale, _scale_decimals(scale)) if scale != 1.0 else float(raw)
    if not math.isfinite(value):
        raise GarbageValue(f"value overflowed after scale {scale}: {raw!r}")
    return float(value)


def encode(
    value: float,
    data_type: DataType = "float32",
    order: WordOrder = "ABCD",
    scale: float = 1.0,
) -> list[int]:
    """Registers a meter would send for ``value`` (the inverse of :func:`decode`).

    Used to build frames in tests and benchmarks; integer types round to the nearest count.
    """
    fmt = _FORMATS.get(data_type)
    if fmt is None:
        raise ValueError(f"unknown data type {data_type!r}")
    if scale == 0:
        raise ValueError("scale must not be 0")
    raw: float | int = value / scale
    if data_type != "float32":
        raw = round(raw)
    try:
        packed = struct.pack(fmt, raw)
    except struct.error as exc:
        raise ValueError(f"{value} does not fit {data_type} at scale {scale}: {exc}") from None
    wire = _value_to_wire_bytes(packed, order)
    return [int.from_bytes(wire[i : i + 2], "big") for i in range(0, len(wire), 2)]
