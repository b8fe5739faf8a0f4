"""Application data: the vectors' documented meaning, the other decoded types, and encoders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from drivers.fire.appdata import (
    AnalogValue,
    ComponentStatus,
    Operation,
    SystemStatus,
    Target,
    UitdOperation,
    UitdStatus,
    component_address,
    decode_app_data,
    decode_description,
    encode_clock_sync,
    encode_description,
    encode_duty_check,
    encode_request,
)
from drivers.fire.codec import TimeTag
from drivers.fire.names import component_type_name, system_type_name
from tests.drivers.fire.vectors import (
    RS_CLOCK_SYNC,
    RS_DUTY_CHECK,
    RS_DUTY_CHECK_ANSWERED,
    RS_REQUEST_81,
    RS_UITD_POWER_FAULT,
    V1_APP_DATA,
    V3_FIRE,
    hx,
)

T = hx("02 3A 09 1A 09 0C")


def test_vector_1_is_a_fire_at_zone_10_position_2() -> None:
    app = decode_app_data(V1_APP_DATA)
    assert app is not None
    assert (app.type_flag, app.count, app.problems) == (2, 1, ())
    (obj,) = app.objects
    assert isinstance(obj, ComponentStatus)
    assert (obj.system_type, obj.system_address) == (1, 1)
    assert obj.component_type == 40
    assert (obj.zone, obj.position) == (10, 2)
    assert obj.component_address == 0x0002000A
    assert obj.status == 0x0002
    assert obj.states == ["fire"]
    assert obj.test_mode is True  # bit 0 clear, yet a genuine fire
    assert obj.description == ""
    assert obj.time == TimeTag(2, 58, 9, 26, 9, 12)
    assert system_type_name(1).zh == "火灾报警系统"
    assert component_type_name(40).as_dict() == {"zh": "感烟火灾探测器", "en": "smoke detector"}


def test_vector_3_description_is_gb18030() -> None:
    app = decode_app_data(V3_FIRE[27:-3])
    assert app is not None
    (obj,) = app.objects
    assert isinstance(obj, ComponentStatus)
    assert (obj.system_type, obj.system_address, obj.component_type) == (1, 3, 0)
    assert obj.component_address == 0x000600D9
    assert (obj.zone, obj.position) == (0xD9, 6)
    assert obj.states == ["fire"]
    assert obj.description == "Ａ区１层呷哺走廊"
    assert obj.description_errors == 0
    assert obj.time == TimeTag(0x30, 0x12, 0x13, 1, 8, 20)


def test_undecodable_description_bytes_are_replaced_and_counted() -> None:
    text, errors = decode_description(hx("A3 C1 FF 80 C7 F8") + b"  " + bytes(23))
    assert errors >= 1
    assert text.startswith("Ａ") and "\ufffd" in text and text.endswith("区")
    assert decode_description(hx("B2 E3 DF"))[1] == 1  # cut in the middle of a character
    assert decode_description(b"   \x00junk")[0] == ""
    assert encode_description("3层东侧走廊") [:11].decode("gb18030") == "3层东侧走廊"


def test_uitd_power_fault_and_duty_check_answer() -> None:
    status = decode_app_data(RS_UITD_POWER_FAULT[27:-3])
    assert status is not None
    (obj,) = status.objects
    assert isinstance(obj, UitdStatus)
    assert obj.states == ["main_power_fault"]
    op = decode_app_data(RS_DUTY_CHECK_ANSWERED[27:-3])
    assert op is not None
    (o,) = op.objects
    assert isinstance(o, UitdOperation)
    assert (o.operations, o.operator) == (["duty_check_answered"], 1)


def test_system_status_analog_and_operation() -> None:
    sys_app = decode_app_data(hx("01 02") + hx("01 01 07 03") + T + hx("0A 02 01 20") + T)
    assert sys_app is not None
    s1, s2 = sys_app.objects
    assert isinstance(s1, SystemStatus) and isinstance(s2, SystemStatus)
    assert s1.states == ["fire", "fault", "main_power_fault", "backup_power_fault"]
    assert not s1.test_mode
    assert s2.states == ["reset"]

    analog = decode_app_data(hx("03 02 01 01 1F 0A 00 02 00 03 EB 00") + T
                             + hx("0B 01 5B 05 00 00 00 04 F6 FF") + T)
    assert analog is not None
    a1, a2 = analog.objects
    assert isinstance(a1, AnalogValue) and isinstance(a2, AnalogValue)
    assert (a1.value, a1.unit, a1.zone, a1.position) == (Decimal("23.5"), "℃", 10, 2)
    assert (a2.raw, a2.value, a2.unit) == (-10, Decimal("-1.0"), "MPa")

    ops = decode_app_data(hx("04 01 01 01 03 07") + T)
    assert ops is not None
    (op,) = ops.objects
    assert isinstance(op, Operation)
    assert (op.operations, op.operator) == (["reset", "silence"], 7)


def test_objects_without_time_tags_are_read_too() -> None:
    app = decode_app_data(hx("01 02 01 01 03 00 01 02 01 00"))
    assert app is not None and app.problems == ()
    assert [o.time for o in app.objects] == [None, None]
    assert [o.status for o in app.objects if isinstance(o, SystemStatus)] == [3, 1]


def test_truncated_last_object_keeps_the_whole_ones() -> None:
    two_fires = V1_APP_DATA[:1] + b"\x02" + V1_APP_DATA[2:] + V1_APP_DATA[2:20]
    app = decode_app_data(two_fires)
    assert app is not None
    assert len(app.objects) == 1 and app.problems
    assert app.objects[0].states == ["fire"]  # type: ignore[union-attr]


def test_unknown_type_is_kept_raw() -> None:
    app = decode_app_data(hx("19 01 01 01"))  # type 25: UITD software version
    assert app is not None
    assert (app.known, app.type_flag, app.objects, app.raw) == (False, 25, (), hx("19 01 01 01"))
    assert decode_app_data(b"") is None  # heartbeat


def test_requests_match_the_published_frames() -> None:
    assert encode_request(81) == RS_REQUEST_81[27:-3]
    assert encode_clock_sync(TimeTag.from_bytes(T)) == RS_CLOCK_SYNC[27:-3]
    assert encode_duty_check(10) == RS_DUTY_CHECK[27:-3]


def test_facility_requests_name_their_targets() -> None:
    assert encode_request(61) == hx("3D 01 01 01")
    assert encode_request(61, [Target(1, 1), Target(10, 2)]) == hx("3D 02 01 01 0A 02")
    addr = component_address(10, 2)
    assert encode_request(62, [Target(1, 1, addr)]) == hx("3E 01 01 01 0A 00 02 00")
    since = TimeTag.from_bytes(T)
    assert encode_request(84, records=5, since=since) == hx("54 01 05") + T
    assert encode_request(64, records=5, since=since) == hx("40 01 01 01 05") + T
    with pytest.raises(ValueError):
        encode_request(70)
    with pytest.raises(ValueError):
        encode_request(84)
