"""The simulator's own encoder against hand-checked values and the RTU vectors of the docs."""

from __future__ import annotations

import struct

import pytest

from simulators.modbus.encode import crc16_modbus, encode_value, word_count


def test_vector7_sdm120_voltage_float_abcd() -> None:
    assert encode_value(230.0) == [0x4366, 0x0000]


def test_vector7_dtsu666_voltage_scaled_by_tenths() -> None:
    # 220.0 V with scale 0.1 → raw 2200.0 → 0x45098000
    assert encode_value(220.0, "float32", "ABCD", 0.1) == [0x4509, 0x8000]


@pytest.mark.parametrize(("order", "words"), [
    ("ABCD", [0x4509, 0x8000]),
    ("CDAB", [0x8000, 0x4509]),
    ("BADC", [0x0945, 0x0080]),
    ("DCBA", [0x0080, 0x0945]),
])
def test_float_word_and_byte_orders(order: str, words: list[int]) -> None:
    assert encode_value(2200.0, "float32", order) == words


def test_dcba_round_trips_through_little_endian_float() -> None:
    regs = encode_value(123.456, "float32", "DCBA")
    wire = b"".join(r.to_bytes(2, "big") for r in regs)
    assert struct.unpack("<f", wire)[0] == pytest.approx(123.456, rel=1e-6)


@pytest.mark.parametrize(("value", "dtype", "order", "scale", "words"), [
    (1, "uint16", "ABCD", 1.0, [0x0001]),
    (1, "uint16", "BADC", 1.0, [0x0100]),
    (-2, "int16", "ABCD", 1.0, [0xFFFE]),
    (230.1, "uint16", "ABCD", 0.1, [2301]),
    (70000, "uint32", "ABCD", 1.0, [0x0001, 0x1170]),
    (70000, "uint32", "CDAB", 1.0, [0x1170, 0x0001]),
    (-1, "int32", "ABCD", 1.0, [0xFFFF, 0xFFFF]),
    (1234.56, "int32", "ABCD", 0.01, [0x0001, 0xE240]),
])
def test_integer_types(value: float, dtype: str, order: str, scale: float,
                       words: list[int]) -> None:
    assert encode_value(value, dtype, order, scale) == words


def test_integers_saturate_like_firmware() -> None:
    assert encode_value(99999, "uint16") == [0xFFFF]
    assert encode_value(-5, "uint16") == [0x0000]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_value(1.0, "float64")
    with pytest.raises(ValueError):
        encode_value(1.0, "float32", "ADCB")
    with pytest.raises(ValueError):
        encode_value(1.0, scale=0)
    assert word_count("int16") == 1 and word_count("float32") == 2


def test_crc_matches_vector7_frames() -> None:
    assert crc16_modbus(bytes.fromhex("010400000002")) == bytes.fromhex("71CB")
    assert crc16_modbus(bytes.fromhex("0104044366 0000")) == bytes.fromhex("0E1F")
    assert crc16_modbus(bytes.fromhex("010320060002")) == bytes.fromhex("2FCA")
    assert crc16_modbus(bytes.fromhex("0103044509 8000")) == bytes.fromhex("5EFD")
