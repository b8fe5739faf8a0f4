"""GB/T 26875.3-2011 frames: parse, build, and cut a TCP byte stream into frames.

Layout (docs/protocols.md §2)::

    @@ | serial 2 | version 2 | time 6 | source 6 LE | destination 6 LE | length 2 LE |
    command 1 | application data (length) | checksum 1 | ##

Every wire fault is a typed ``FrameError`` that carries whatever of the header could be read
(serial, addresses, command), because the standard answers a bad frame with a deny carrying the
same serial. Vendors disagree on the checksum (``sum`` from the serial on, the standard;
``sum_from_command``; ``xor``) and on the serial's byte order, so both are parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import IntEnum
from typing import ClassVar, Literal

START = b"@@"
END = b"##"
MAX_APP_DATA = 1024
HEADER_LEN = 27
"""Bytes from ``@@`` up to and including the command byte."""
OVERHEAD = HEADER_LEN + 3
"""Header plus checksum and ``##``: a frame is ``OVERHEAD + length`` bytes."""
ADDRESS_MAX = (1 << 48) - 1

ChecksumMethod = Literal["sum", "sum_from_command", "xor"]
SerialOrder = Literal["little", "big"]
CHECKSUM_METHODS: tuple[str, ...] = ("sum", "sum_from_command", "xor")
SERIAL_ORDERS: tuple[str, ...] = ("little", "big")


class Command(IntEnum):
    CONTROL = 1
    SEND_DATA = 2
    CONFIRM = 3
    REQUEST = 4
    RESPONSE = 5
    DENY = 6


KNOWN_COMMANDS = frozenset(int(c) for c in Command)


@dataclass(frozen=True, slots=True)
class TimeTag:
    """The 6-byte time of the standard (sec, min, hour, day, month, year-2000), local site time.

    Kept as the raw byte values so any 6 bytes round-trip; ``to_datetime`` says whether they
    form a real time.
    """

    second: int
    minute: int
    hour: int
    day: int
    month: int
    year: int  # 0–99 → 2000–2099

    SIZE: ClassVar[int] = 6

    @classmethod
    def from_bytes(cls, raw: bytes) -> TimeTag:
        if len(raw) != 6:
            raise ValueError("a time tag is 6 bytes")
        return cls(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5])

    @classmethod
    def from_datetime(cls, when: datetime, tz: tzinfo) -> TimeTag:
        """The tag of an aware ``when`` as seen on the site's wall clock ``tz``."""
        if when.tzinfo is None:
            raise ValueError("when must be timezone-aware")
        local = when.astimezone(tz)
        if not 2000 <= local.year <= 2099:
            raise ValueError(f"year {local.year} does not fit a GB/T 26875.3 time tag")
        return cls(local.second, local.minute, local.hour, local.day, local.month,
                   local.year - 2000)

    def to_bytes(self) -> bytes:
        return bytes((self.second, self.minute, self.hour, self.day, self.month, self.year))

    def to_datetime(self, tz: tzinfo) -> datetime | None:
        """The aware local time, or None when the bytes are no valid time (never raises)."""
        if self.year > 99 or self.second > 59 or self.minute > 59 or self.hour > 23:
            return None
        try:
            return datetime(2000 + self.year, self.month, self.day, self.hour, self.minute,
                            self.second, tzinfo=tz)
        except ValueError:
            return None

    def to_utc(self, tz: tzinfo) -> datetime | None:
        local = self.to_datetime(tz)
        return None if local is None else local.astimezone(UTC)


