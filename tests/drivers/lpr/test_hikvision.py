"""Hikvision ISAPI ANPR parsing, pinned to docs/protocols.md §3 with hand-written XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drivers.lpr import LprParseError
from drivers.lpr.hikvision import Part, parse_anpr_xml, parse_push

NS = 'version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"'


def alert(ns: str = NS, *, plate: str = "粤B12345", when: str = "2026-11-23T09:15:02+08:00",
          event: str = "ANPR", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert {ns}>
  <ipAddress>10.20.1.64</ipAddress>
  <channelID>1</channelID>
  <dateTime>{when}</dateTime>
  <eventType>{event}</eventType>
  <ANPR>
    <licensePlate>{plate}</licensePlate>
    <direction>reverse</direction>
    <confidenceLevel>87</confidenceLevel>
    <plateType>92TypeCivil</plateType>
    <plateColor>green</plateColor>
    <vehicleType>SUVMPV</vehicleType>
  </ANPR>
  <UUID>4c5a0a0e-2f1c-11b2-8000-a41437a0f2b6</UUID>{extra}
</EventNotificationAlert>""".encode()


@pytest.mark.parametrize("ns", [NS, 'version="2.0"', ""])
def test_with_or_without_namespace(ns: str) -> None:
    a = parse_anpr_xml(alert(ns))
    assert a.is_anpr and a.plate_raw == "粤B12345"
    assert (a.direction, a.confidence, a.plate_type, a.plate_colour, a.vehicle_type) == (
        "reverse", 87, "92TypeCivil", "green", "SUVMPV")
    assert a.colour_code == 5
    assert a.camera_ts == datetime(2026, 11, 23, 1, 15, 2, tzinfo=UTC)
    assert (a.ip_address, a.channel_id) == ("10.20.1.64", 1)
    assert a.uuid == "4c5a0a0e-2f1c-11b2-8000-a41437a0f2b6"
    assert a.retransmission is False


def test_time_without_offset_is_beijing_time() -> None:
    a = parse_anpr_xml(alert(when="2026-11-23T09:15:02"))
    assert a.camera_ts == datetime(2026, 11, 23, 1, 15, 2, tzinfo=UTC)


def test_no_plate_and_retransmission() -> None:
    a = parse_anpr_xml(alert(plate="无车牌",
                             extra="<isDataRetransmission>true</isDataRetransmission>"))
    assert a.plate_raw == "" and a.retransmission is True


def test_other_event_types_are_not_plate_reads() -> None:
    a = parse_anpr_xml(b"<EventNotificationAlert><eventType>videoloss</eventType>"
                       b"<eventState>inactive</eventState></EventNotificationAlert>")
    assert not a.is_anpr and a.plate_raw == ""


def test_gb2312_declared_xml() -> None:
    data = alert().decode().replace('encoding="UTF-8"', 'encoding="GB2312"').encode("gb2312")
    assert parse_anpr_xml(data).plate_raw == "粤B12345"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<EventNotificationAlert><eventType>ANPR</eventType><ANPR><licensePlate>&lol2;</licensePlate>
</ANPR></EventNotificationAlert>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<EventNotificationAlert><eventType>ANPR</eventType><ANPR><licensePlate>&xxe;</licensePlate>
</ANPR></EventNotificationAlert>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL,
                                  b'<!doctype EventNotificationAlert SYSTEM "x.dtd"><a/>'])
def test_dtd_is_refused(data: bytes) -> None:
    with pytest.raises(LprParseError, match="DOCTYPE"):
        parse_anpr_xml(data)


def test_comments_and_cdata_are_fine() -> None:
    data = alert(plate="<![CDATA[粤B12345]]>").replace(b"<ANPR>", b"<!-- x --><ANPR>")
    assert parse_anpr_xml(data).plate_raw == "粤B12345"


@pytest.mark.parametrize(("data", "field"), [
    (b"<not-closed>", "anpr.xml"),
    (b"<Other><eventType>ANPR</eventType></Other>", "anpr.xml"),
    (b"<EventNotificationAlert/>", "eventType"),
    (b"<EventNotificationAlert><eventType>ANPR</eventType></EventNotificationAlert>", "ANPR"),
    (b"<EventNotificationAlert><eventType>ANPR</eventType><ANPR/></EventNotificationAlert>",
     "licensePlate"),
    (alert().replace(b"<confidenceLevel>87", b"<confidenceLevel>high"), "confidenceLevel"),
    (alert().replace(b"<channelID>1", b"<channelID>-3"), "channelID"),
    (alert(when="yesterday"), "dateTime"),
    (alert().replace(b'encoding="UTF-8"', b'encoding="UTF-16"'), "anpr.xml"),
    (b"\xff\xfe<x/>", "anpr.xml"),
])
def test_malformed_names_the_field(data: bytes, field: str) -> None:
    with pytest.raises(LprParseError) as err:
        parse_anpr_xml(data)
    assert err.value.field.endswith(field), err.value.field


def test_parts_found_by_name_or_filename() -> None:
    push = parse_push([
        Part("anpr.xml", "anpr.xml", "application/xml", alert()),
        Part("detectionPicture.jpg", "detectionPicture.jpg", "image/jpeg", b"\xff\xd8full"),
        Part("x", "licensePlatePicture.jpg", "image/jpeg", b"\xff\xd8crop"),
    ])
    assert push.alert.plate_raw == "粤B12345"
    assert (push.detection_jpeg, push.plate_jpeg) == (b"\xff\xd8full", b"\xff\xd8crop")
    bare = parse_push([Part("MoveDetection", "", "text/xml", alert())])
    assert bare.detection_jpeg is None and bare.plate_jpeg is None
    with pytest.raises(LprParseError, match="no XML part"):
        parse_push([Part("detectionPicture.jpg", "", "image/jpeg", b"\xff\xd8")])
