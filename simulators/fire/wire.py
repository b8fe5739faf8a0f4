# Over 500 lines on purpose: the UITD side of GB/T 26875.3: frames, types and vectors together.
"""GB/T 26875.3-2011 frames as a user information transmission device (UITD) sends and reads them.

Written from docs/protocols.md §1 only and pinned to its test vectors; this module
imports nothing from drivers/, edge/ or cloud/, so a bug in the edge's decoder cannot hide
behind the same bug here.

Frame: ``@@`` · serial (2 B LE) · version (2 B, ``01 01``) · time tag (sec, min, hour, day,
month, year-2000) · source address (6 B LE) · destination address (6 B LE) · application data
length L (2 B LE, ≤ 1024) · command (1 B) · application data (L B) · checksum (1 B) · ``##``.

Checksum methods (vendors disagree, so it is a per-device setting):

* ``sum`` (the standard): bytes 2 … 26+L (serial through the last data byte) summed mod 256;
* ``sum_from_command``: the command byte and the application data summed mod 256;
* ``xor``: bytes 2 … 26+L XOR-ed together (same range as ``sum``; docs/protocols.md names the
  method, not the range, so this is our reading).

Time tags carry the device's local wall time and no zone: this module works with naive
datetimes; the caller converts (the UITD runs on site time, Asia/Shanghai by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Literal, get_args

START = b"@@"
END = b"##"
VERSION = b"\x01\x01"
HEADER_LEN = 27  # start … command
OVERHEAD = 30  # header + checksum + end
MAX_DATA_LEN = 1024
DESCRIPTION_LEN = 31

ChecksumMethod = Literal["sum", "sum_from_command", "xor"]
CHECKSUM_METHODS: tuple[str, ...] = get_args(ChecksumMethod)


class Command(IntEnum):
    CONTROL = 1
    SEND_DATA = 2
    CONFIRM = 3
    REQUEST = 4
    RESPONSE = 5
    DENY = 6


class DataType(IntEnum):
    """Type flags of the application data unit (the ones this simulator speaks)."""

    SYSTEM_STATUS = 1
    COMPONENT_STATUS = 2
    ANALOG = 3
    OPERATION = 4
    SOFTWARE_VERSION = 5
    UITD_STATUS = 21
    UITD_OPERATION = 24
    UITD_SOFTWARE_VERSION = 25
    UITD_TIME = 28
    READ_SYSTEM_STATUS = 61
    READ_COMPONENT_STATUS = 62
    READ_ANALOG = 63
    READ_UITD_STATUS = 81
    READ_UITD_SOFTWARE_VERSION = 85
    READ_UITD_TIME = 88
    INIT_UITD = 89
    CLOCK_SYNC = 90
    DUTY_CHECK = 91


#: Most objects one frame may carry, per type (docs/protocols.md §2).
MAX_OBJECTS = {1: 102, 2: 22, 3: 63, 4: 102, 21: 1, 24: 127}


class FrameError(ValueError):
    """Bytes that are not a good frame. ``serial`` is set when the header was readable, so a
    receiver can deny with the same serial; ``reason`` is one of ``garbage`` (bytes before a
    start marker), ``length`` (declared length over 1024), ``end`` (no ``##`` where the length
    says), ``checksum``, ``truncated`` (a lone frame shorter than it declares)."""

    def __init__(self, reason: str, message: str, *, serial: int | None = None,
                 raw: bytes = b"") -> None:
        super().__init__(message)
        self.reason = reason
        self.serial = serial
        self.raw = raw


# -- checksum and fields ----------------------------------------------------------------------

def compute_checksum(body: bytes, method: ChecksumMethod = "sum") -> int:
    """Checksum of ``body`` = frame bytes 2 … 26+L (serial through the last data byte)."""
    if method == "sum":
        return sum(body) & 0xFF
    if method == "sum_from_command":
        return sum(body[HEADER_LEN - 3:]) & 0xFF
    if method == "xor":
        acc = 0
        for b in body:
            acc ^= b
        return acc
    raise ValueError(f"checksum method must be one of {CHECKSUM_METHODS}, not {method!r}")


def encode_time(when: datetime) -> bytes:
    """6-byte time tag: sec, min, hour, day, month, year-2000 (local wall time)."""
    if not 2000 <= when.year <= 2255:
        raise ValueError(f"year {when.year} does not fit a time tag (2000–2255)")
    return bytes((when.second, when.minute, when.hour, when.day, when.month, when.year - 2000))


def decode_time(raw: bytes) -> datetime | None:
    """The naive local datetime of a time tag, or None when it is not a real date."""
    if len(raw) != 6:
        return None
    sec, minute, hour, day, month, year = raw
    try:
        return datetime(2000 + year, month, day, hour, minute, sec)
    except ValueError:
        return None


def encode_address(address: int) -> bytes:
    if not 0 <= address < 1 << 48:
        raise ValueError(f"address {address} does not fit 6 bytes")
    return address.to_bytes(6, "little")


def encode_description(text: str, *, pad: int = 0x00, nul_terminated: bool = True) -> bytes:
    """The 31-byte GB18030 component description.

    The text is followed by ``pad`` bytes; with ``nul_terminated`` the last byte is always
    0x00, so at most 30 bytes of text fit. Vector 1 is ``pad=0x20`` (30 spaces and a NUL),
    vector 3 ``pad=0x00``. Text that does not fit is cut at a character boundary.
    """
    if not 0 <= pad <= 0xFF:
        raise ValueError("pad must be a byte value")
    room = DESCRIPTION_LEN - 1 if nul_terminated else DESCRIPTION_LEN
    out = bytearray()
    for ch in text:
        enc = ch.encode("gb18030")
        if len(out) + len(enc) > room:
            break
        out += enc
    out += bytes([pad]) * (room - len(out))
    if nul_terminated:
        out += b"\x00"
    return bytes(out)


def decode_description(raw: bytes) -> tuple[str, bool]:
    """(text, well-formed): cut at the first NUL, trailing spaces dropped; undecodable bytes
    become U+FFFD and well-formed is False."""
    cut = raw.split(b"\x00", 1)[0].rstrip(b" ")
    try:
        return cut.decode("gb18030"), True
    except UnicodeDecodeError:
        return cut.decode("gb18030", errors="replace"), False


# -- frames -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Frame:
    """One frame; ``time`` is the header's local wall time (None when the tag is no date)."""

    serial: int
    command: int
    data: bytes = b""
    source: int = 0
    destination: int = 0
    time_raw: bytes = bytes(6)
    version: bytes = VERSION
    checksum: int = 0

    @property
    def time(self) -> datetime | None:
        return decode_time(self.time_raw)

    @property
    def type_flag(self) -> int | None:
        return self.data[0] if self.data else None


