"""Fuzz the parsers: whatever a camera (or anyone on the LAN) sends, the only exception that
may come out is LprParseError, which the endpoint turns into a 400 with the gate shut."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.lpr import LaneReply, LprParseError
from drivers.lpr.hikvision import Part, parse_anpr_xml, parse_push
from drivers.lpr.snapshot import decode_jpeg, jpeg_dimensions
from drivers.lpr.vzenith import (
    PlainTextLed,
    VzenithPlate,
    build_reply,
    parse_heartbeat,
    peek_offline_plateid,
)
from drivers.lpr.vzenith import parse_push as parse_vzenith
from tests.drivers.lpr.test_hikvision import alert
from tests.drivers.lpr.test_server import vector9_body

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
           | st.sampled_from(["4", "_无_", "", "粤Z9065澳", "0x10", "1e3", " 7 ", "AAAA"]))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                           max_leaves=20)
numbers = st.integers(min_value=-(2**40), max_value=2**40) | scalars
rect = st.fixed_dictionaries({}, optional={k: numbers for k in ("left", "top", "right",
                                                                  "bottom")})
plate_fields: dict[str, Any] = {
    "license": scalars, "colorType": numbers, "type": numbers, "confidence": numbers,
    "direction": numbers, "triggerType": numbers, "plateid": numbers, "isoffline": numbers,
    "location": st.fixed_dictionaries({}, optional={"RECT": rect | json_values}) | json_values,
    "timeStamp": st.fixed_dictionaries({}, optional={"Timeval": st.fixed_dictionaries(
        {}, optional={"sec": numbers, "usec": numbers})}) | json_values,
    "imageFile": scalars | st.binary(max_size=64).map(lambda b: b.hex()),
    "imageFragmentFile": scalars,
}
plate_result = st.fixed_dictionaries({}, optional=plate_fields)
top_fields = st.fixed_dictionaries({}, optional={"channel": numbers, "deviceName": scalars,
                                                 "ipaddr": scalars, "serialno": scalars})
documents = st.one_of(
    st.builds(lambda pr, top: {"AlarmInfoPlate": {**top, "result": {"PlateResult": pr}}},
              plate_result, top_fields),
    st.builds(lambda r: {"AlarmInfoPlate": {"result": r}}, json_values),
    json_values,
)


def check_vzenith(body: bytes) -> None:
    try:
        out = parse_vzenith(body)
    except LprParseError:
        pass
    else:
        if isinstance(out, VzenithPlate):
            out.dedupe_key()
            assert isinstance(out.plate_raw, str)
            assert (out.direction, out.trigger, out.colour_name, out.type_name) is not None
    peek_offline_plateid(body)


@FUZZ
@given(documents)
def test_vzenith_structured(doc: Any) -> None:
    check_vzenith(json.dumps(doc, ensure_ascii=False).encode())


@FUZZ
@given(st.binary(max_size=600))
def test_vzenith_bytes(body: bytes) -> None:
    check_vzenith(body)


@FUZZ
@given(st.data())
def test_vzenith_mutated_vector(data: st.DataObject) -> None:
    body = bytearray(vector9_body())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    check_vzenith(bytes(body[: data.draw(st.integers(0, len(body)))]))


@FUZZ
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=300), max_size=8))
def test_heartbeat_form(fields: dict[str, str]) -> None:
    try:
        parse_heartbeat(fields)
    except LprParseError:
        pass


def check_xml(data: bytes) -> None:
    try:
        a = parse_anpr_xml(data)
    except LprParseError:
        return
    assert isinstance(a.plate_raw, str)
    a.colour_code  # noqa: B018  (the property must not raise either)


@FUZZ
@given(st.binary(max_size=600))
def test_xml_bytes(data: bytes) -> None:
    check_xml(data)


text = st.text(max_size=40)
xml_docs = st.builds(
    lambda root, ns, ev, plate, conf, when, chan, colour: (
        f'<?xml version="1.0" encoding="UTF-8"?><{root}{ns}>'
        f"<eventType>{escape(ev)}</eventType><dateTime>{escape(when)}</dateTime>"
        f"<channelID>{escape(chan)}</channelID><ANPR><licensePlate>{escape(plate)}"
        f"</licensePlate><confidenceLevel>{escape(conf)}</confidenceLevel>"
        f"<plateColor>{escape(colour)}</plateColor></ANPR></{root}>").encode(),
    st.sampled_from(["EventNotificationAlert", "Other", "x"]),
    st.sampled_from(["", ' xmlns="http://www.hikvision.com/ver20/XMLSchema"', ' xmlns:a="b"']),
    st.sampled_from(["ANPR", "anpr", "videoloss", ""]) | text,
    text, st.integers(-5, 200).map(str) | text,
    st.sampled_from(["2026-11-23T09:15:02+08:00", "2026-11-23T09:15:02",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "Z"]) | text,
    st.integers(-(2**40), 2**40).map(str) | text,
    st.sampled_from(["blue", "yellowGreen", "unknown"]) | text,
)


@FUZZ
@given(xml_docs)
def test_xml_structured(data: bytes) -> None:
    check_xml(data)


@FUZZ
@given(st.data())
def test_xml_mutated(data: st.DataObject) -> None:
    body = bytearray(alert())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    check_xml(bytes(body[: data.draw(st.integers(0, len(body)))]))


@FUZZ
@given(st.lists(st.tuples(text, text, text, st.binary(max_size=200)), max_size=5))
def test_hikvision_parts(parts: list[tuple[str, str, str, bytes]]) -> None:
    try:
        parse_push([Part(*p) for p in parts])
    except LprParseError:
        pass


@FUZZ
@given(st.binary(max_size=400).map(lambda b: b"\xff\xd8" + b))
def test_jpeg_garbage_never_raises(data: bytes) -> None:
    dims = jpeg_dimensions(data)
    assert dims is None or (dims[0] > 0 and dims[1] > 0)
    decode_jpeg(data)


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=6), st.none() | st.text(max_size=20),
       st.booleans())
def test_any_led_text_builds_a_valid_reply(lines: list[str], voice: str | None,
                                           opened: bool) -> None:
    body = build_reply(LaneReply(open=opened, led_lines=lines, voice=voice, relay_pulse=True),
                       plateid=1, relay_io=0, led=PlainTextLed())
    json.dumps(body)
    for item in body["Response_AlarmInfoPlate"].get("serialData", []):
        assert item["dataLen"] <= 512
