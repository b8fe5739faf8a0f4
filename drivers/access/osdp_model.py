"""What the site says about its OSDP readers, and what a reader hands the edge.

A reader is one PD on an RS-485 line the edge polls as control panel. Every reader has its
own 16-byte secure channel base key (SCBK): ``install`` is set only while enrolling a new
reader (it still holds the default key SCBK-D); once the reader took its SCBK the driver
enforces the secure channel and the site file should drop ``install``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.access.wiegand import DEFAULT_FORMATS, Credential, Refusal

#: OSDP output control code 5: temporary on for ``timer_count`` × 100 ms, then back.
OUTPUT_TEMPORARY_ON = 5
#: Output control codes 2 / 1: permanent on / off, aborting any timed operation.
OUTPUT_PERMANENT_ON, OUTPUT_PERMANENT_OFF = 2, 1
#: LED temporary control code 2: set the temporary state and start its timer.
LED_TEMPORARY_SET = 2
#: Buzzer control code 2: the default tone.
BUZZER_DEFAULT_TONE = 2
LED_RED, LED_GREEN = 1, 2
#: The most card data one read carries through libosdp 3.2.9 (OSDP_EVENT_CARDREAD_MAX_DATALEN,
#: bytes), at the reader's end and the control panel's: a longer QR text cannot arrive.
CARD_DATA_MAX = 64
#: OSDP keypad codes for the two function keys (some readers send the ASCII characters).
KEY_STAR, KEY_HASH = 0x7F, 0x0D


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    """One reader: its device id, bus address, key, and the door output it drives."""

    name: str
    address: int
    #: Kept out of repr: a spec that ends up in a log must not carry the key.
    scbk: bytes = field(repr=False)
    install: bool = False
    #: The PD's output wired to the door strike, and how long a grant holds it.
    output_no: int = 0
    relay_pulse_s: float = 3.0
    reader_no: int = 0
    formats: tuple[str, ...] = DEFAULT_FORMATS
    building: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 126:
            raise ValueError(f"reader {self.name}: OSDP address must be 0..126")
        if len(self.scbk) != 16:
            raise ValueError(f"reader {self.name}: the SCBK must be 16 bytes")
        if not 0.1 <= self.relay_pulse_s <= 25.5:
            raise ValueError(f"reader {self.name}: relay_pulse_s must be 0.1..25.5 s")


@dataclass(frozen=True, slots=True)
class CardPresented:
    """A card read, decoded (or refused); ``at`` is time.monotonic() when the CP got it."""

    reader: str
    read: Credential | Refusal
    at: float
    direction: int = 0


@dataclass(frozen=True, slots=True)
class PinEntered:
    """A PIN finished with the enter key (#)."""

    reader: str
    pin: str
    at: float


@dataclass(frozen=True, slots=True)
class PassPresented:
    """Text a QR reader scanned (a visitor pass, ``contract.visitor_pass``), sent as a card
    read in a format that is not Wiegand. A reader set to Wiegand output sends the pass's
    9-digit code as an ordinary card number instead (a ``CardPresented``)."""

    reader: str
    text: str
    at: float


ReaderInput = CardPresented | PinEntered | PassPresented


@dataclass
class PinBuffer:
    """Keys typed at one reader: digits gather, ``*`` clears, ``#`` completes; a pause longer
    than ``timeout_s`` between keys drops what was typed (someone walked away)."""

    timeout_s: float = 10.0
    max_len: int = 12
    digits: list[str] = field(default_factory=list)
    last: float = 0.0

    def feed(self, data: bytes, now: float) -> list[str]:
        """Take a KEYPAD report's bytes; returns the PINs completed by them."""
        done: list[str] = []
        if self.digits and now - self.last > self.timeout_s:
            self.digits.clear()
        self.last = now
        for byte in data:
            if byte in (KEY_HASH, ord("#")):
                if self.digits:
                    done.append("".join(self.digits))
                self.digits.clear()
            elif byte in (KEY_STAR, ord("*")):
                self.digits.clear()
            elif ord("0") <= byte <= ord("9") and len(self.digits) < self.max_len:
                self.digits.append(chr(byte))
        return done
