"""The simulated UITD's own GB/T 26875.3 codec, pinned to the docs/protocols.md §2 vectors.

Vectors 1–3 are copied from docs/protocols.md; the ``RS_*`` frames are further worked
examples of the same public source ([RS] ActorLancer/GB-T-26875.3.2011-rs) that docs/protocols.md
cites, kept here as extra pins for the request/response/control types.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.fire import wire

VECTOR_1 = bytes.fromhex(
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 30 00 02 02 01 01"
    " 01 28 0A 00 02 00 02 00" + " 20" * 30 + " 00 02 3A 09 1A 09 0C 46 23 23")
VECTOR_2_CONFIRM = bytes.fromhex(
    "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 03 AB 23 23")
VECTOR_2_DENY = VECTOR_2_CONFIRM[:-4] + bytes.fromhex("06 AE 23 23")
VECTOR_3 = bytes.fromhex(
    "40 40 00 00 01 01 18 0D 11 16 0A 14" + " 00" * 6 + " 06 05 04 03 02 01 30 00 02 02 01 01 03"
    " 00 D9 00 06 00 02 00 A3 C1 C7 F8 A3 B1 B2 E3 DF C8 B2 B8 D7 DF C0 C8" + " 00" * 15
    + " 30 12 13 01 08 14 68 23 23")
VECTOR_3_BAD = VECTOR_3[:-3] + b"\x63##"

_RS_HEAD_UP = "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00"
_RS_HEAD_DOWN = "40 40 01 00 01 01 20 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00"
RS_READ_UITD_STATUS = bytes.fromhex(_RS_HEAD_DOWN + " 03 00 04 51 01 00 FE 23 23")
RS_UITD_STATUS_RESPONSE = bytes.fromhex(
    _RS_HEAD_UP + " 09 00 05 15 01 08 02 3A 09 1A 09 0C 45 23 23")
RS_UITD_DUTY_ANSWERED = bytes.fromhex(
    _RS_HEAD_UP + " 0A 00 02 18 01 20 01 02 3A 09 1A 09 0C 5F 23 23")
RS_CLOCK_SYNC = bytes.fromhex(_RS_HEAD_DOWN + " 08 00 01 5A 01 02 3A 09 1A 09 0C 7D 23 23")
RS_DUTY_CHECK = bytes.fromhex(_RS_HEAD_DOWN + " 03 00 01 5B 01 0A 0F 23 23")

HEADER_TIME_1 = datetime(2012, 9, 26, 9, 58, 32)
EVENT_TIME_1 = datetime(2012, 9, 26, 9, 58, 2)


def test_vector_1_is_rebuilt_from_its_meaning() -> None:
    obj = wire.component_status_object(1, 1, 40, 10, 2, 0x0002, "", EVENT_TIME_1, pad=0x20)
    frame = wire.encode_frame(1, wire.Command.SEND_DATA, wire.app_data(2, [obj]), source=889,
                              destination=88888, when=HEADER_TIME_1)
    assert frame == VECTOR_1


def test_vector_3_is_rebuilt_with_its_gb18030_description() -> None:
    obj = wire.component_status_object(1, 3, 0, 0x00D9, 6, 0x0002, "Ａ区１层呷哺走廊",
                                       datetime(2020, 8, 1, 19, 18, 48), pad=0x00)
    frame = wire.encode_frame(0, 2, wire.app_data(2, [obj]), source=0,
                              destination=0x010203040506,
                              when=datetime(2020, 10, 22, 17, 13, 24))
    assert frame == VECTOR_3


def test_vector_1_decodes_to_a_fire_at_zone_10_position_2() -> None:
    f = wire.decode_frame(VECTOR_1)
    assert (f.serial, f.command, f.source, f.destination) == (1, 2, 889, 88888)
    assert f.checksum == 0x46
    app = wire.parse_app_data(f.data)
    assert app.type_flag == 2
    [obj] = app.objects
    assert obj == wire.ComponentStatus(1, 1, 40, 10, 2, 0x0002, "", True, EVENT_TIME_1)


def test_vector_3_decodes_its_description_and_address() -> None:
    [obj] = wire.parse_app_data(wire.decode_frame(VECTOR_3).data).objects
    assert isinstance(obj, wire.ComponentStatus)
    assert obj.description == "Ａ区１层呷哺走廊"
    assert obj.address == 0x000600D9
    assert (obj.system_type, obj.system_address, obj.status) == (1, 3, 0x0002)


def test_vector_2_confirm_and_deny_decode() -> None:
    confirm = wire.decode_frame(VECTOR_2_CONFIRM)
    assert (confirm.serial, confirm.command, confirm.data) == (1, wire.Command.CONFIRM, b"")
    assert (confirm.source, confirm.destination) == (88888, 889)
    assert confirm.time == datetime(2012, 9, 26, 9, 58, 35)
    assert wire.decode_frame(VECTOR_2_DENY).command == wire.Command.DENY


def test_a_confirm_built_as_a_reply_matches_vector_2() -> None:
    to = wire.decode_frame(VECTOR_1)
    reply = wire.reply_frame(to, wire.Command.CONFIRM, when=datetime(2012, 9, 26, 9, 58, 35))
    assert reply == VECTOR_2_CONFIRM


def test_vector_3_with_checksum_0x63_is_rejected() -> None:
    with pytest.raises(wire.FrameError) as info:
        wire.decode_frame(VECTOR_3_BAD)
    assert info.value.reason == "checksum"
    assert info.value.serial == 0


def test_rs_examples_for_requests_responses_and_controls() -> None:
    req = wire.decode_frame(RS_READ_UITD_STATUS)
    assert req.command == wire.Command.REQUEST
    assert wire.parse_app_data(req.data).type_flag == 81
    resp = wire.encode_frame(1, wire.Command.RESPONSE,
                             wire.app_data(21, [wire.uitd_status_object(0x08, EVENT_TIME_1)]),
                             source=889, destination=88888, when=HEADER_TIME_1)
    assert resp == RS_UITD_STATUS_RESPONSE
    duty = wire.encode_frame(1, 2, wire.app_data(24, [wire.uitd_operation_object(
        0x20, 1, EVENT_TIME_1)]), source=889, destination=88888, when=HEADER_TIME_1)
    assert duty == RS_UITD_DUTY_ANSWERED
    [sync] = wire.parse_app_data(wire.decode_frame(RS_CLOCK_SYNC).data).objects
    assert sync == wire.ClockSync(EVENT_TIME_1)
    [check] = wire.parse_app_data(wire.decode_frame(RS_DUTY_CHECK).data).objects
    assert check == wire.DutyCheck(10)


@pytest.mark.parametrize(("method", "expected"), [("sum", 0x46), ("sum_from_command", 0x71)])
def test_checksum_methods_on_vector_1(method: wire.ChecksumMethod, expected: int) -> None:
    body = VECTOR_1[2:-3]
    assert wire.compute_checksum(body, method) == expected
    xor = 0
    for b in body:
        xor ^= b
    assert wire.compute_checksum(body, "xor") == xor


@pytest.mark.parametrize("method", ["sum_from_command", "xor"])
def test_frames_of_another_checksum_method_are_rejected_by_the_standard(
        method: wire.ChecksumMethod) -> None:
    frame = wire.encode_frame(7, 2, b"\x15\x01\x08" + bytes(6), source=889, destination=88888,
                              when=HEADER_TIME_1, checksum=method)
    assert wire.decode_frame(frame, method).serial == 7
    with pytest.raises(wire.FrameError):
        wire.decode_frame(frame, "sum")


def test_description_padding_and_cutting() -> None:
    assert wire.encode_description("", pad=0x20) == b" " * 30 + b"\x00"
    assert wire.encode_description("", pad=0x20, nul_terminated=False) == b" " * 31
    long = wire.encode_description("消" * 20)  # 2 bytes each: 15 fit before the NUL
    assert len(long) == 31
    assert wire.decode_description(long) == ("消" * 15, True)
    assert wire.decode_description(b"\x81" + bytes(30))[1] is False


def test_splitter_separates_stuck_together_frames() -> None:
    hb = wire.encode_frame(0, 2, source=889, destination=88888, when=HEADER_TIME_1)
    out = wire.FrameSplitter().feed(VECTOR_1 + VECTOR_2_CONFIRM + hb)
    assert [(f.serial, f.command) for f in out if isinstance(f, wire.Frame)] == [
        (1, 2), (1, 3), (0, 2)]
    assert not [e for e in out if isinstance(e, wire.FrameError)]


def test_splitter_reassembles_byte_by_byte() -> None:
    splitter = wire.FrameSplitter()
    got: list[wire.Frame | wire.FrameError] = []
    for b in VECTOR_3 + VECTOR_2_DENY:
        got += splitter.feed(bytes([b]))
    assert [g.command for g in got if isinstance(g, wire.Frame)] == [2, 6]
    assert splitter.buffered == 0


def test_splitter_reports_bad_frames_and_keeps_the_good_ones() -> None:
    oversize = bytearray(VECTOR_2_CONFIRM)
    oversize[24:26] = (2000).to_bytes(2, "little")
    broken_end = VECTOR_2_CONFIRM[:-2] + b"#!"
    stream = b"noise" + VECTOR_3_BAD + bytes(oversize) + broken_end + VECTOR_1
    out = wire.FrameSplitter().feed(stream)
    errors = [e for e in out if isinstance(e, wire.FrameError)]
    frames = [f for f in out if isinstance(f, wire.Frame)]
    assert [f.serial for f in frames] == [1] and frames[0].data == VECTOR_1[27:-3]
    reasons = [e.reason for e in errors]
    assert reasons[:2] == ["garbage", "checksum"]
    assert {"length", "end"} <= set(reasons)
    assert next(e for e in errors if e.reason == "checksum").serial == 0


def test_splitter_waits_for_a_frame_that_is_still_arriving() -> None:
    splitter = wire.FrameSplitter()
    assert splitter.feed(VECTOR_1[:50]) == []
    [frame] = splitter.feed(VECTOR_1[50:])
    assert isinstance(frame, wire.Frame) and frame.serial == 1


def _feed_in_chunks(stream: bytes, chunk: int) -> tuple[wire.FrameSplitter,
                                                         list[wire.Frame | wire.FrameError]]:
    splitter = wire.FrameSplitter()
    out: list[wire.Frame | wire.FrameError] = []
    for i in range(0, len(stream), chunk):
        out += splitter.feed(stream[i:i + chunk])
    return splitter, out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80), st.sampled_from(
    [VECTOR_1, VECTOR_2_CONFIRM, VECTOR_3, VECTOR_3_BAD, b"@@", b"##", b"@"])), max_size=12),
    st.integers(min_value=1, max_value=64))
def test_splitter_survives_any_bytes(parts: list[bytes], chunk: int) -> None:
    splitter, out = _feed_in_chunks(b"".join(parts), chunk)
    for item in out:
        if isinstance(item, wire.Frame):
            assert len(item.data) <= wire.MAX_DATA_LEN
            try:
                wire.parse_app_data(item.data)
            except ValueError:
                pass  # unreadable application data is the caller's deny, not a crash
    assert splitter.buffered < wire.OVERHEAD + wire.MAX_DATA_LEN


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([VECTOR_1, VECTOR_2_CONFIRM, VECTOR_2_DENY, VECTOR_3,
                                 VECTOR_3_BAD]), max_size=10),
       st.integers(min_value=1, max_value=100))
def test_splitter_finds_every_frame_however_the_stream_is_cut(parts: list[bytes],
                                                              chunk: int) -> None:
    splitter, out = _feed_in_chunks(b"".join(parts), chunk)
    good = [wire.decode_frame(p) for p in parts if p != VECTOR_3_BAD]
    assert [f for f in out if isinstance(f, wire.Frame)] == good
    assert [e.reason for e in out if isinstance(e, wire.FrameError)] == [
        "checksum"] * parts.count(VECTOR_3_BAD)
    assert splitter.buffered == 0
