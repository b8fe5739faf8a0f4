"""GB/T 26875.3 frames written out by hand: docs/protocols.md §2 test vectors 1–3, and further
frames of the same public source ([RS] ActorLancer/GB-T-26875.3.2011-rs, checksums recomputed).

Tests build frames from these bytes, not with the codec's encoder.
"""

from __future__ import annotations

from typing import Literal


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


# Vector 1: fire alarm from a smoke detector, serial 1, UITD 889 → centre 88888.
V1_FIRE = (hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 30 00 02"
              " 02 01 01 01 28 0A 00 02 00 02 00")
           + hx("20") * 30 + hx("00 02 3A 09 1A 09 0C 46 23 23"))
V1_APP_DATA = V1_FIRE[27:-3]

# Vector 2: the centre's confirm and deny of vector 1 (replier's time 2012-09-26 09:58:35).
V2_CONFIRM = hx("40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 03"
                " AB 23 23")
V2_DENY = hx("40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 06"
             " AE 23 23")

# Vector 3: GB18030 description "Ａ区１层呷哺走廊", serial 0, source 0 → 0x010203040506.
V3_FIRE = (hx("40 40 00 00 01 01 18 0D 11 16 0A 14") + hx("00") * 6
           + hx("06 05 04 03 02 01 30 00 02 02 01 01 03 00 D9 00 06 00 02 00"
                " A3 C1 C7 F8 A3 B1 B2 E3 DF C8 B2 B8 D7 DF C0 C8")
           + hx("00") * 15 + hx("30 12 13 01 08 14 68 23 23"))
V3_BAD_CHECKSUM = V3_FIRE[:-3] + hx("63 23 23")

# [RS] examples: UITD main power fault (type 21, status 0x08), serial 1.
RS_UITD_POWER_FAULT = hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00"
                         " 09 00 02 15 01 08 02 3A 09 1A 09 0C 42 23 23")
# UITD operation: duty check answered (type 24, flags 0x20), operator 1.
RS_DUTY_CHECK_ANSWERED = hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00"
                            " 00 0A 00 02 18 01 20 01 02 3A 09 1A 09 0C 5F 23 23")
# Centre → UITD: read UITD status (request 81), clock sync (control 90), duty check 10 min (91).
RS_REQUEST_81 = hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 03 00"
                   " 04 51 01 00 FE 23 23")
RS_CLOCK_SYNC = hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 08 00"
                   " 01 5A 01 02 3A 09 1A 09 0C 7D 23 23")
RS_DUTY_CHECK = hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 03 00"
                   " 01 5B 01 0A 0F 23 23")
# The UITD's response (command 5) to request 81: main power fault.
RS_RESPONSE_81 = hx("40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 09"
                    " 00 05 15 01 08 02 3A 09 1A 09 0C 45 23 23")

UITD_ADDRESS = 889
CENTRE_ADDRESS = 88888


def hand_frame(serial: int, command: int, data: bytes = b"", *, source: int = UITD_ADDRESS,
               destination: int = CENTRE_ADDRESS, time: bytes = hx("02 3A 09 1A 09 0C"),
               serial_order: Literal["little", "big"] = "little",
               checksum: str = "sum") -> bytes:
    """A frame assembled byte by byte for the tests (independent of drivers.fire.codec)."""
    head = (serial.to_bytes(2, serial_order) + b"\x01\x01" + time
            + source.to_bytes(6, "little") + destination.to_bytes(6, "little")
            + len(data).to_bytes(2, "little") + bytes([command]) + data)
    if checksum == "sum":
        check = sum(head) % 256
    elif checksum == "sum_from_command":
        check = sum(head[24:]) % 256
    else:
        check = 0
        for b in head:
            check ^= b
    return b"@@" + head + bytes([check]) + b"##"
