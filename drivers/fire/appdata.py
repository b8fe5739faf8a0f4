"""Application data of GB/T 26875.3-2011: decode what a UITD sends, encode what the centre asks.

Application data = type flag (1 B) + object count (1 B) + objects, each an information body
followed by a 6-byte time tag. Decoded here: types 1 (system status), 2 (component status),
3 (analog values), 4 (facility operations), 21 (UITD status) and 24 (UITD operations).

Decoding never raises. The standard says to confirm what was parsed correctly, and a frame
that passed its checksum was sent that way on purpose: denying it would only make the device
send the same bytes again. So a count that disagrees with the length, a truncated last object
or an unknown type flag is recorded in ``AppData.problems`` (the server logs and counts it)
and every whole object is still decoded: a fire is never dropped because its neighbour was
cut short. Time tags are optional per frame: when the length fits the objects without them,
they are read without.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from drivers.fire.codec import TimeTag
from drivers.fire.names import (
    COMPONENT_STATES,
    OPERATIONS,
    SYSTEM_STATES,
    UITD_OPERATIONS,
    UITD_STATES,
    analog_type,
    set_flags,
)

TYPE_SYSTEM_STATUS = 1
TYPE_COMPONENT_STATUS = 2
TYPE_ANALOG = 3
TYPE_OPERATION = 4
TYPE_UITD_STATUS = 21
TYPE_UITD_OPERATION = 24
DESCRIPTION_SIZE = 31
REPLACEMENT = "\ufffd"


def split_component_address(address: int) -> tuple[int, int]:
    """(zone, position): the first 2 bytes (LE) of the 4-byte LE address, then the next 2."""
    return address & 0xFFFF, address >> 16 & 0xFFFF


def component_address(zone: int, position: int) -> int:
    if not 0 <= zone <= 0xFFFF or not 0 <= position <= 0xFFFF:
        raise ValueError("zone and position are 2 bytes each")
    return zone | position << 16


def decode_description(raw: bytes) -> tuple[str, int]:
    """GB18030 text of a fixed-size field and how many undecodable sequences it held.

    The field is a C string padded with NUL or spaces: text ends at the first NUL (GB18030
    never uses a zero byte inside a character) and trailing spaces go. Each undecodable
    sequence becomes U+FFFD.
    """
    raw = raw.split(b"\0", 1)[0]
    parts: list[str] = []
    errors = 0
    pos = 0
    while pos < len(raw):
        try:
            parts.append(raw[pos:].decode("gb18030"))
            break
        except UnicodeDecodeError as exc:
            parts.append(raw[pos:pos + exc.start].decode("gb18030", errors="replace"))
            parts.append(REPLACEMENT)
            errors += 1
            pos += max(exc.end, exc.start + 1)
    return "".join(parts).rstrip(" \u3000"), errors


def encode_description(text: str) -> bytes:
    """``text`` as a 31-byte GB18030 field, NUL-padded (for simulators of our own tests)."""
    raw = text.encode("gb18030")
    if len(raw) > DESCRIPTION_SIZE:
        raise ValueError(f"description is {len(raw)} bytes in GB18030, at most 31 fit")
    return raw.ljust(DESCRIPTION_SIZE, b"\0")


# -- information objects ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemStatus:
    """Type 1: the state of one facility system (e.g. the fire alarm controller)."""

    system_type: int
    system_address: int
    status: int
    time: TimeTag | None = None

    @property
    def test_mode(self) -> bool:
        return not self.status & 1

    @property
    def states(self) -> list[str]:
        return set_flags(self.status, SYSTEM_STATES, range(1, 16))


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """Type 2: one component (detector, call point, module…) and its state bits."""

    system_type: int
    system_address: int
    component_type: int
    component_address: int
    status: int
    description: str = ""
    description_errors: int = 0
    time: TimeTag | None = None

    @property
    def zone(self) -> int:
        return split_component_address(self.component_address)[0]

    @property
    def position(self) -> int:
        return split_component_address(self.component_address)[1]

    @property
    def test_mode(self) -> bool:
        return not self.status & 1

    @property
    def states(self) -> list[str]:
        return set_flags(self.status, COMPONENT_STATES, range(1, 16))


@dataclass(frozen=True, slots=True)
class AnalogValue:
    """Type 3: a measured value; ``value`` = ``raw`` (int16) × the type's resolution."""

    system_type: int
    system_address: int
    component_type: int
    component_address: int
    analog_type: int
    raw: int
    time: TimeTag | None = None

    @property
    def zone(self) -> int:
        return split_component_address(self.component_address)[0]

    @property
    def position(self) -> int:
        return split_component_address(self.component_address)[1]

    @property
    def value(self) -> Decimal:
        return Decimal(self.raw) * analog_type(self.analog_type).resolution

    @property
    def unit(self) -> str:
        return analog_type(self.analog_type).unit


