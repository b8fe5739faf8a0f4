"""From decoded objects to the events guards see: kinds, locations, repeats, restores, time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from contract import NewEvent, Priority
from drivers.fire.appdata import (
    AnalogValue,
    ComponentStatus,
    Operation,
    SystemStatus,
    UitdStatus,
    component_address,
    decode_app_data,
)
from drivers.fire.codec import TimeTag
from drivers.fire.events import EventMapper
from drivers.fire.model import UitdConfig, ZoneLocation
from tests.drivers.fire.vectors import RS_UITD_POWER_FAULT, V1_APP_DATA

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2012, 9, 26, 2, 0, 0, tzinfo=UTC)
UITD = UitdConfig(
    id="uitd-1", address=889, building="1栋",
    locations=(
        ZoneLocation("1栋", system_type=1, system_address=1),
        ZoneLocation("1栋", "3层", "东侧走廊", system_type=1, system_address=1, zone=10),
        ZoneLocation("2栋", "1层", system_type=1, system_address=2),
    ))
ZONE_10 = component_address(10, 2)


def mapper() -> EventMapper:
    return EventMapper(UITD, SHANGHAI)


def component(status: int, *, zone_address: int = ZONE_10,
              time: TimeTag | None = None) -> ComponentStatus:
    return ComponentStatus(1, 1, 42, zone_address, status, "", 0, time)


def kinds(events: list[NewEvent]) -> list[str]:
    return [e.kind for e in events]


def test_vector_1_becomes_a_located_fire_alarm() -> None:
    app = decode_app_data(V1_APP_DATA)
    assert app is not None
    (event,) = mapper().events(app, 1, NOW)
    assert event.device == "uitd-1"
    assert event.kind == "fire.alarm"
    assert event.ts == datetime(2012, 9, 26, 1, 58, 2, tzinfo=UTC)
    d = event.data
    assert {k: d[k] for k in ("v", "uitd", "serial", "system_type", "system_address",
                              "component_type", "zone", "position", "component_address",
                              "status", "states", "test_mode", "description",
                              "location", "location_text", "event_time")} == {
        "v": 1, "uitd": "uitd-1", "serial": 1, "system_type": 1, "system_address": 1,
        "component_type": 40, "zone": 10, "position": 2, "component_address": 0x0002000A,
        "status": 2, "states": ["fire"], "test_mode": True, "description": "",
        "location": {"building": "1栋", "floor": "3层", "area": "东侧走廊"},
        "location_text": "1栋 3层 东侧走廊", "event_time": "2012-09-26T09:58:02+08:00"}
    assert d["system_type_name"] == {"zh": "火灾报警系统", "en": "fire alarm system"}
    assert d["component_type_name"]["zh"] == "感烟火灾探测器"
    assert d["message"].startswith("火警：1栋 3层 东侧走廊")
    assert "测试状态" in d["message"]
    assert event.effective_priority() == Priority.ALARM


def test_location_rules_most_specific_wins_then_default_building() -> None:
    assert UITD.locate(1, 1, 10) == UITD.locations[1]
    assert UITD.locate(1, 1, 11) == UITD.locations[0]
    assert UITD.locate(1, 2, 10) == UITD.locations[2]
    assert UITD.locate(11, 1, 10) == ZoneLocation("1栋")
    assert UitdConfig(id="x", address=1).locate(1, 1, 1) is None


def test_several_bits_give_one_event_each_and_repeats_are_marked() -> None:
    m = mapper()
    first = m.object_events(component(0b0000_0110), 1, NOW)  # fire + fault
    assert kinds(first) == ["fire.alarm", "fire.fault"]
    assert [e.data["repeat"] for e in first] == [False, False]
    again = m.object_events(component(0b0000_0110), 2, NOW)
    assert kinds(again) == ["fire.alarm", "fire.fault"]
    assert [e.data["repeat"] for e in again] == [True, True]


def test_shielded_supervisory_started_feedback_power() -> None:
    events = mapper().object_events(component(0b1_0111_1001), 1, NOW)
    assert kinds(events) == ["fire.shielded", "fire.supervisory", "fire.started",
                             "fire.feedback", "fire.power_fault"]
    assert all(e.data["test_mode"] is False for e in events)


def test_restore_names_what_cleared() -> None:
    m = mapper()
    m.object_events(component(0b110), 1, NOW)
    partial = m.object_events(component(0b100), 2, NOW)  # fire gone, fault stays
    assert kinds(partial) == ["fire.restored", "fire.fault"]
    assert partial[0].data["cleared"] == ["fire"]
    assert partial[1].data["repeat"] is True
    normal = m.object_events(component(0b1), 3, NOW)
    assert kinds(normal) == ["fire.restored"]
    assert normal[0].data["cleared"] == ["fault"]
    assert m.object_events(component(0b1), 4, NOW) == []  # known normal: nothing new


def test_normal_report_with_no_memory_still_restores() -> None:
    (event,) = mapper().object_events(component(0b1), 1, NOW)
    assert event.kind == "fire.restored"
    assert event.data["cleared"] is None


def test_reset_forgets_the_system_so_the_next_fire_is_new() -> None:
    m = mapper()
    m.object_events(component(0b10), 1, NOW)
    (op,) = m.object_events(Operation(1, 1, 0b1, 3), 2, NOW)
    assert op.kind == "fire.operation"
    assert (op.data["operations"], op.data["reset"], op.data["operator"]) == (["reset"], True, 3)
    (fire,) = m.object_events(component(0b10), 3, NOW)
    assert fire.data["repeat"] is False


def test_system_status_reports_and_raises_system_level_conditions() -> None:
    events = mapper().object_events(SystemStatus(1, 1, 0b11_0000_0011), 1, NOW)
    assert kinds(events) == ["fire.system_status", "fire.alarm", "fire.power_fault",
                             "fire.power_fault"]
    assert events[0].data["states"] == ["fire", "main_power_fault", "backup_power_fault"]
    assert [e.data["condition"] for e in events[2:]] == ["main_power_fault",
                                                         "backup_power_fault"]
    assert events[1].data["scope"] == "system"
    assert events[1].data["location"] == {"building": "1栋", "floor": None, "area": None}


def test_uitd_power_fault() -> None:
    app = decode_app_data(RS_UITD_POWER_FAULT[27:-3])
    assert app is not None
    events = mapper().events(app, 1, NOW)
    assert kinds(events) == ["uitd.status", "uitd.power_fault"]
    assert events[1].data["condition"] == "main_power_fault"
    assert events[1].data["test_mode"] is True  # status byte 0x08: bit 0 clear
    later = mapper().object_events(UitdStatus(0b1), 2, NOW)
    assert kinds(later) == ["uitd.status", "uitd.restored"]


def test_analog_is_telemetry_with_a_decimal_value() -> None:
    (event,) = mapper().object_events(AnalogValue(1, 1, 31, ZONE_10, 3, 235), 1, NOW)
    assert event.kind == "fire.analog"
    assert (event.data["value"], event.data["unit"]) == ("23.5", "℃")
    assert event.data["analog_type_name"]["zh"] == "温度"
    assert event.effective_priority() == Priority.TELEMETRY


def test_event_time_falls_back_to_receipt_when_absent_invalid_or_far_ahead() -> None:
    m = mapper()
    (absent,) = m.object_events(component(0b10), 1, NOW)
    assert (absent.ts, absent.data["event_time"]) == (NOW, None)
    (invalid,) = m.object_events(component(0b10, time=TimeTag(0, 0, 0, 0, 0, 0)), 2, NOW)
    assert invalid.ts == NOW
    ahead = TimeTag(0, 0, 12, 1, 1, 30)  # 2030
    (future,) = m.object_events(component(0b10, time=ahead), 3, NOW)
    assert future.ts == NOW
    assert future.data["event_time"] == "2030-01-01T12:00:00+08:00"


def test_bare_building_and_floor_numbers_read_as_places() -> None:
    assert ZoneLocation("1", "3", "东侧走廊").text == "1号楼 3层 东侧走廊"
    assert ZoneLocation("A座", "B1").text == "A座 B1"
