"""Wiegand card data as readers report it: H10301 (26 bits), H10306 (34 bits), or raw bits.

A reader hands over ``length`` bits packed most significant bit first, the last byte padded
on the right (OSDP's raw card data, osdp_RAW). The formats:

- **H10301** (26 bits): even parity over bits 2–13, facility code 8 bits, card number 16 bits,
  odd parity over bits 14–25 (1-based; PROTOCOLS §3, test vector 5: facility 90, card 324).
- **H10306** (34 bits): even parity over bits 2–17, facility 16 bits, card 16 bits, odd parity
  over bits 18–33.
- **raw**: any other length (or a format a reader's profile turns off) is the bits as one
  number, for sites whose cards are enrolled by that number.

The credential ``number`` is what door controllers and card printers show: facility and card
side by side in binary (facility × 65536 + card; 5898564 for 90/324), so a card enrolled on a
微耕 board and one read by an OSDP reader are the same key. A bad parity or a length that does
not fit the data is a ``Refusal`` with a reason, never an exception: a misread is an ordinary
denial at the door.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

H10301 = "h10301"
H10306 = "h10306"
RAW = "raw"
#: Formats decoded by default; a reader's profile may narrow this (then those lengths are raw).
DEFAULT_FORMATS: tuple[str, ...] = (H10301, H10306)
MAX_BITS = 256

_LENGTH = {H10301: 26, H10306: 34}


@dataclass(frozen=True, slots=True)
class Credential:
    """A decoded card: its format, the number it is enrolled by, and facility/card if any."""

    format: str
    bits: int
    number: int
    facility: int | None = None
    card: int | None = None

    @property
    def key(self) -> str:
        """The credential store's key: the number in decimal."""
        return str(self.number)

    def label(self) -> str:
        """How staff read it: ``090,00324`` for a facility format, the number otherwise."""
        if self.facility is None or self.card is None:
            return self.key
        return f"{self.facility:03d},{self.card:05d}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Card data that cannot be trusted; ``reason`` is a code, ``message`` zh-CN / English."""

    reason: str
    message: str
    bits: int
    raw: str


def bits_of(data: bytes, length: int) -> str:
    """The first ``length`` bits of ``data`` (MSB first) as a ``0``/``1`` string."""
    if length < 0 or length > len(data) * 8:
        raise ValueError(f"{length} bits do not fit in {len(data)} bytes")
    whole = "".join(f"{b:08b}" for b in data)
    return whole[:length]


def decode(data: bytes, length: int,
           formats: Iterable[str] = DEFAULT_FORMATS) -> Credential | Refusal:
    """Decode card data; a Refusal says why the read is not a credential."""
    if length <= 0 or length > MAX_BITS or length > len(data) * 8:
        return Refusal("bad_length",
                       f"卡数据长度不符（{length} 位，{len(data)} 字节）/ "
                       f"card data length does not fit ({length} bits in {len(data)} bytes)",
                       length, data.hex())
    return decode_bits(bits_of(data, length), formats)


def decode_bits(bits: str, formats: Iterable[str] = DEFAULT_FORMATS) -> Credential | Refusal:
    """Decode a ``0``/``1`` string (as the test vectors write card data)."""
    if not bits or set(bits) - {"0", "1"}:
        return Refusal("bad_length", "卡数据为空或无效 / card data empty or not bits",
                       len(bits), bits[:64])
    wanted = set(formats)
    if len(bits) == _LENGTH[H10301] and H10301 in wanted:
        return _facility_format(H10301, bits, 8)
    if len(bits) == _LENGTH[H10306] and H10306 in wanted:
        return _facility_format(H10306, bits, 16)
    return Credential(RAW, len(bits), int(bits, 2))


def _facility_format(fmt: str, bits: str, facility_bits: int) -> Credential | Refusal:
    """Leading even parity, facility, 16-bit card, trailing odd parity (halves split evenly)."""
    half = (len(bits) - 2) // 2
    first, second = bits[1:1 + half], bits[1 + half:-1]
    if (bits[0] + first).count("1") % 2 != 0:
        return _parity(fmt, bits, "even", "前")
    if (second + bits[-1]).count("1") % 2 != 1:
        return _parity(fmt, bits, "odd", "后")
    payload = bits[1:-1]
    facility = int(payload[:facility_bits], 2)
    card = int(payload[facility_bits:], 2)
    return Credential(fmt, len(bits), (facility << 16) | card, facility, card)


def _parity(fmt: str, bits: str, which: str, zh: str) -> Refusal:
    return Refusal("bad_parity",
                   f"韦根{len(bits)}{zh}半校验位错误 / {fmt.upper()} {which} parity wrong",
                   len(bits), bits)