def encode_frame(serial: int, command: int, data: bytes = b"", *, source: int, destination: int,
                 when: datetime, checksum: ChecksumMethod = "sum",
                 version: bytes = VERSION) -> bytes:
    """A complete frame, ``@@`` to ``##``."""
    if not 0 <= serial <= 0xFFFF:
        raise ValueError(f"serial {serial} does not fit 2 bytes")
    if not 0 <= command <= 0xFF:
        raise ValueError(f"command {command} does not fit a byte")
    if len(data) > MAX_DATA_LEN:
        raise ValueError(f"application data is {len(data)} bytes, at most {MAX_DATA_LEN}")
    if len(version) != 2:
        raise ValueError("version is 2 bytes")
    body = (serial.to_bytes(2, "little") + version + encode_time(when)
            + encode_address(source) + encode_address(destination)
            + len(data).to_bytes(2, "little") + bytes([command]) + data)
    return START + body + bytes([compute_checksum(body, checksum)]) + END


def reply_frame(to: Frame, command: int, data: bytes = b"", *, when: datetime,
                checksum: ChecksumMethod = "sum") -> bytes:
    """A confirm/deny/response to ``to``: same serial, addresses swapped, the replier's time."""
    return encode_frame(to.serial, command, data, source=to.destination,
                        destination=to.source, when=when, checksum=checksum,
                        version=to.version)


