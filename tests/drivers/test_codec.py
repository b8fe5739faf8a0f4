"""Register decoding pinned to public frames (RTU vectors, docs/protocols.md §1) and our own."""

from __future__ import annotations

import math
import struct

import pytest

from drivers.modbus.codec import GarbageValue, decode, encode


def regs_from_frame_data(data: str) -> list[int]:
    raw = bytes.fromhex(data)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def test_sdm120_voltage_reply_is_230_volts() -> None:
    # Reply `01 04 04 43 66 00 00 0E 1F`: address 1, FC 4, 4 bytes of data, CRC.
    frame = bytes.fromhex("01 04 04 43 66 00 00 0E 1F")
    assert frame[2] == 4
    assert decode(regs_from_frame_data(frame[3:7].hex()), "float32", "ABCD") == 230.0


def test_dtsu666_voltage_reply_is_220_volts_after_scale() -> None:
    frame = bytes.fromhex("01 03 04 45 09 80 00 5E FD")
    regs = regs_from_frame_data(frame[3:7].hex())
    assert decode(regs, "float32", "ABCD") == 2200.0
    assert decode(regs, "float32", "ABCD", scale=0.1) == 220.0


# 123.456 as float32 is 0x42F6E979: bytes A=42 B=F6 C=E9 D=79.
@pytest.mark.parametrize(
    ("order", "wire"),
    [
        ("ABCD", [0x42F6, 0xE979]),
        ("CDAB", [0xE979, 0x42F6]),
        ("BADC", [0xF642, 0x79E9]),
        ("DCBA", [0x79E9, 0xF642]),
    ],
)
def test_float32_every_order(order: str, wire: list[int]) -> None:
    assert struct.pack(">f", 123.456).hex() == "42f6e979"
    assert decode(wire, "float32", order) == 123.456  # type: ignore[arg-type]


# -2 as int32 is FF FF FF FE; 305419896 as uint32 is 12 34 56 78.
@pytest.mark.parametrize(
    ("data_type", "order", "wire", "expected"),
    [
        ("int32", "ABCD", [0xFFFF, 0xFFFE], -2.0),
        ("int32", "CDAB", [0xFFFE, 0xFFFF], -2.0),
        ("uint32", "ABCD", [0x1234, 0x5678], 305419896.0),
        ("uint32", "CDAB", [0x5678, 0x1234], 305419896.0),
        ("uint32", "BADC", [0x3412, 0x7856], 305419896.0),
        ("uint32", "DCBA", [0x7856, 0x3412], 305419896.0),
        ("int16", "ABCD", [0xFF38], -200.0),
        ("int16", "BADC", [0x38FF], -200.0),
        ("uint16", "ABCD", [0x0102], 258.0),
        ("uint16", "CDAB", [0x0102], 258.0),
        ("uint16", "DCBA", [0x0102], 513.0),
    ],
)
def test_integer_types(data_type: str, order: str, wire: list[int], expected: float) -> None:
    assert decode(wire, data_type, order) == expected  # type: ignore[arg-type]


def test_integer_scale_keeps_the_decimals_of_the_scale() -> None:
    # An energy counter in 0.01 kWh steps: 12345678 → 123456.78 kWh, not 123456.78000000001.
    assert decode([0x00BC, 0x614E], "uint32", "ABCD", scale=0.01) == 123456.78
    assert decode([0x0929], "uint16", "ABCD", scale=0.1) == 234.5


def test_float32_binary_noise_is_rounded_away() -> None:
    # 230.1 is not exact in float32 (230.10000610…); a reading must say 230.1.
    assert decode(encode(230.1), "float32") == 230.1
    assert decode(encode(0.999, scale=0.001), "float32", scale=0.001) == 0.999


@pytest.mark.parametrize("bits", [0x7FC00000, 0x7F800000, 0xFF800000, 0xFFFFFFFF])
def test_nan_and_infinity_are_garbage(bits: int) -> None:
    assert not math.isfinite(struct.unpack(">f", bits.to_bytes(4, "big"))[0])
    with pytest.raises(GarbageValue):
        decode([bits >> 16, bits & 0xFFFF], "float32", "ABCD")


@pytest.mark.parametrize(
    ("wire", "data_type"),
    [([0x4366], "float32"), ([1, 2, 3], "uint32"), ([], "uint16"), ([0x10000], "uint16"),
     ([-1], "int16")],
)
def test_wrong_shape_is_garbage(wire: list[int], data_type: str) -> None:
    with pytest.raises(GarbageValue):
        decode(wire, data_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["ABCD", "CDAB", "BADC", "DCBA"])
@pytest.mark.parametrize(
    ("data_type", "value", "scale"),
    [("float32", 4567.25, 1.0), ("int32", -7.5, 0.1), ("uint32", 99999.99, 0.01),
     ("int16", -12.3, 0.1), ("uint16", 2, 1.0)],
)
def test_encode_is_the_inverse_of_decode(order: str, data_type: str, value: float,
                                         scale: float) -> None:
    wire = encode(value, data_type, order, scale)  # type: ignore[arg-type]
    assert decode(wire, data_type, order, scale) == value  # type: ignore[arg-type]


def test_encode_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        encode(70000, "uint16")
