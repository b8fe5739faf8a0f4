"""The simulator's own OSDP frame and Wiegand codec, written from the protocol facts.

Simulators never import the code they test, so this module builds and reads OSDP frames and
Wiegand card bits by itself (PROTOCOLS §3): an optional mark byte 0xFF, SOM 0x53, address
(bit 7 set on replies), a 2-byte little-endian length counted from SOM to the end of the
check, a control byte (sequence number in bits 0–1, bit 2 = CRC instead of checksum, bit 3 =
security block present), the command or reply code, its data, then CRC-16/AUG-CCITT (poly
0x1021, init 0x1D0F) little-endian or a one-byte two's-complement checksum. The reader
simulator uses it to trace what the control panel sends; the tests pin it to test vector 4.
"""

from __future__ import annotations

from dataclasses import dataclass

MARK = 0xFF
SOM = 0x53
REPLY_BIT = 0x80

POLL, ID, CAP, LSTAT, OUT, LED, BUZ, TEXT, KEYSET, CHLNG, SCRYPT = (
    0x60, 0x61, 0x62, 0x64, 0x68, 0x69, 0x6A, 0x6B, 0x75, 0x76, 0x77)
ACK, NAK, PDID, PDCAP, LSTATR, RAW, KEYPAD, CCRYPT, RMAC_I = (
    0x40, 0x41, 0x45, 0x46, 0x48, 0x50, 0x53, 0x76, 0x78)

COMMAND_NAMES = {POLL: "poll", ID: "id", CAP: "cap", LSTAT: "lstat", OUT: "output", LED: "led",
                 BUZ: "buzzer", TEXT: "text", KEYSET: "keyset", CHLNG: "chlng",
                 SCRYPT: "scrypt"}


def crc16_aug_ccitt(data: bytes) -> int:
    crc = 0x1D0F
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def checksum(data: bytes) -> int:
    return (-sum(data)) & 0xFF


def build(address: int, code: int, data: bytes = b"", *, seq: int = 0, use_crc: bool = True,
          reply: bool = False, mark: bool = True) -> bytes:
    """One frame, without a security block."""
    if not 0 <= address <= 0x7F or not 0 <= seq <= 3:
        raise ValueError("address 0..127, seq 0..3")
    length = 5 + 1 + len(data) + (2 if use_crc else 1)
    ctrl = seq | (0x04 if use_crc else 0)
    body = bytes([SOM, address | (REPLY_BIT if reply else 0), length & 0xFF, length >> 8, ctrl,
                  code]) + data
    if use_crc:
        crc = crc16_aug_ccitt(body)
        body += bytes([crc & 0xFF, crc >> 8])
    else:
        body += bytes([checksum(body)])
    return (bytes([MARK]) if mark else b"") + body


@dataclass(frozen=True, slots=True)
class Frame:
    address: int
    reply: bool
    seq: int
    use_crc: bool
    #: The security control block (empty when the frame has none).
    scb: bytes
    code: int
    #: Everything between the code and the check (data, and the MAC in secure frames).
    payload: bytes

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.code, f"0x{self.code:02x}") if not self.reply else (
            f"reply 0x{self.code:02x}")


class FrameError(ValueError):
    """Bytes that are not a well-formed frame (bad SOM, length or check)."""


def parse(frame: bytes) -> Frame:
    """Read one whole frame (a leading mark byte is allowed)."""
    if frame[:1] == bytes([MARK]):
        frame = frame[1:]
    if len(frame) < 7 or frame[0] != SOM:
        raise FrameError("no start of message")
    length = frame[2] | frame[3] << 8
    if length != len(frame):
        raise FrameError(f"length field {length} but {len(frame)} bytes")
    ctrl = frame[4]
    use_crc = bool(ctrl & 0x04)
    check = 2 if use_crc else 1
    body, tail = frame[:-check], frame[-check:]
    if use_crc:
        if crc16_aug_ccitt(body) != (tail[0] | tail[1] << 8):
            raise FrameError("CRC mismatch")
    elif checksum(body) != tail[0]:
        raise FrameError("checksum mismatch")
    at = 5
    scb = b""
    if ctrl & 0x08:
        scb_len = body[at]
        scb, at = body[at:at + scb_len], at + scb_len
    if at >= len(body):
        raise FrameError("no command code")
    return Frame(frame[1] & 0x7F, bool(frame[1] & REPLY_BIT), ctrl & 0x03, use_crc, scb,
                 body[at], body[at + 1:])


class Reassembler:
    """Cut a byte stream into frames; noise before a SOM is skipped, a bad frame dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.errors = 0

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        out: list[Frame] = []
        while True:
            start = self._buf.find(SOM)
            if start < 0:
                self._buf.clear()
                return out
            del self._buf[:start]
            if len(self._buf) < 4:
                return out
            length = self._buf[2] | self._buf[3] << 8
            if length < 7 or length > 1440:
                del self._buf[:1]
                self.errors += 1
                continue
            if len(self._buf) < length:
                return out
            raw = bytes(self._buf[:length])
            try:
                out.append(parse(raw))
                del self._buf[:length]
            except FrameError:
                self.errors += 1
                del self._buf[:1]


# -- Wiegand ---------------------------------------------------------------------------------


def wiegand26(facility: int, card: int) -> str:
    """H10301 bits: even parity, 8-bit facility, 16-bit card, odd parity."""
    return _wrap(f"{facility:08b}" + f"{card:016b}", facility < 256 and card < 65536)


def wiegand34(facility: int, card: int) -> str:
    """H10306 bits: even parity, 16-bit facility, 16-bit card, odd parity."""
    return _wrap(f"{facility:016b}" + f"{card:016b}", facility < 65536 and card < 65536)


def _wrap(payload: str, fits: bool) -> str:
    if not fits:
        raise ValueError("facility or card number too large for the format")
    half = len(payload) // 2
    even = "1" if payload[:half].count("1") % 2 else "0"
    odd = "0" if payload[half:].count("1") % 2 else "1"
    return even + payload + odd


def pack_bits(bits: str) -> bytes:
    """MSB first, the last byte padded with zeros on the right (OSDP raw card data)."""
    padded = bits + "0" * (-len(bits) % 8)
    return bytes(int(padded[i:i + 8], 2) for i in range(0, len(padded), 8))