@dataclass(frozen=True, slots=True)
class Operation:
    """Type 4: what someone did at a facility (reset, silence, manual alarm…)."""

    system_type: int
    system_address: int
    flags: int
    operator: int
    time: TimeTag | None = None

    @property
    def operations(self) -> list[str]:
        return set_flags(self.flags, OPERATIONS, range(8))


@dataclass(frozen=True, slots=True)
class UitdStatus:
    """Type 21: the state of the transmission device itself."""

    status: int
    time: TimeTag | None = None

    @property
    def test_mode(self) -> bool:
        return not self.status & 1

    @property
    def states(self) -> list[str]:
        return set_flags(self.status, UITD_STATES, range(1, 8))


@dataclass(frozen=True, slots=True)
class UitdOperation:
    """Type 24: what someone did at the transmission device (incl. answering a duty check)."""

    flags: int
    operator: int
    time: TimeTag | None = None

    @property
    def operations(self) -> list[str]:
        return set_flags(self.flags, UITD_OPERATIONS, range(8))


InfoObject = SystemStatus | ComponentStatus | AnalogValue | Operation | UitdStatus | UitdOperation


def _system_status(b: bytes, t: TimeTag | None) -> SystemStatus:
    return SystemStatus(b[0], b[1], int.from_bytes(b[2:4], "little"), t)


def _component_status(b: bytes, t: TimeTag | None) -> ComponentStatus:
    text, errors = decode_description(b[9:9 + DESCRIPTION_SIZE])
    return ComponentStatus(b[0], b[1], b[2], int.from_bytes(b[3:7], "little"),
                           int.from_bytes(b[7:9], "little"), text, errors, t)


def _analog(b: bytes, t: TimeTag | None) -> AnalogValue:
    return AnalogValue(b[0], b[1], b[2], int.from_bytes(b[3:7], "little"), b[7],
                       int.from_bytes(b[8:10], "little", signed=True), t)


def _operation(b: bytes, t: TimeTag | None) -> Operation:
    return Operation(b[0], b[1], b[2], b[3], t)


def _uitd_status(b: bytes, t: TimeTag | None) -> UitdStatus:
    return UitdStatus(b[0], t)


def _uitd_operation(b: bytes, t: TimeTag | None) -> UitdOperation:
    return UitdOperation(b[0], b[1], t)


_DECODERS: dict[int, tuple[int, Callable[[bytes, TimeTag | None], InfoObject]]] = {
    TYPE_SYSTEM_STATUS: (4, _system_status),
    TYPE_COMPONENT_STATUS: (9 + DESCRIPTION_SIZE, _component_status),
    TYPE_ANALOG: (10, _analog),
    TYPE_OPERATION: (4, _operation),
    TYPE_UITD_STATUS: (1, _uitd_status),
    TYPE_UITD_OPERATION: (2, _uitd_operation),
}
DECODED_TYPES = frozenset(_DECODERS)


@dataclass(frozen=True, slots=True)
class AppData:
    """Decoded application data. ``known``: a type this module decodes (else ``objects`` is
    empty and ``raw`` keeps the bytes). ``problems``: what did not add up, for the log."""

    type_flag: int
    count: int
    objects: tuple[InfoObject, ...] = ()
    known: bool = True
    problems: tuple[str, ...] = ()
    raw: bytes = b""

    @property
    def description_errors(self) -> int:
        return sum(o.description_errors for o in self.objects if isinstance(o, ComponentStatus))


