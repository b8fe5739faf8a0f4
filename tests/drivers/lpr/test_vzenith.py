"""Vzenith push parsing and replies, pinned to the facts in docs/protocols.md §3 (not to the
simulator): literal JSON in, literal JSON out."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from drivers.lpr import LaneReply, LprParseError, PlainTextLed
from drivers.lpr.snapshot import Rect
from drivers.lpr.vzenith import (
    RecentRecords,
    VzenithOther,
    VzenithPlate,
    build_offline_ack,
    build_reply,
    parse_heartbeat,
    parse_push,
    peek_offline_plateid,
)


def vector9(**overrides: Any) -> dict[str, Any]:
    """the Vzenith vector of docs/protocols.md §3, with the fields §2 lists around it."""
    result: dict[str, Any] = {
        "license": "粤Z9065澳", "colorType": 4, "type": 14, "confidence": 96, "direction": 0,
        "triggerType": 4, "plateid": 21085, "isoffline": 0,
        "location": {"RECT": {"left": 1002, "top": 565, "right": 1263, "bottom": 674}},
        "timeStamp": {"Timeval": {"sec": 1686299994, "usec": 687772}},
    }
    result.update(overrides)
    return {"AlarmInfoPlate": {"channel": 0, "deviceName": "R5-V1.0",
                               "ipaddr": "192.168.55.131", "serialno": "fe71e106-57263272",
                               "result": {"PlateResult": result}}}


def parse(doc: dict[str, Any]) -> VzenithPlate:
    out = parse_push(json.dumps(doc, ensure_ascii=False).encode())
    assert isinstance(out, VzenithPlate)
    return out


def test_vector_9_parses() -> None:
    p = parse(vector9())
    assert p.plate_raw == "粤Z9065澳"
    assert (p.colour_code, p.type_code, p.plateid) == (4, 14, 21085)
    assert p.colour_name == "black" and p.type_name == "macau"
    assert p.trigger == "software" and p.direction == "unknown" and p.confidence == 96
    assert p.offline is False
    assert p.rect == Rect(1002, 565, 1263, 674)
    assert p.camera_ts == datetime(2023, 6, 9, 8, 39, 54, 687772, tzinfo=UTC)
    assert (p.serialno, p.ipaddr, p.device_name) == ("fe71e106-57263272", "192.168.55.131",
                                                     "R5-V1.0")


def test_vector_9_open_reply() -> None:
    body = build_reply(LaneReply(open=True, reason="monthly pass"), plateid=21085)
    assert body == {"Response_AlarmInfoPlate": {"info": "ok", "content": "monthly pass",
                                                "is_pay": "true", "plateid": 21085}}


def test_shut_reply_and_relay_only_when_asked() -> None:
    shut = build_reply(LaneReply(open=False, relay_pulse=True), relay_io=1)
    assert shut["Response_AlarmInfoPlate"]["info"] == "no"
    assert "ivs_ioctrl" not in shut["Response_AlarmInfoPlate"]
    opened = build_reply(LaneReply(open=True, relay_pulse=True), relay_io=1)
    assert opened["Response_AlarmInfoPlate"]["ivs_ioctrl"] == {"io": 1, "value": 2, "delay": 500}
    no_relay = build_reply(LaneReply(open=True, relay_pulse=True), relay_io=None)
    assert "ivs_ioctrl" not in no_relay["Response_AlarmInfoPlate"]


def test_led_lines_are_gb2312_with_crlf() -> None:
    body = build_reply(LaneReply(open=False, led_lines=["粤B12345", "¥12.00"]))
    (serial,) = body["Response_AlarmInfoPlate"]["serialData"]
    # 粤 = D4C1 in GB2312, CR LF between lines, ¥ shown as the full-width ￥ (A3A4).
    expected = bytes.fromhex("d4c1 42 31 32 33 34 35 0d0a a3a4 31 32 2e 30 30")
    assert serial == {"serialChannel": 0, "data": base64.b64encode(expected).decode(),
                      "dataLen": len(expected)}


def test_led_encoder_caps_length_and_replaces_unknown_characters() -> None:
    enc = PlainTextLed(max_bytes=10)
    assert enc.encode_text(["ABCDEFGH", "IJKLMN"]) == b"ABCDEFGH"
    assert PlainTextLed().encode_text(["€5"]) == b"?5"
    assert enc([], None) == []


def test_voice_prompt_is_base64_utf8() -> None:
    body = build_reply(LaneReply(open=True, voice="欢迎光临"))
    voice = body["Response_AlarmInfoPlate"]["playserver_json_request"]
    assert voice["type"] == "ps_voice_play"
    assert voice["voice"] == "5qyi6L+O5YWJ5Li0"  # the camera document's own example


def test_offline_ack_literal() -> None:
    assert build_offline_ack(123) == {
        "Response_AlarmInfoPlate": {"ContinuePushOffline": {"plateid": 123, "continue": 1}}}
    assert build_offline_ack(5, cont=False)["Response_AlarmInfoPlate"][
        "ContinuePushOffline"]["continue"] == 0


def test_offline_flag_and_no_plate_marker() -> None:
    p = parse(vector9(isoffline=1, license="_无_", type=31))
    assert p.offline and p.plate_raw == "" and p.licence_sent == "_无_"
    assert p.type_name == "no_plate"


def test_quoted_numbers_are_accepted() -> None:
    p = parse(vector9(colorType="4", plateid="21085"))
    assert (p.colour_code, p.plateid) == (4, 21085)


@pytest.mark.parametrize(("override", "field"), [
    ({"colorType": "blue"}, "colorType"),
    ({"colorType": True}, "colorType"),
    ({"confidence": 101}, "confidence"),
    ({"plateid": -1}, "plateid"),
    ({"isoffline": 2}, "isoffline"),
    ({"license": 12345}, "license"),
    ({"license": "粤" * 40}, "license"),
    ({"imageFile": 7}, "imageFile"),
    ({"location": []}, "location"),
    ({"location": {"RECT": {"left": 1}}}, "RECT"),
    ({"timeStamp": {"Timeval": {"sec": "soon"}}}, "sec"),
    ({"timeStamp": {"Timeval": {"sec": 1, "usec": 1_000_000}}}, "usec"),
])
def test_wrong_types_name_the_field(override: dict[str, Any], field: str) -> None:
    with pytest.raises(LprParseError) as err:
        parse(vector9(**override))
    assert err.value.field.endswith(field), err.value.field


def test_missing_licence_and_broken_structure() -> None:
    doc = vector9()
    del doc["AlarmInfoPlate"]["result"]["PlateResult"]["license"]
    with pytest.raises(LprParseError, match="license"):
        parse(doc)
    for body, field in ((b"[]", "body"), (b"{", "body"), (b'{"x": 1}', "AlarmInfoPlate"),
                        (b'{"AlarmInfoPlate": {"result": 3}}', "AlarmInfoPlate.result"),
                        (b'{"AlarmInfoPlate": {"result": {}}}', "PlateResult"),
                        (b"\xff\xfe\x00garbage", "body")):
        with pytest.raises(LprParseError) as err:
            parse_push(body)
        assert err.value.field.endswith(field), (body, err.value.field)


def test_gbk_encoded_body_is_understood() -> None:
    body = json.dumps(vector9(), ensure_ascii=False).encode("gbk")
    out = parse_push(body)
    assert isinstance(out, VzenithPlate) and out.plate_raw == "粤Z9065澳"


def test_images_decoded_and_bad_base64_reported_not_fatal() -> None:
    p = parse(vector9(imageFile=base64.b64encode(b"\xff\xd8jpeg").decode(),
                      imageFragmentFile="@@not base64@@"))
    assert p.image == b"\xff\xd8jpeg"
    assert p.fragment is None and p.image_problems == ("imageFragmentFile: not base64",)


def test_other_pushes_are_recognised() -> None:
    out = parse_push(b'{"AlarmGioIn": {"result": {"TriggerResult": {"source": 0}}}}')
    assert out == VzenithOther("AlarmGioIn")


def test_dedupe_key_needs_same_licence_and_time() -> None:
    a = parse(vector9())
    assert a.dedupe_key() == parse(vector9()).dedupe_key()
    assert a.dedupe_key() != parse(vector9(license="粤B12345")).dedupe_key()
    assert parse(vector9(plateid=None)).dedupe_key() is None


def test_peek_offline_plateid_of_a_broken_record() -> None:
    broken = json.dumps(vector9(isoffline=1, colorType="blue")).encode()
    assert peek_offline_plateid(broken) == 21085
    assert peek_offline_plateid(json.dumps(vector9(colorType="x")).encode()) is None
    assert peek_offline_plateid(b"garbage") is None


def test_heartbeat_form() -> None:
    hb = parse_heartbeat({"device_name": "IVS", "ipaddr": "192.168.109.40", "port": "80",
                          "user_name": "admin", "pass_wd": "secret", "serialno": "d85b1269",
                          "channel_num": "1"})
    assert hb.as_dict() == {"device_name": "IVS", "ipaddr": "192.168.109.40",
                            "serialno": "d85b1269"}
    assert "secret" not in repr(hb)
    with pytest.raises(LprParseError):
        parse_heartbeat({"port": "80"})


def test_recent_records_forget_the_oldest() -> None:
    mem: RecentRecords[int, str] = RecentRecords(size=3)
    for i in range(5):
        mem.put("cam", i, f"r{i}")
    assert [mem.get("cam", i) for i in range(5)] == [None, None, "r2", "r3", "r4"]
    assert mem.get("other", 4) is None and len(mem) == 3
    mem.discard("cam", 4)
    assert mem.get("cam", 4) is None
