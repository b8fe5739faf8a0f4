"""The RS-485 line under libosdp: a serial device (a USB adapter, or a pty in tests).

libosdp calls ``read`` and ``write`` from its own refresh thread and expects them never to
block: ``read`` returns ``b""`` when nothing waits, ``write`` returns how much went out (0
when the line is full; libosdp sends the rest later). A pty ignores baud rate and parity, so
the frames are exercised byte for byte without hardware.

The channel also reads the header of each frame the control panel writes (address and
command code, which stay in clear even on the secure channel): the driver tells a reader
that refuses our key (the link died in the key exchange, osdp_CHLNG/SCRYPT) from one that
does not answer at all.
"""

from __future__ import annotations

import contextlib
import os
import termios
import threading
import tty
from pathlib import Path

from osdp import Channel

SOM = 0x53
CHLNG, SCRYPT = 0x76, 0x77


def frame_header(frame: bytes) -> tuple[int, int] | None:
    """(address, command code) of a frame the CP sends, or None if it is not one."""
    at = frame.find(SOM)
    if at < 0 or len(frame) < at + 7:
        return None
    ctrl = frame[at + 4]
    code_at = at + 5
    if ctrl & 0x08:
        code_at += frame[code_at]
    if code_at >= len(frame):
        return None
    return frame[at + 1] & 0x7F, frame[code_at]


class SerialLine(Channel):  # type: ignore[misc]
    """A non-blocking serial device as libosdp's channel."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        with contextlib.suppress(termios.error):
            tty.setraw(self._fd)
            termios.tcflush(self._fd, termios.TCIOFLUSH)
        self._lock = threading.Lock()
        #: Last command code the CP sent to each address (read by the driver's thread).
        self.last_sent: dict[int, int] = {}
        self.bytes_in = 0
        self.bytes_out = 0

    def read(self, max_bytes: int) -> bytes:
        try:
            data = os.read(self._fd, max_bytes)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # the other end of a pty went away: behave as a silent line
            return b""
        self.bytes_in += len(data)
        return data

    def write(self, buf: bytes) -> int:
        try:
            n = os.write(self._fd, bytes(buf))
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return len(buf)  # nobody listens: the frame is lost on the wire, as on RS-485
        self.bytes_out += n
        header = frame_header(bytes(buf))
        if header is not None:
            with self._lock:
                self.last_sent[header[0]] = header[1]
        return n

    def flush(self) -> None:
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self._fd, termios.TCIFLUSH)

    def last_command(self, address: int) -> int | None:
        with self._lock:
            return self.last_sent.get(address)

    def in_key_exchange(self, address: int) -> bool:
        return self.last_command(address) in (CHLNG, SCRYPT)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
