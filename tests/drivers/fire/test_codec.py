"""Frames: the docs/protocols.md §2 vectors byte for byte, checksum dialects, stream re-assembly."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from drivers.fire.codec import (
    BadEndError,
    BadStartError,
    ChecksumError,
    Command,
    Frame,
    OversizeError,
    StreamReassembler,
    TimeTag,
    TruncatedFrameError,
    UnknownCommandError,
    build_frame,
    confirm_for,
    deny_for,
    parse_frame,
)
from tests.drivers.fire.vectors import (
    RS_CLOCK_SYNC,
    V1_APP_DATA,
    V1_FIRE,
    V2_CONFIRM,
    V2_DENY,
    V3_BAD_CHECKSUM,
    V3_FIRE,
    hand_frame,
    hx,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPLY_TIME = TimeTag.from_bytes(hx("23 3A 09 1A 09 0C"))


def test_vector_1_header() -> None:
    frame = parse_frame(V1_FIRE)
    assert frame.serial == 1
    assert frame.version == (1, 1)
    assert frame.source == 889
    assert frame.destination == 88888
    assert frame.command == Command.SEND_DATA
    assert frame.data == V1_APP_DATA
    assert len(frame.data) == 0x30
    assert frame.time.to_datetime(SHANGHAI) == datetime(2012, 9, 26, 9, 58, 32, tzinfo=SHANGHAI)


def test_vector_1_rebuilds_byte_exactly() -> None:
    assert build_frame(parse_frame(V1_FIRE)) == V1_FIRE


def test_vector_2_confirm_and_deny_encode_exactly() -> None:
    frame = parse_frame(V1_FIRE)
    assert confirm_for(frame, REPLY_TIME) == V2_CONFIRM
    assert deny_for(frame, REPLY_TIME) == V2_DENY
    confirm = parse_frame(V2_CONFIRM)
    assert (confirm.serial, confirm.command, confirm.source, confirm.destination,
            confirm.data) == (1, Command.CONFIRM, 88888, 889, b"")
    assert parse_frame(V2_DENY).command == Command.DENY


def test_vector_3_parses_and_its_bad_checksum_is_denied_with_the_serial() -> None:
    frame = parse_frame(V3_FIRE)
    assert (frame.serial, frame.source, frame.destination) == (0, 0, 0x010203040506)
    assert frame.time.to_datetime(SHANGHAI) == datetime(2020, 10, 22, 17, 13, 24,
                                                         tzinfo=SHANGHAI)
    with pytest.raises(ChecksumError) as caught:
        parse_frame(V3_BAD_CHECKSUM)
    err = caught.value
    assert (err.expected, err.received) == (0x68, 0x63)
    assert (err.serial, err.source, err.destination, err.command) == (0, 0, 0x010203040506, 2)
    assert err.code == "checksum"


@pytest.mark.parametrize("method", ["sum", "sum_from_command", "xor"])
def test_checksum_dialects_round_trip_and_reject_each_other(method: str) -> None:
    raw = hand_frame(7, 2, V1_APP_DATA, checksum=method)
    frame = parse_frame(raw, method)
    assert (frame.serial, frame.data) == (7, V1_APP_DATA)
    assert build_frame(frame, method) == raw
    other = "xor" if method != "xor" else "sum"
    with pytest.raises(ChecksumError):
        parse_frame(raw, other)


def test_big_endian_serial_is_configurable() -> None:
    raw = hand_frame(0x0102, 2, serial_order="big")
    assert parse_frame(raw, serial_order="big").serial == 0x0102
    assert parse_frame(raw).serial == 0x0201
    assert build_frame(parse_frame(raw, serial_order="big"), serial_order="big") == raw


def test_typed_errors_carry_the_serial() -> None:
    bad_end = V1_FIRE[:-2] + b"#!"
    with pytest.raises(BadEndError) as e1:
        parse_frame(bad_end)
    assert e1.value.serial == 1
    oversize = V1_FIRE[:24] + (1025).to_bytes(2, "little") + V1_FIRE[26:]
    with pytest.raises(OversizeError) as e2:
        parse_frame(oversize)
    assert e2.value.serial == 1
    unknown = hand_frame(9, 7)
    with pytest.raises(UnknownCommandError) as e3:
        parse_frame(unknown)
    assert (e3.value.serial, e3.value.command) == (9, 7)
    with pytest.raises(UnknownCommandError):
        parse_frame(hand_frame(9, 0x80))  # vendor range: nothing implemented, so denied
    with pytest.raises(BadStartError):
        parse_frame(b"#" + V1_FIRE[1:])
    with pytest.raises(TruncatedFrameError):
        parse_frame(V1_FIRE[:-1])


def test_length_1024_is_accepted() -> None:
    raw = hand_frame(3, 2, bytes(1024))
    assert len(parse_frame(raw).data) == 1024


def test_clock_sync_example_builds_exactly() -> None:
    frame = Frame(serial=1, command=Command.CONTROL, source=88888, destination=889,
                  time=TimeTag.from_bytes(hx("20 3A 09 1A 09 0C")),
                  data=hx("5A 01 02 3A 09 1A 09 0C"))
    assert build_frame(frame) == RS_CLOCK_SYNC


def test_time_tag_from_aware_time_is_site_local() -> None:
    tag = TimeTag.from_datetime(datetime(2012, 9, 26, 1, 58, 35, tzinfo=UTC), SHANGHAI)
    assert tag.to_bytes() == hx("23 3A 09 1A 09 0C")
    assert tag.to_utc(SHANGHAI) == datetime(2012, 9, 26, 1, 58, 35, tzinfo=UTC)
    assert TimeTag.from_bytes(bytes(6)).to_datetime(SHANGHAI) is None  # month 0
    assert TimeTag(0, 0, 0, 30, 2, 20).to_datetime(SHANGHAI) is None  # 30 February


# -- stream re-assembly --------------------------------------------------------------------


def test_two_frames_in_one_read() -> None:
    reasm = StreamReassembler()
    items = reasm.feed(V1_FIRE + V3_FIRE)
    assert [type(i) for i in items] == [Frame, Frame]
    assert [i.serial for i in items if isinstance(i, Frame)] == [1, 0]


def test_a_frame_split_over_reads_waits_for_the_rest() -> None:
    reasm = StreamReassembler()
    for cut in (1, 2, 20, 26, 27, 50, 75, 77):
        assert reasm.feed(V1_FIRE[:cut]) == []
        items = reasm.feed(V1_FIRE[cut:])
        assert len(items) == 1 and isinstance(items[0], Frame)
        assert reasm.buffered == 0


def test_byte_by_byte() -> None:
    reasm = StreamReassembler()
    items = [i for b in V1_FIRE + V1_FIRE for i in reasm.feed(bytes([b]))]
    assert len(items) == 2 and all(isinstance(i, Frame) for i in items)
    assert reasm.garbage_bytes == 0


def test_garbage_before_start_is_skipped_and_counted() -> None:
    reasm = StreamReassembler()
    items = reasm.feed(b"\x00\xffjunk@" + V1_FIRE + b"xx" + V3_FIRE)
    assert [type(i) for i in items] == [Frame, Frame]
    assert reasm.garbage_bytes == 7 + 2


def test_shorter_declared_length_with_bytes_missing_waits() -> None:
    reasm = StreamReassembler()
    head = V1_FIRE[:40]  # declares 48 bytes of data; only 13 arrived
    assert reasm.feed(head) == []
    assert reasm.buffered == 40
    assert isinstance(reasm.feed(V1_FIRE[40:])[0], Frame)


def test_bad_checksum_in_a_stream_does_not_lose_the_next_frame() -> None:
    reasm = StreamReassembler()
    items = reasm.feed(V3_BAD_CHECKSUM + V1_FIRE)
    assert isinstance(items[0], ChecksumError) and items[0].serial == 0
    assert isinstance(items[1], Frame) and items[1].serial == 1


def test_oversize_is_reported_and_the_stream_recovers() -> None:
    oversize = V1_FIRE[:24] + b"\xff\xff" + V1_FIRE[26:40]
    reasm = StreamReassembler()
    items = reasm.feed(oversize + V1_FIRE)
    assert isinstance(items[0], OversizeError) and items[0].serial == 1
    assert isinstance(items[-1], Frame) and items[-1].serial == 1


def test_a_wrong_length_swallowing_the_next_frame_is_recovered_after_bad_end() -> None:
    # Declares 100 bytes of data, but only 48 follow: the next frame lies inside that span.
    liar = V1_FIRE[:24] + (100).to_bytes(2, "little") + V1_FIRE[26:]
    reasm = StreamReassembler()
    items = reasm.feed(liar + V3_FIRE + V1_FIRE)
    assert isinstance(items[0], BadEndError)
    frames = [i for i in items if isinstance(i, Frame)]
    assert [f.serial for f in frames] == [0, 1]


def test_dialect_can_change_between_frames() -> None:
    reasm = StreamReassembler()
    reasm.push(hand_frame(1, 2, checksum="xor") + hand_frame(2, 2, checksum="xor"))
    reasm.configure("xor", "little")
    assert [i.serial for i in reasm.drain() if isinstance(i, Frame)] == [1, 2]


def test_peek_source_names_the_device_before_parsing() -> None:
    reasm = StreamReassembler()
    reasm.push(b"zz" + V1_FIRE[:17])
    assert reasm.peek_source() is None
    reasm.push(V1_FIRE[17:20])
    assert reasm.peek_source() == 889
    assert reasm.garbage_bytes == 2


def test_a_run_of_at_signs_before_a_frame_is_garbage() -> None:
    reasm = StreamReassembler()
    items = reasm.feed(b"@" * 5000 + V1_FIRE)
    assert [type(i) for i in items] == [Frame]
    assert reasm.garbage_bytes == 5000


def test_a_plausible_but_wrong_length_does_not_hold_back_a_complete_frame() -> None:
    # Garbage that looks like a start declaring 500 bytes, then a real fire frame: the fire
    # must come out now, not when 500 more bytes have arrived.
    fake = b"@@" + bytes(22) + (500).to_bytes(2, "little") + b"\x02"
    reasm = StreamReassembler()
    items = reasm.feed(fake + V1_FIRE)
    assert [type(i) for i in items] == [Frame]
    assert reasm.garbage_bytes == len(fake)
