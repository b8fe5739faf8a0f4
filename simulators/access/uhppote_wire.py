"""The 微耕 / UHPPOTE (UT0311-L0x) controller packet, written from the protocol facts.

Every request and reply is one 64-byte UDP datagram: byte 0 is the start of message 0x17,
byte 1 the function code, bytes 4–7 the controller's serial number (little-endian), then the
payload at fixed offsets. Integers are little-endian, dates and times BCD (``20261207`` is
``20 26 12 07``). A reply repeats the function code and the serial. Events the controller
pushes to its listener use function 0x20 and the status layout (``STATUS_*`` offsets).

Written for the simulator from the facts in docs/protocols.md; it shares no code with the
driver (which uses the ``uhppoted`` library), so a misreading on one side shows in the tests.
"""

from __future__ import annotations

import datetime as dt
import struct

SIZE = 64
SOM = 0x17
#: Later firmware (v6.62) marks pushed events with 0x19 instead of 0x17.
SOM_EVENT_V662 = 0x19
#: Guards the destructive requests (clear cards, set event index, clear profiles).
MAGIC = 0x55AAAA55

GET_STATUS = 0x20
SET_TIME = 0x30
GET_TIME = 0x32
OPEN_DOOR = 0x40
PUT_CARD = 0x50
DELETE_CARD = 0x52
DELETE_ALL_CARDS = 0x54
GET_CARDS = 0x58
GET_CARD = 0x5A
GET_CARD_AT_INDEX = 0x5C
SET_DOOR = 0x80
GET_DOOR = 0x82
SET_TIME_PROFILE = 0x88
CLEAR_TIME_PROFILES = 0x8A
GET_TIME_PROFILE = 0x98
RECORD_SPECIAL_EVENTS = 0x8E
SET_LISTENER = 0x90
GET_LISTENER = 0x92
GET_CONTROLLER = 0x94
GET_EVENT = 0xB0
SET_EVENT_INDEX = 0xB2
GET_EVENT_INDEX = 0xB4
EVENT = 0x20

# Event types (byte 12) and reasons (byte 27).
TYPE_NONE, TYPE_SWIPE, TYPE_DOOR, TYPE_ALARM, TYPE_OVERWRITTEN = 0x00, 0x01, 0x02, 0x03, 0xFF
REASON_SWIPE = 0x01
REASON_NO_PRIVILEGE = 0x06
REASON_NORMALLY_CLOSED = 0x0B
REASON_TIME_PROFILE = 0x0F
REASON_DENIED = 0x12
REASON_BUTTON = 0x14
REASON_DOOR_OPEN = 0x17
REASON_DOOR_CLOSED = 0x18
REASON_HELD_OPEN = 0x25
REASON_FORCED_OPEN = 0x26
REASON_REMOTE_OPEN = 0x2C
DIRECTION_IN, DIRECTION_OUT = 1, 2

# Door control modes (set-door-control byte 9).
NORMALLY_OPEN, NORMALLY_CLOSED, CONTROLLED = 1, 2, 3
#: get-card-by-index: the slot at this index was deleted.
DELETED_CARD = 0xFFFFFFFF

# Status / event layout.
STATUS_EVENT_INDEX, STATUS_EVENT_TYPE, STATUS_GRANTED, STATUS_DOOR = 8, 12, 13, 14
STATUS_DIRECTION, STATUS_CARD, STATUS_TIMESTAMP, STATUS_REASON = 15, 16, 20, 27
STATUS_DOOR_OPEN, STATUS_BUTTON, STATUS_ERROR, STATUS_TIME = 28, 32, 36, 37
STATUS_SEQUENCE, STATUS_SPECIAL, STATUS_RELAYS, STATUS_INPUTS, STATUS_DATE = 40, 48, 49, 50, 51


class WireError(ValueError):
    """A datagram that is not a request this codec can read."""


def request_header(packet: bytes) -> tuple[int, int]:
    """(function code, serial) of a request; raise WireError on a bad length or start byte."""
    if len(packet) != SIZE:
        raise WireError(f"length {len(packet)}, expected {SIZE}")
    if packet[0] != SOM:
        raise WireError(f"start of message 0x{packet[0]:02x}, expected 0x{SOM:02x}")
    return packet[1], u32(packet, 4)


def reply(function: int, serial: int) -> bytearray:
    out = bytearray(SIZE)
    out[0], out[1] = SOM, function
    put_u32(out, 4, serial)
    return out


def u16(packet: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", packet, offset)[0])


def u32(packet: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", packet, offset)[0])


def u24(packet: bytes, offset: int) -> int:
    return packet[offset] | packet[offset + 1] << 8 | packet[offset + 2] << 16


def put_u16(packet: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<H", packet, offset, value)


def put_u32(packet: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<I", packet, offset, value)


def put_u24(packet: bytearray, offset: int, value: int) -> None:
    packet[offset:offset + 3] = bytes((value & 0xFF, value >> 8 & 0xFF, value >> 16 & 0xFF))


def _bcd(digits: str) -> bytes:
    return bytes.fromhex(digits)


def _digits(packet: bytes, offset: int, n: int) -> str:
    return packet[offset:offset + n].hex()


def put_datetime(packet: bytearray, offset: int, value: dt.datetime) -> None:
    """7 bytes BCD: YYYY MM DD HH mm ss."""
    packet[offset:offset + 7] = _bcd(value.strftime("%Y%m%d%H%M%S"))


def get_datetime(packet: bytes, offset: int) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(_digits(packet, offset, 7), "%Y%m%d%H%M%S")
    except ValueError:
        return None


def put_date(packet: bytearray, offset: int, value: dt.date) -> None:
    """4 bytes BCD: YYYY MM DD."""
    packet[offset:offset + 4] = _bcd(value.strftime("%Y%m%d"))


def get_date(packet: bytes, offset: int) -> dt.date | None:
    try:
        return dt.datetime.strptime(_digits(packet, offset, 4), "%Y%m%d").date()
    except ValueError:
        return None


def put_short_date(packet: bytearray, offset: int, value: dt.date) -> None:
    """3 bytes BCD: YY MM DD (the status block's system date)."""
    packet[offset:offset + 3] = _bcd(value.strftime("%y%m%d"))


def put_time(packet: bytearray, offset: int, value: dt.time) -> None:
    """3 bytes BCD: HH mm ss."""
    packet[offset:offset + 3] = _bcd(value.strftime("%H%M%S"))


def get_ipv4(packet: bytes, offset: int) -> str:
    return ".".join(str(b) for b in packet[offset:offset + 4])


def put_ipv4(packet: bytearray, offset: int, address: str) -> None:
    packet[offset:offset + 4] = bytes(int(p) for p in address.split("."))


def put_hhmm(packet: bytearray, offset: int, value: dt.time) -> None:
    """2 bytes BCD: HH mm (time profile segments)."""
    packet[offset:offset + 2] = _bcd(value.strftime("%H%M"))


def get_hhmm(packet: bytes, offset: int) -> dt.time | None:
    try:
        return dt.datetime.strptime(_digits(packet, offset, 2), "%H%M").time()
    except ValueError:
        return None