def _parse_complete(raw: bytes, method: ChecksumMethod) -> Frame:
    """``raw`` is exactly one frame by its declared length; check end marker and checksum."""
    serial = int.from_bytes(raw[2:4], "little")
    length = int.from_bytes(raw[24:26], "little")
    if raw[-2:] != END:
        raise FrameError("end", f"帧尾不是 ## / no end marker (serial {serial})",
                         serial=serial, raw=raw)
    body = raw[2:HEADER_LEN + length]
    got, want = raw[HEADER_LEN + length], compute_checksum(body, method)
    if got != want:
        raise FrameError("checksum", f"校验和错误 / bad checksum 0x{got:02X}, expected "
                         f"0x{want:02X} (serial {serial}, {method})", serial=serial, raw=raw)
    return Frame(serial=serial, command=raw[26], data=bytes(raw[HEADER_LEN:HEADER_LEN + length]),
                 source=int.from_bytes(raw[12:18], "little"),
                 destination=int.from_bytes(raw[18:24], "little"), time_raw=bytes(raw[6:12]),
                 version=bytes(raw[4:6]), checksum=got)


def decode_frame(raw: bytes, checksum: ChecksumMethod = "sum") -> Frame:
    """Decode exactly one frame; anything else raises FrameError."""
    if raw[:2] != START:
        raise FrameError("garbage", "帧头不是 @@ / frame does not start with @@", raw=raw)
    if len(raw) < HEADER_LEN:
        raise FrameError("truncated", f"帧不完整 / {len(raw)} bytes is shorter than a header",
                         raw=raw)
    serial = int.from_bytes(raw[2:4], "little")
    length = int.from_bytes(raw[24:26], "little")
    if length > MAX_DATA_LEN:
        raise FrameError("length", f"数据长度超限 / declared length {length} > {MAX_DATA_LEN}",
                         serial=serial, raw=raw)
    if len(raw) < OVERHEAD + length:
        raise FrameError("truncated", f"帧不完整 / {len(raw)} of {OVERHEAD + length} bytes",
                         serial=serial, raw=raw)
    if len(raw) > OVERHEAD + length:
        raise FrameError("end", f"帧尾后有多余字节 / {len(raw) - OVERHEAD - length} bytes after "
                         "the frame", serial=serial, raw=raw)
    return _parse_complete(raw, checksum)


@dataclass
class FrameSplitter:
    """Re-assembles frames from a TCP stream: several per read, or one across many reads.

    ``feed`` returns, in stream order, every complete frame and every error found; bytes of an
    unfinished frame stay buffered. After a bad start, length or end marker it resyncs on the
    next ``@@``; a frame with a bad checksum is dropped whole.
    """

    checksum: ChecksumMethod = "sum"
    _buf: bytearray = field(default_factory=bytearray)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[Frame | FrameError]:
        buf = self._buf
        buf += chunk
        out: list[Frame | FrameError] = []
        while buf:
            at = buf.find(START)
            if at < 0:
                keep = 1 if buf[-1:] == START[:1] else 0  # maybe the first half of "@@"
                junk = bytes(buf[:len(buf) - keep])
                del buf[:len(buf) - keep]
                if junk:
                    out.append(FrameError("garbage", f"丢弃 {len(junk)} 字节 / dropped "
                                          f"{len(junk)} bytes outside a frame", raw=junk))
                break
            if at:
                junk = bytes(buf[:at])
                del buf[:at]
                out.append(FrameError("garbage", f"丢弃 {len(junk)} 字节 / dropped "
                                      f"{len(junk)} bytes outside a frame", raw=junk))
            if len(buf) < HEADER_LEN:
                break
            serial = int.from_bytes(buf[2:4], "little")
            length = int.from_bytes(buf[24:26], "little")
            if length > MAX_DATA_LEN:
                out.append(FrameError("length", f"数据长度超限 / declared length {length} > "
                                      f"{MAX_DATA_LEN}", serial=serial,
                                      raw=bytes(buf[:HEADER_LEN])))
                del buf[:2]
                continue
            total = OVERHEAD + length
            if len(buf) < total:
                break
            raw = bytes(buf[:total])
            try:
                frame = _parse_complete(raw, self.checksum)
            except FrameError as err:
                out.append(err)
                del buf[:total if err.reason == "checksum" else 2]
                continue
            del buf[:total]
            out.append(frame)
        return out


