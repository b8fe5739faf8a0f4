"""Wiegand decoding pinned to PROTOCOLS test vector 5, and the simulator's own encoder pinned
to the same vector (two independent codecs that must agree)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.access import wiegand
from drivers.access.wiegand import Credential, Refusal
from simulators.access import osdp_wire

VECTOR_5 = "00101101000000001010001000"   # facility 90, card 324


def test_vector_5_decodes_to_facility_90_card_324() -> None:
    read = wiegand.decode_bits(VECTOR_5)
    assert read == Credential("h10301", 26, (90 << 16) | 324, 90, 324)
    assert isinstance(read, Credential)
    assert read.key == "5898564" and read.label() == "090,00324"


def test_the_simulator_encodes_vector_5_and_packs_it_as_osdp_raw_data() -> None:
    assert osdp_wire.wiegand26(90, 324) == VECTOR_5
    packed = osdp_wire.pack_bits(VECTOR_5)
    assert packed == bytes([0x2D, 0x00, 0xA2, 0x00])
    assert wiegand.bits_of(packed, 26) == VECTOR_5
    assert wiegand.decode(packed, 26) == wiegand.decode_bits(VECTOR_5)


def test_a_flipped_parity_bit_is_a_refusal_with_the_reason_not_an_error() -> None:
    leading = "1" + VECTOR_5[1:]
    trailing = VECTOR_5[:-1] + "1"
    data_bit = VECTOR_5[:5] + ("1" if VECTOR_5[5] == "0" else "0") + VECTOR_5[6:]
    for bits in (leading, trailing, data_bit):
        read = wiegand.decode_bits(bits)
        assert isinstance(read, Refusal) and read.reason == "bad_parity", bits
        assert "校验" in read.message and "parity" in read.message
    assert "even" in wiegand.decode_bits(leading).message  # type: ignore[union-attr]
    assert "odd" in wiegand.decode_bits(trailing).message  # type: ignore[union-attr]


def test_34_bit_h10306_with_16_bit_facility() -> None:
    bits = osdp_wire.wiegand34(1000, 65535)
    read = wiegand.decode(osdp_wire.pack_bits(bits), 34)
    assert read == Credential("h10306", 34, (1000 << 16) | 65535, 1000, 65535)
    broken = bits[:-1] + ("0" if bits[-1] == "1" else "1")
    assert isinstance(wiegand.decode_bits(broken), Refusal)


def test_other_lengths_and_formats_turned_off_fall_back_to_raw() -> None:
    assert wiegand.decode(bytes([0xDE, 0xAD, 0xBE, 0xEF]), 32) == Credential(
        "raw", 32, 0xDEADBEEF)
    narrowed = wiegand.decode_bits(VECTOR_5, formats=("h10306",))
    assert narrowed == Credential("raw", 26, int(VECTOR_5, 2))
    # A raw format has no parity to check: a "bad" 26-bit read is still a number.
    assert isinstance(wiegand.decode_bits("1" + VECTOR_5[1:], formats=()), Credential)


def test_data_that_does_not_hold_the_length_is_refused() -> None:
    for data, length in ((b"\x2d\x00", 26), (b"", 0), (b"\x00" * 40, 300)):
        read = wiegand.decode(data, length)
        assert isinstance(read, Refusal) and read.reason == "bad_length"
    assert isinstance(wiegand.decode_bits("0102"), Refusal)


@given(st.integers(0, 255), st.integers(0, 65535))
def test_every_26_bit_card_round_trips(facility: int, card: int) -> None:
    read = wiegand.decode(osdp_wire.pack_bits(osdp_wire.wiegand26(facility, card)), 26)
    assert read == Credential("h10301", 26, facility << 16 | card, facility, card)


@given(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 33))
def test_any_single_bit_error_in_34_bits_is_refused(facility: int, card: int,
                                                    flip: int) -> None:
    bits = list(osdp_wire.wiegand34(facility, card))
    bits[flip] = "1" if bits[flip] == "0" else "0"
    read = wiegand.decode_bits("".join(bits))
    assert isinstance(read, Refusal) and read.reason == "bad_parity"
