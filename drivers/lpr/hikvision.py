"""Hikvision ISAPI ANPR push: ``multipart/form-data`` with ``anpr.xml`` and two JPEGs.

Facts in docs/protocols.md §3. The XML root is ``EventNotificationAlert`` (with or without the
``http://www.hikvision.com/ver20/XMLSchema`` namespace) carrying ipAddress, channelID,
dateTime (ISO 8601 with offset), eventType, UUID and ``ANPR{licensePlate, direction,
confidenceLevel, plateType, plateColor, vehicleType}``.

The camera sends no credentials and does not act on the HTTP reply: the endpoint restricts
pushes by source address and the gate driver executes the decision.

XML safety: any DTD (``<!DOCTYPE``, and so ``<!ENTITY``) is refused before parsing. The
stdlib parser does not fetch external entities, but internal ones still allow "billion laughs"
expansion, and an ANPR alert never needs a DTD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from drivers.lpr.model import LprParseError

BEIJING = timezone(timedelta(hours=8), "CST")
MAX_XML_BYTES = 256 * 1024
NO_PLATE_MARKERS = frozenset({"", "无车牌", "无牌", "无牌车", "unknown", "none"})
# Hikvision plateColor names → Vzenith colorType codes (the code space PlateRead uses).
COLOUR_CODES = {"unknown": 0, "blue": 1, "yellow": 2, "white": 3, "black": 4, "green": 5,
                "yellowgreen": 6, "newenergyyellowgreen": 6, "greenyellow": 6}

_MARKUP_DECL = re.compile(r"<!(?!--|\[CDATA\[)")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_\-]+)[\"']",
                            re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HikAnpr:
    """One ``EventNotificationAlert``; ANPR fields are None for other event types."""

    event_type: str
    plate_raw: str
    direction: str | None
    confidence: int | None
    plate_type: str | None
    plate_colour: str | None
    vehicle_type: str | None
    camera_ts: datetime | None
    ip_address: str | None
    channel_id: int | None
    uuid: str | None
    retransmission: bool = False

    @property
    def is_anpr(self) -> bool:
        return self.event_type.upper() == "ANPR"

    @property
    def colour_code(self) -> int | None:
        if self.plate_colour is None:
            return None
        return COLOUR_CODES.get(self.plate_colour.replace("_", "").lower(), 0)


@dataclass(frozen=True, slots=True)
class Part:
    """One part of the multipart body as received."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class HikPush:
    alert: HikAnpr
    detection_jpeg: bytes | None
    plate_jpeg: bytes | None


def parse_push(parts: Sequence[Part], naive_tz: tzinfo = BEIJING) -> HikPush:
    """Find the XML and the two pictures among the parts (by name, filename or type)."""
    xml_part: Part | None = None
    detection = plate = None
    for part in parts:
        label = f"{part.name} {part.filename}".lower()
        if "licenseplatepicture" in label:
            plate = part.data or None
        elif "detectionpicture" in label:
            detection = part.data or None
        elif xml_part is None and (".xml" in label or "xml" in part.content_type.lower()):
            xml_part = part
    if xml_part is None:
        raise LprParseError("anpr.xml", "no XML part in the multipart body")
    return HikPush(parse_anpr_xml(xml_part.data, naive_tz), detection, plate)


def parse_anpr_xml(data: bytes, naive_tz: tzinfo = BEIJING) -> HikAnpr:
    """Parse ``anpr.xml``; raise ``LprParseError`` naming the offending element."""
    if len(data) > MAX_XML_BYTES:
        raise LprParseError("anpr.xml", f"larger than {MAX_XML_BYTES} bytes")
    text = _decode(data)
    if _MARKUP_DECL.search(text):
        raise LprParseError("anpr.xml", "DOCTYPE/ENTITY declarations are refused")
    try:
        root = ET.fromstring(_XML_DECL.sub("", text, count=1))
    except ET.ParseError as exc:
        raise LprParseError("anpr.xml", f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "EventNotificationAlert":
        raise LprParseError("anpr.xml", f"root is {_local(root.tag)!r}, "
                                        "expected EventNotificationAlert")
    event_type = _text(root, "eventType") or ""
    if not event_type:
        raise LprParseError("EventNotificationAlert.eventType", "missing")
    anpr = _child(root, "ANPR")
    is_anpr = event_type.upper() == "ANPR"
    if is_anpr and anpr is None:
        raise LprParseError("EventNotificationAlert.ANPR", "missing for eventType ANPR")
    plate = None
    if anpr is not None:
        plate = _text(anpr, "licensePlate")
        if is_anpr and plate is None:
            raise LprParseError("ANPR.licensePlate", "missing")
        if plate is not None and len(plate) > 32:
            raise LprParseError("ANPR.licensePlate", "longer than 32 characters")
    plate = plate or ""
    return HikAnpr(
        event_type=event_type,
        plate_raw="" if plate.lower() in NO_PLATE_MARKERS else plate,
        direction=_text(anpr, "direction"),
        confidence=_int(anpr, "confidenceLevel", "ANPR.confidenceLevel", 0, 100),
        plate_type=_text(anpr, "plateType"),
        plate_colour=_text(anpr, "plateColor"),
        vehicle_type=_text(anpr, "vehicleType"),
        camera_ts=_datetime(_text(root, "dateTime"), naive_tz),
        ip_address=_text(root, "ipAddress"),
        channel_id=_int(root, "channelID", "EventNotificationAlert.channelID", 0, 65535),
        uuid=_text(root, "UUID"),
        retransmission=(_text(root, "isDataRetransmission") or "").lower() == "true",
    )


def _decode(data: bytes) -> str:
    """ISAPI is UTF-8; some firmware declares GB2312/GBK. Anything else is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    declared = _DECL_ENCODING.match(data)
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    if encoding in ("gb2312", "gbk", "gb18030"):
        encoding = "gb18030"
    elif encoding not in ("utf-8", "utf8"):
        raise LprParseError("anpr.xml", f"unsupported encoding {encoding!r}")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise LprParseError("anpr.xml", f"not valid {encoding} text") from None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(parent: ET.Element | None, name: str) -> ET.Element | None:
    if parent is None:
        return None
    for child in parent:
        if _local(child.tag) == name:
            return child
    return None


def _text(parent: ET.Element | None, name: str) -> str | None:
    child = _child(parent, name)
    if child is None or child.text is None:
        return None
    value = child.text.strip()
    if len(value) > 256:
        raise LprParseError(name, "longer than 256 characters")
    return value or None


def _int(parent: ET.Element | None, name: str, path: str, lo: int, hi: int) -> int | None:
    value = _text(parent, name)
    if value is None:
        return None
    if not re.fullmatch(r"-?[0-9]{1,9}", value):
        raise LprParseError(path, f"must be an integer, got {value[:20]!r}")
    number = int(value)
    if not lo <= number <= hi:
        raise LprParseError(path, f"must be within [{lo}, {hi}], got {number}")
    return number


def _datetime(value: str | None, naive_tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=naive_tz)
        return ts.astimezone(UTC)
    except (ValueError, OverflowError):
        raise LprParseError("EventNotificationAlert.dateTime",
                            f"not an ISO 8601 time: {value[:40]!r}") from None