# -- application data: building ---------------------------------------------------------------

def component_address(zone: int, position: int) -> bytes:
    """4-byte component address: zone (2 B LE) then position (2 B LE)."""
    if not (0 <= zone <= 0xFFFF and 0 <= position <= 0xFFFF):
        raise ValueError("zone and position are 0 … 65535")
    return zone.to_bytes(2, "little") + position.to_bytes(2, "little")


def _u8(name: str, v: int) -> int:
    if not 0 <= v <= 0xFF:
        raise ValueError(f"{name} {v} does not fit a byte")
    return v


def _u16(name: str, v: int) -> bytes:
    if not 0 <= v <= 0xFFFF:
        raise ValueError(f"{name} {v} does not fit 2 bytes")
    return v.to_bytes(2, "little")


def app_data(type_flag: int, objects: Sequence[bytes]) -> bytes:
    """Type flag, object count, objects (each already body + time tag where the type has one)."""
    limit = MAX_OBJECTS.get(type_flag, 255)
    if len(objects) > limit:
        raise ValueError(f"type {type_flag} carries at most {limit} objects, not {len(objects)}")
    return bytes([_u8("type flag", type_flag), len(objects)]) + b"".join(objects)


def system_status_object(system_type: int, system_address: int, status: int,
                         when: datetime) -> bytes:
    """Type 1 object: system type, system address, status bits (2 B LE), time."""
    return (bytes([_u8("system type", system_type), _u8("system address", system_address)])
            + _u16("status", status) + encode_time(when))


def component_status_object(system_type: int, system_address: int, component_type: int,
                            zone: int, position: int, status: int, description: str,
                            when: datetime, *, pad: int = 0x00,
                            nul_terminated: bool = True) -> bytes:
    """Type 2 object: system, component type and address, status bits, 31-byte description,
    time."""
    return (bytes([_u8("system type", system_type), _u8("system address", system_address),
                   _u8("component type", component_type)])
            + component_address(zone, position) + _u16("status", status)
            + encode_description(description, pad=pad, nul_terminated=nul_terminated)
            + encode_time(when))


def analog_object(system_type: int, system_address: int, component_type: int, zone: int,
                  position: int, analog_type: int, value: int, when: datetime) -> bytes:
    """Type 3 object: value is the raw int16 (the unit's resolution is the reader's job)."""
    if not -0x8000 <= value <= 0x7FFF:
        raise ValueError(f"analog value {value} does not fit int16")
    return (bytes([_u8("system type", system_type), _u8("system address", system_address),
                   _u8("component type", component_type)])
            + component_address(zone, position) + bytes([_u8("analog type", analog_type)])
            + value.to_bytes(2, "little", signed=True) + encode_time(when))


def operation_object(system_type: int, system_address: int, flags: int, operator: int,
                     when: datetime) -> bytes:
    """Type 4 object: system, operation flags, operator number, time."""
    return bytes([_u8("system type", system_type), _u8("system address", system_address),
                  _u8("operation flags", flags), _u8("operator", operator)]) + encode_time(when)


def uitd_status_object(status: int, when: datetime) -> bytes:
    """Type 21 object: UITD status bits (1 B), time."""
    return bytes([_u8("UITD status", status)]) + encode_time(when)


def uitd_operation_object(flags: int, operator: int, when: datetime) -> bytes:
    """Type 24 object: operation flags (bit5 = duty check answered), operator, time."""
    return bytes([_u8("operation flags", flags), _u8("operator", operator)]) + encode_time(when)


# -- application data: reading (what the centre sends, and our own frames in tests) -----------

@dataclass(frozen=True, slots=True)
class SystemStatus:
    system_type: int
    system_address: int
    status: int
    time: datetime | None


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    system_type: int
    system_address: int
    component_type: int
    zone: int
    position: int
    status: int
    description: str
    description_ok: bool
    time: datetime | None

    @property
    def address(self) -> int:
        return self.zone | self.position << 16