def decode_app_data(data: bytes) -> AppData | None:
    """Decode application data; None for empty data (a heartbeat). Never raises."""
    if not data:
        return None
    type_flag = data[0]
    if len(data) < 2:
        return AppData(type_flag, 0, known=type_flag in _DECODERS,
                       problems=("no object count",), raw=data)
    count = data[1]
    spec = _DECODERS.get(type_flag)
    if spec is None:
        return AppData(type_flag, count, known=False, raw=data)
    size, decode = spec
    rest = data[2:]
    problems: list[str] = []
    timed = size + TimeTag.SIZE
    if len(rest) == count * size and count:
        with_time = False
    else:
        with_time = True
        if len(rest) != count * timed:
            problems.append(f"{count} objects of type {type_flag} need {count * timed} bytes, "
                            f"{len(rest)} present")
    step = timed if with_time else size
    objects: list[InfoObject] = []
    for i in range(count):
        chunk = rest[i * step:(i + 1) * step]
        if len(chunk) < size:
            if chunk:
                problems.append(f"object {i + 1} truncated at {len(chunk)} of {size} bytes")
            break
        time = TimeTag.from_bytes(chunk[size:timed]) if len(chunk) >= timed else None
        if with_time and time is None:
            problems.append(f"object {i + 1} has no complete time tag")
        objects.append(decode(chunk[:size], time))
    extra = len(rest) - count * step
    if extra > 0:
        problems.append(f"{extra} bytes after the last object")
    return AppData(type_flag, count, tuple(objects), True, tuple(problems), data)


# -- centre → device ---------------------------------------------------------------------------

#: Requests (command 4) this module encodes, and what each reads.
REQUEST_TYPES: dict[int, str] = {
    61: "读建筑消防设施系统状态 / read facility system status",
    62: "读建筑消防设施部件运行状态 / read component status",
    63: "读建筑消防设施部件模拟量值 / read analog values",
    64: "读建筑消防设施操作信息记录 / read facility operation records",
    65: "读建筑消防设施软件版本 / read facility software version",
    66: "读建筑消防设施系统配置情况 / read facility system configuration",
    67: "读建筑消防设施部件配置情况 / read component configuration",
    68: "读建筑消防设施系统时间 / read facility system time",
    81: "读用户信息传输装置运行状态 / read UITD status",
    84: "读用户信息传输装置操作信息记录 / read UITD operation records",
    85: "读用户信息传输装置软件版本 / read UITD software version",
    86: "读用户信息传输装置配置情况 / read UITD configuration",
    88: "读用户信息传输装置系统时间 / read UITD system time",
}
CONTROL_INITIALISE = 89
CONTROL_CLOCK_SYNC = 90
CONTROL_DUTY_CHECK = 91


@dataclass(frozen=True, slots=True)
class Target:
    """What a facility request is about: a system, and for 62/63/67 one component of it."""

    system_type: int = 1
    system_address: int = 1
    component_address: int = 0


def _u8(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} must fit one byte")
    return value


def encode_request(type_flag: int, targets: Sequence[Target] = (Target(),), *,
                   records: int = 1, since: TimeTag | None = None) -> bytes:
    """Application data of a request (command 4) of ``type_flag`` (see ``REQUEST_TYPES``).

    61/66: one object per target (system); 62/63/67: one per target component; 65/68: the
    first target's system; 64/84: ``records`` operation records from ``since``; 81/85/86/88:
    one reserved zero byte.
    """
    if type_flag not in REQUEST_TYPES:
        raise ValueError(f"no request of type {type_flag} (one of {sorted(REQUEST_TYPES)})")
    if type_flag in (81, 85, 86, 88):
        return bytes((type_flag, 1, 0))
    if type_flag in (64, 84):
        if since is None:
            raise ValueError(f"request {type_flag} needs a start time (since)")
        body = bytes((_u8(records, "records"),)) + since.to_bytes()
        if type_flag == 64:
            t = targets[0] if targets else Target()
            body = bytes((_u8(t.system_type, "system type"),
                          _u8(t.system_address, "system address"))) + body
        return bytes((type_flag, 1)) + body
    chosen = list(targets)[:1] if type_flag in (65, 68) else list(targets)
    if not chosen:
        raise ValueError("a facility request needs at least one target")
    out = bytearray((type_flag, _u8(len(chosen), "target count")))
    for t in chosen:
        out += bytes((_u8(t.system_type, "system type"), _u8(t.system_address, "system address")))
        if type_flag in (62, 63, 67):
            if not 0 <= t.component_address <= 0xFFFFFFFF:
                raise ValueError("component address must fit 4 bytes")
            out += t.component_address.to_bytes(4, "little")
    return bytes(out)


def encode_clock_sync(time: TimeTag) -> bytes:
    """Control 90 carrying the centre's time (the form vendors implement)."""
    return bytes((CONTROL_CLOCK_SYNC, 1)) + time.to_bytes()


def encode_initialise() -> bytes:
    return bytes((CONTROL_INITIALISE, 1, 0))


def encode_duty_check(minutes: int) -> bytes:
    """Control 91 (查岗): the byte is how many minutes the duty guard has to answer."""
    return bytes((CONTROL_DUTY_CHECK, 1, _u8(minutes, "minutes")))
