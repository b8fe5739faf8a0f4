"""The simulator's own OSDP frame codec pinned to PROTOCOLS test vector 4, and the driver's
frame header reader on the same bytes."""

from __future__ import annotations

import pytest

from drivers.access.osdp_line import frame_header
from simulators.access import osdp_wire as w

POLL = bytes.fromhex("FF 53 65 08 00 04 60 60 90")
ID = bytes.fromhex("FF 53 65 09 00 04 61 00 D9 7A")
ACK = bytes.fromhex("FF 53 E5 07 00 01 40 80")
NAK = bytes.fromhex("FF 53 E5 09 00 05 41 01 0E 8F")


def test_the_builder_produces_vector_4() -> None:
    assert w.build(101, w.POLL) == POLL
    assert w.build(101, w.ID, b"\x00") == ID
    assert w.build(101, w.ACK, seq=1, use_crc=False, reply=True) == ACK
    assert w.build(101, w.NAK, b"\x01", seq=1, reply=True) == NAK


def test_the_parser_reads_vector_4() -> None:
    assert w.parse(POLL) == w.Frame(101, False, 0, True, b"", w.POLL, b"")
    assert w.parse(ACK) == w.Frame(101, True, 1, False, b"", w.ACK, b"")
    assert w.parse(NAK).payload == b"\x01" and w.parse(NAK).reply
    assert w.crc16_aug_ccitt(bytes.fromhex("53 65 08 00 04 60")) == 0x9060


@pytest.mark.parametrize("frame", [POLL[:-1] + b"\x91", ACK[:-1] + b"\x81",
                                   POLL.replace(b"\x08\x00", b"\x09\x00")])
def test_a_damaged_frame_is_refused(frame: bytes) -> None:
    with pytest.raises(w.FrameError):
        w.parse(frame)


def test_the_reassembler_cuts_a_noisy_split_stream() -> None:
    stream = b"\x00\x13" + POLL + ID + ACK[:1] + b"\x53\x00" + NAK
    r = w.Reassembler()
    frames = [f for i in range(0, len(stream), 3) for f in r.feed(stream[i:i + 3])]
    assert [(f.code, f.reply) for f in frames] == [(w.POLL, False), (w.ID, False),
                                                   (w.NAK, True)]


def test_the_driver_reads_address_and_code_of_what_it_sends() -> None:
    assert frame_header(POLL) == (101, 0x60)
    assert frame_header(ID) == (101, 0x61)
    assert frame_header(b"\xff\x53") is None
    # A secure frame: the code comes after the security block (length in its first byte).
    secure = bytes.fromhex("FF 53 65 13 00 0E 03 11 01 76 D7 64 C8 CC E9 32 55 C4 F1 05")
    assert frame_header(secure) == (101, 0x76)
    assert w.parse(secure).code == w.CHLNG and w.parse(secure).scb == b"\x03\x11\x01"