ZERO_TIME = TimeTag(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Frame:
    serial: int
    command: int
    source: int
    destination: int
    time: TimeTag
    data: bytes = b""
    version: tuple[int, int] = (1, 1)

    def encode(self, checksum: str = "sum", serial_order: str = "little") -> bytes:
        return build_frame(self, checksum, serial_order)


# -- errors -----------------------------------------------------------------------------------


class FrameError(Exception):
    """A frame the standard says to deny. Header fields are None where they could not be read.

    ``raw`` holds the bytes the error is about (for the log); ``code`` names the counter.
    """

    code: ClassVar[str] = "bad_frame"
    zh: ClassVar[str] = "数据包错误"

    def __init__(self, detail: str, *, raw: bytes = b"", serial: int | None = None,
                 source: int | None = None, destination: int | None = None,
                 command: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.raw = raw
        self.serial = serial
        self.source = source
        self.destination = destination
        self.command = command

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.detail}"


class BadStartError(FrameError):
    code = "bad_start"
    zh = "启动符错误"


class TruncatedFrameError(FrameError):
    code = "truncated"
    zh = "数据包不完整"


class OversizeError(FrameError):
    code = "oversize"
    zh = "应用数据单元长度超限"


class BadEndError(FrameError):
    code = "bad_end"
    zh = "结束符错误"


class ChecksumError(FrameError):
    code = "checksum"
    zh = "校验和错误"

    def __init__(self, detail: str, *, expected: int, received: int, raw: bytes = b"",
                 serial: int | None = None, source: int | None = None,
                 destination: int | None = None, command: int | None = None) -> None:
        super().__init__(detail, raw=raw, serial=serial, source=source,
                         destination=destination, command=command)
        self.expected = expected
        self.received = received


class UnknownCommandError(FrameError):
    code = "unknown_command"
    zh = "不可识别的命令字节"


# -- checksum and header ----------------------------------------------------------------------


def checksum(frame_head_and_data: bytes | bytearray | memoryview, method: str = "sum") -> int:
    """Checksum over ``@@ … application data`` (the frame without checksum and ``##``)."""
    if method == "sum":
        return sum(frame_head_and_data[2:]) & 0xFF
    if method == "sum_from_command":
        return sum(frame_head_and_data[HEADER_LEN - 1:]) & 0xFF
    if method == "xor":
        acc = 0
        for b in bytes(frame_head_and_data[2:]):
            acc ^= b
        return acc
    raise ValueError(f"unknown checksum method {method!r} (sum | sum_from_command | xor)")


def _check_options(method: str, serial_order: str) -> None:
    if method not in CHECKSUM_METHODS:
        raise ValueError(f"unknown checksum method {method!r} (sum | sum_from_command | xor)")
    if serial_order not in SERIAL_ORDERS:
        raise ValueError(f"unknown serial order {serial_order!r} (little | big)")


def _serial(raw: bytes | bytearray, serial_order: str) -> int:
    return int.from_bytes(raw[2:4], "big" if serial_order == "big" else "little")


def declared_length(head: bytes | bytearray) -> int:
    return int.from_bytes(head[24:26], "little")


def _header_fields(raw: bytes | bytearray, serial_order: str) -> dict[str, int | None]:
    """What a deny needs, from as much of the header as there is."""
    n = len(raw)
    return {
        "serial": _serial(raw, serial_order) if n >= 4 else None,
        "source": int.from_bytes(raw[12:18], "little") if n >= 18 else None,
        "destination": int.from_bytes(raw[18:24], "little") if n >= 24 else None,
        "command": raw[26] if n >= HEADER_LEN else None,
    }


def parse_frame(raw: bytes, checksum_method: str = "sum",
                serial_order: str = "little") -> Frame:
    """Parse exactly one frame; raise a ``FrameError`` subclass naming what is wrong.

    Checks in the order a stream reader meets them: start, declared length (> 1024 is
    oversize), completeness, end marker, checksum, command byte.
    """
    _check_options(checksum_method, serial_order)
    raw = bytes(raw)
    head = _header_fields(raw, serial_order)
    if raw[:2] != START:
        raise BadStartError(f"frame does not start with @@: {raw[:2].hex(' ')}", raw=raw, **head)
    if len(raw) >= 26:
        length = declared_length(raw)
        if length > MAX_APP_DATA:
            raise OversizeError(f"declared application data length {length} > {MAX_APP_DATA}",
                                raw=raw[:HEADER_LEN], **head)
    if len(raw) < OVERHEAD:
        raise TruncatedFrameError(f"{len(raw)} bytes, a frame has at least {OVERHEAD}",
                                  raw=raw, **head)
    length = declared_length(raw)
    total = OVERHEAD + length
    if len(raw) < total:
        raise TruncatedFrameError(f"{len(raw)} bytes, the header declares {total}",
                                  raw=raw, **head)
    if len(raw) > total or raw[total - 2:total] != END:
        raise BadEndError(f"no ## where the declared length {length} ends the frame",
                          raw=raw, **head)
    expected = checksum(raw[:total - 3], checksum_method)
    received = raw[total - 3]
    if expected != received:
        raise ChecksumError(f"checksum {received:#04x}, computed {expected:#04x} "
                            f"({checksum_method})", expected=expected, received=received,
                            raw=raw, **head)
    command = raw[26]
    if command not in KNOWN_COMMANDS:
        raise UnknownCommandError(f"command byte {command} is not one of 1–6", raw=raw, **head)
    return Frame(
        serial=_serial(raw, serial_order),
        command=command,
        source=int.from_bytes(raw[12:18], "little"),
        destination=int.from_bytes(raw[18:24], "little"),
        time=TimeTag.from_bytes(raw[6:12]),
        data=raw[HEADER_LEN:HEADER_LEN + length],
        version=(raw[4], raw[5]),
    )


def build_frame(frame: Frame, checksum_method: str = "sum",
                serial_order: str = "little") -> bytes:
    """Encode ``frame``; values out of range are a programming error (ValueError)."""
    _check_options(checksum_method, serial_order)
    if len(frame.data) > MAX_APP_DATA:
        raise ValueError(f"application data of {len(frame.data)} bytes > {MAX_APP_DATA}")
    if not 0 <= frame.serial <= 0xFFFF or not 0 <= frame.command <= 0xFF:
        raise ValueError("serial must fit 2 bytes and command 1 byte")
    for name in ("source", "destination"):
        if not 0 <= getattr(frame, name) <= ADDRESS_MAX:
            raise ValueError(f"{name} address must fit 6 bytes")
    body = bytearray(START)
    body += frame.serial.to_bytes(2, "big" if serial_order == "big" else "little")
    body += bytes(frame.version)
    body += frame.time.to_bytes()
    body += frame.source.to_bytes(6, "little")
    body += frame.destination.to_bytes(6, "little")
    body += len(frame.data).to_bytes(2, "little")
    body.append(frame.command)
    body += frame.data
    body.append(checksum(body, checksum_method))
    body += END
    return bytes(body)


def reply_to(serial: int, command: int, *, source: int, destination: int, time: TimeTag,
             checksum_method: str = "sum", serial_order: str = "little") -> bytes:
    """A confirm (3) or deny (6): same serial, no application data, the replier's time.

    ``source`` is the replier (the received frame's destination), ``destination`` the sender.
    """
    return build_frame(Frame(serial=serial, command=command, source=source,
                             destination=destination, time=time),
                       checksum_method, serial_order)


def confirm_for(frame: Frame, time: TimeTag, checksum_method: str = "sum",
                serial_order: str = "little") -> bytes:
    """Confirm of ``frame``: same serial, command 3, addresses swapped, the replier's time."""
    return reply_to(frame.serial, Command.CONFIRM, source=frame.destination,
                    destination=frame.source, time=time, checksum_method=checksum_method,
                    serial_order=serial_order)


def deny_for(frame: Frame, time: TimeTag, checksum_method: str = "sum",
             serial_order: str = "little") -> bytes:
    """Deny of ``frame``: as ``confirm_for`` with command 6."""
    return reply_to(frame.serial, Command.DENY, source=frame.destination,
                    destination=frame.source, time=time, checksum_method=checksum_method,
                    serial_order=serial_order)


# -- stream -----------------------------------------------------------------------------------


class StreamReassembler:
    """Cuts a TCP byte stream into frames and typed errors, in stream order.

    * bytes before ``@@`` are skipped and counted in ``garbage_bytes``;
    * a frame whose declared length (≤ 1024) is not all there yet waits for more bytes,
      unless a complete frame with a good checksum already follows a later ``@@`` (then the
      head was garbage that happened to hold a plausible length);
    * a declared length over 1024 yields an ``OversizeError`` and the search for ``@@``
      resumes just after the bad start, as it does after a bad end (the length was wrong, so
      the next real frame may start inside the span it claimed);
    * a checksum or command error with a proper ``##`` skips the whole frame (its boundaries
      were right; only its content is bad);
    * ``@@@``: if the frame read from the first ``@`` fails, that ``@`` is taken for garbage
      and the frame from the next one is tried, silently.

    The buffer never holds more than one incomplete frame (≤ 1054 bytes) plus the unread
    part of the last ``push``. ``checksum`` and ``serial_order`` may be changed between
    items (``configure``): the server learns which device it talks to from the first frame.
    """

    def __init__(self, checksum_method: str = "sum", serial_order: str = "little") -> None:
        _check_options(checksum_method, serial_order)
        self.checksum_method = checksum_method
        self.serial_order = serial_order
        self.garbage_bytes = 0
        self._buf = bytearray()

    def configure(self, checksum_method: str, serial_order: str) -> None:
        _check_options(checksum_method, serial_order)
        self.checksum_method = checksum_method
        self.serial_order = serial_order

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def push(self, data: bytes) -> None:
        self._buf += data

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        """``push`` then every complete item."""
        self.push(data)
        return list(self.drain())

    def drain(self) -> Iterator[Frame | FrameError]:
        while (item := self.next_item()) is not None:
            yield item

    def _skip_to_start(self) -> bool:
        """Drop garbage before the next ``@@``; True when the buffer now starts with one."""
        buf = self._buf
        start = buf.find(START)
        if start < 0:
            keep = 1 if buf.endswith(b"@") else 0
            drop = len(buf) - keep
            self.garbage_bytes += drop
            del buf[:drop]
            return False
        if start:
            self.garbage_bytes += start
            del buf[:start]
        return True

    def peek_source(self) -> int | None:
        """Source address of the next frame once its header has arrived (garbage skipped)."""
        if not self._skip_to_start() or len(self._buf) < 18:
            return None
        return int.from_bytes(self._buf[12:18], "little")

    def next_item(self) -> Frame | FrameError | None:
        """The next complete frame or error, or None when more bytes are needed."""
        buf = self._buf
        while True:
            if not self._skip_to_start() or len(buf) < HEADER_LEN:
                return None
            length = declared_length(buf)
            if length > MAX_APP_DATA:
                if self._stray_at():
                    continue
                head = bytes(buf[:HEADER_LEN])
                del buf[:2]
                return OversizeError(
                    f"declared application data length {length} > {MAX_APP_DATA}",
                    raw=head, **_header_fields(head, self.serial_order))
            total = OVERHEAD + length
            if len(buf) < total:
                if self._complete_frame_ahead():
                    continue
                return None
            raw = bytes(buf[:total])
            try:
                frame = parse_frame(raw, self.checksum_method, self.serial_order)
            except FrameError as exc:
                if self._stray_at():
                    continue
                # After a bad end the length was wrong: the next frame may start inside it.
                del buf[:2 if isinstance(exc, BadEndError) else total]
                return exc
            del buf[:total]
            return frame

    def _complete_frame_ahead(self) -> bool:
        """While the frame at the head waits for bytes, a sound frame already complete further
        on means the head was garbage with a plausible length: drop up to that frame rather
        than hold it (a fire) until the device's next frame fills the bogus length."""
        buf = self._buf
        q = buf.find(START, 1)
        while q >= 0 and len(buf) - q >= OVERHEAD:
            length = declared_length(buf[q:q + HEADER_LEN])
            end = q + OVERHEAD + length
            if length <= MAX_APP_DATA and end <= len(buf) and buf[end - 2:end] == END:
                try:
                    parse_frame(bytes(buf[q:end]), self.checksum_method, self.serial_order)
                except FrameError:
                    pass
                else:
                    self.garbage_bytes += q
                    del buf[:q]
                    return True
            q = buf.find(START, q + 1)
        return False

    def _stray_at(self) -> bool:
        """``@@@``: when the candidate at the first ``@`` fails, that ``@`` was garbage (a
        stray byte before a real start) rather than the start of a broken frame."""
        if self._buf[2:3] != b"@":
            return False
        self.garbage_bytes += 1
        del self._buf[:1]
        return True