@dataclass(frozen=True, slots=True)
class Analog:
    system_type: int
    system_address: int
    component_type: int
    zone: int
    position: int
    analog_type: int
    value: int
    time: datetime | None


@dataclass(frozen=True, slots=True)
class Operation:
    """Type 4 (system_type/system_address set) or type 24 (both None)."""

    flags: int
    operator: int
    time: datetime | None
    system_type: int | None = None
    system_address: int | None = None


@dataclass(frozen=True, slots=True)
class UitdStatus:
    status: int
    time: datetime | None


@dataclass(frozen=True, slots=True)
class SystemRef:
    """A request for one system (type 61)."""

    system_type: int
    system_address: int


@dataclass(frozen=True, slots=True)
class ComponentRef:
    """A request for one component (types 62, 63)."""

    system_type: int
    system_address: int
    zone: int
    position: int


@dataclass(frozen=True, slots=True)
class ClockSync:
    """Type 90: the time the centre sets (None when the frame carries no valid time)."""

    time: datetime | None


@dataclass(frozen=True, slots=True)
class DutyCheck:
    """Type 91: answer within ``minutes``."""

    minutes: int


AppObject = (SystemStatus | ComponentStatus | Analog | Operation | UitdStatus | SystemRef
             | ComponentRef | ClockSync | DutyCheck | bytes)


@dataclass(frozen=True, slots=True)
class AppData:
    type_flag: int
    objects: list[AppObject]


_SIZES = {1: 10, 2: 46, 3: 16, 4: 10, 21: 7, 24: 8, 61: 2, 62: 6, 63: 6}


def parse_app_data(data: bytes) -> AppData:
    """Application data → typed objects; raises ValueError when the bytes do not fit the type.

    Types without a model here (versions, configs, 81/85/88/89 with their reserved byte) come
    back as raw ``bytes`` objects, one per declared object, when the size allows it.
    """
    if len(data) < 2:
        raise ValueError(f"application data of {len(data)} bytes has no type and count")
    type_flag, count = data[0], data[1]
    body = data[2:]
    size = _SIZES.get(type_flag)
    if type_flag == 90:
        size = 6 if len(body) == 6 * count else 1  # vendor example: a time; standard: reserved
    if type_flag == 91 or type_flag in (81, 85, 86, 88, 89):
        size = 1
    if size is None:
        if count and len(body) % count == 0:
            size = len(body) // count
        else:
            raise ValueError(f"type {type_flag}: cannot split {len(body)} bytes into {count}")
    if len(body) != size * count:
        raise ValueError(f"type {type_flag}: {count} objects need {size * count} bytes, "
                         f"got {len(body)}")
    objs: list[AppObject] = []
    for i in range(count):
        o = body[i * size:(i + 1) * size]
        objs.append(_parse_object(type_flag, o))
    return AppData(type_flag, objs)


def _parse_object(t: int, o: bytes) -> AppObject:
    le = int.from_bytes
    if t == 1:
        return SystemStatus(o[0], o[1], le(o[2:4], "little"), decode_time(o[4:10]))
    if t == 2:
        text, ok = decode_description(o[9:40])
        return ComponentStatus(o[0], o[1], o[2], le(o[3:5], "little"), le(o[5:7], "little"),
                               le(o[7:9], "little"), text, ok, decode_time(o[40:46]))
    if t == 3:
        return Analog(o[0], o[1], o[2], le(o[3:5], "little"), le(o[5:7], "little"), o[7],
                      le(o[8:10], "little", signed=True), decode_time(o[10:16]))
    if t == 4:
        return Operation(o[2], o[3], decode_time(o[4:10]), o[0], o[1])
    if t == 21:
        return UitdStatus(o[0], decode_time(o[1:7]))
    if t == 24:
        return Operation(o[0], o[1], decode_time(o[2:8]))
    if t == 61:
        return SystemRef(o[0], o[1])
    if t in (62, 63):
        return ComponentRef(o[0], o[1], le(o[2:4], "little"), le(o[4:6], "little"))
    if t == 90:
        return ClockSync(decode_time(o) if len(o) == 6 else None)
    if t == 91:
        return DutyCheck(o[0])
    return bytes(o)
