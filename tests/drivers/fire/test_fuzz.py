"""Fuzz the receiving path: whatever arrives on the socket, the only exceptions are the typed
frame errors (which the server denies), and decoding the data of any sound frame never fails."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.fire.appdata import decode_app_data, decode_description
from drivers.fire.codec import (
    MAX_APP_DATA,
    OVERHEAD,
    Frame,
    FrameError,
    StreamReassembler,
    parse_frame,
)
from drivers.fire.events import EventMapper
from drivers.fire.model import UitdConfig, ZoneLocation
from tests.drivers.fire.vectors import (
    RS_DUTY_CHECK_ANSWERED,
    RS_RESPONSE_81,
    RS_UITD_POWER_FAULT,
    V1_FIRE,
    V3_FIRE,
    hand_frame,
    hx,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 1, 1, tzinfo=UTC)
UITD = UitdConfig(id="u", address=889, building="1栋",
                  locations=(ZoneLocation("1栋", "3层", zone=10),))
VALID = [V1_FIRE, V3_FIRE, RS_UITD_POWER_FAULT, RS_DUTY_CHECK_ANSWERED, RS_RESPONSE_81,
         hand_frame(5, 2), hand_frame(6, 2, hx("03 01 01 01 1F 0A 00 02 00 03 EB 00"))]


def consume(chunks: list[bytes], method: str = "sum") -> list[Frame | FrameError]:
    reasm = StreamReassembler(method)
    mapper = EventMapper(UITD, ZoneInfo("Asia/Shanghai"))
    items: list[Frame | FrameError] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        for item in reasm.feed(chunk):
            assert isinstance(item, Frame | FrameError)
            if isinstance(item, Frame):
                app = decode_app_data(item.data)
                if app is not None:
                    mapper.events(app, item.serial, NOW)
            items.append(item)
        assert reasm.buffered < OVERHEAD + MAX_APP_DATA + 1
    assert reasm.garbage_bytes <= total
    return items


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=8),
       st.sampled_from(["sum", "sum_from_command", "xor"]))
def test_random_bytes(chunks: list[bytes], method: str) -> None:
    consume(chunks, method)


@FUZZ
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(0, 500), st.integers(0, 255)), max_size=6),
       st.lists(st.integers(0, 600), max_size=6),
       st.lists(st.integers(0, 500), max_size=3))
def test_mutated_valid_frames(frames: list[bytes], flips: list[tuple[int, int]],
                              cuts: list[int], deletions: list[int]) -> None:
    data = bytearray(b"".join(frames))
    for pos, value in flips:
        data[pos % len(data)] = value
    for pos in deletions:
        if data:
            del data[pos % len(data)]
    consume(split(bytes(data), cuts))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(VALID),
                          st.binary(max_size=40).map(lambda b: b.replace(b"@", b"."))),
                min_size=1, max_size=6),
       st.lists(st.integers(0, 800), max_size=10))
def test_frames_survive_garbage_between_and_any_split(pairs: list[tuple[bytes, bytes]],
                                                      cuts: list[int]) -> None:
    stream = b"".join(garbage + frame for frame, garbage in pairs)
    items = consume(split(stream, cuts))
    assert [i for i in items if not isinstance(i, Frame)] == []
    assert [parse_frame(f) for f, _ in pairs] == items


@FUZZ
@given(st.binary(max_size=1100))
def test_decoders_never_raise(data: bytes) -> None:
    mapper = EventMapper(UITD, ZoneInfo("Asia/Shanghai"))
    for body in (data, bytes([data[0] % 4 + 1]) + data[1:] if data else b"",
                 b"\x02" + data[1:] if data else b"", b"\x15\x01" + data):
        app = decode_app_data(body)
        if app is not None:
            for event in mapper.events(app, 0, NOW):
                assert event.device == "u"
    text, errors = decode_description(data[:31])
    assert errors >= 0 and isinstance(text, str)
