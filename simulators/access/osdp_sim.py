"""A simulated OSDP card reader: libosdp's PeripheralDevice on the far end of a pty.

The reader answers the edge's control panel like a wall reader with a keypad, one LED, a
buzzer and one output (the door strike). A test or the site simulator drives it:
``present_card`` (Wiegand 26/34 bits from this package's own encoder, or raw bits),
``present_text`` (a QR reader's scan),
``type_keys``, ``set_tamper`` / ``set_power_fault``, ``go_silent`` / ``resume`` (the cable
cut), and reads back what the edge commanded (``commands``, ``wait_command``). Every frame
the control panel sends is also cut out of the byte stream by ``osdp_wire`` and kept in
``trace`` (the codes stay in clear on the secure channel), so a test sees the wire as well.

A reader started with ``install=True`` holds no key: it takes the default key SCBK-D once and
keeps the SCBK the control panel sets (``scbk`` then returns it, as a real reader stores it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osdp import (
    Capability,
    CardFormat,
    Channel,
    Command,
    Event,
    LibFlag,
    LogLevel,
    PDCapabilities,
    PDInfo,
    PeripheralDevice,
    StatusReportType,
)

from simulators.access.osdp_wire import Frame, Reassembler, pack_bits, wiegand26, wiegand34

#: OSDP keypad codes for * and # (PROTOCOLS §3 readers send these, some send ASCII).
KEY_CODES = {"*": 0x7F, "#": 0x0D}
#: The most card data one read carries through libosdp 3.2.9 (OSDP_EVENT_CARDREAD_MAX_DATALEN).
CARD_DATA_MAX = 64
COMMAND_NAMES = {Command.Output: "output", Command.LED: "led", Command.Buzzer: "buzzer",
                 Command.Keyset: "keyset", Command.Text: "text", Command.Status: "status"}


@dataclass(frozen=True, slots=True)
class SeenCommand:
    name: str
    fields: dict[str, Any]
    at: float


class _PtyEnd(Channel):  # type: ignore[misc]
    """The reader's end of the line; silent mode drops every byte both ways."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        with contextlib.suppress(termios.error):
            tty.setraw(self._fd)
            termios.tcflush(self._fd, termios.TCIOFLUSH)
        self.silent = False
        self._wire = Reassembler()
        self._lock = threading.Lock()
        self.trace: list[Frame] = []

    def read(self, max_bytes: int) -> bytes:
        try:
            data = os.read(self._fd, max_bytes)
        except OSError:
            return b""
        if self.silent:
            return b""
        with self._lock:
            self.trace.extend(f for f in self._wire.feed(data) if not f.reply)
            del self.trace[:-500]
        return data

    def write(self, buf: bytes) -> int:
        if self.silent:
            return len(buf)
        try:
            return os.write(self._fd, bytes(buf))
        except BlockingIOError:
            return 0
        except OSError:
            return len(buf)

    def flush(self) -> None:
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self._fd, termios.TCIFLUSH)

    def frames(self) -> list[Frame]:
        with self._lock:
            return list(self.trace)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class OsdpReaderSim:
    """One simulated reader at ``address`` on the pty ``port``."""

    def __init__(self, port: str | Path, *, address: int = 101, scbk: bytes | None = None,
                 install: bool = False, name: str = "sim-reader",
                 log_level: int = LogLevel.Error) -> None:
        if scbk is None and not install:
            raise ValueError("a reader needs its SCBK, or install=True to be enrolled")
        self.port, self.address, self.name = str(port), address, name
        self._scbk, self._install, self._log_level = scbk, install, log_level
        self.commands: list[SeenCommand] = []
        self._lock = threading.Lock()
        self._changed: Callable[[], object] | None = None
        self._event = asyncio.Event()
        self._pd: Any = None
        self._line: _PtyEnd | None = None
        self.tamper = False
        self.power_fault = False

    @property
    def scbk(self) -> bytes | None:
        """The key the reader holds now (the one the CP set, after enrolment)."""
        return self._scbk

    @property
    def trace(self) -> list[Frame]:
        return self._line.frames() if self._line is not None else []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        changed = self._event = asyncio.Event()
        self._changed = lambda: loop.call_soon_threadsafe(changed.set)
        self._line = _PtyEnd(self.port)
        caps = PDCapabilities([(Capability.OutputControl, 1, 1), (Capability.LEDControl, 1, 1),
                               (Capability.AudibleControl, 1, 1), (Capability.Readers, 1, 1),
                               (Capability.CardDataFormat, 1, 1),
                               (Capability.CommunicationSecurity, 1, 1)])
        info = PDInfo(self.address, self._line, scbk=None if self._install else self._scbk,
                      name=self.name, flags=[LibFlag.InstallMode] if self._install else [])
        self._pd = PeripheralDevice(info, caps, log_level=self._log_level,
                                    command_handler=self._on_command)
        await asyncio.to_thread(self._pd.start)

    async def stop(self) -> None:
        if self._pd is not None:
            await asyncio.to_thread(self._pd.stop)
            self._pd = None
        if self._line is not None:
            self._line.close()
            self._line = None

    # -- the person at the reader ------------------------------------------------------------

    async def present_card(self, facility: int, card: int, bits: int = 26) -> None:
        await self.present_bits(wiegand26(facility, card) if bits == 26
                                else wiegand34(facility, card))

    async def present_bits(self, bits: str) -> None:
        await self.present_raw(pack_bits(bits), len(bits))

    async def present_raw(self, data: bytes, length: int) -> None:
        await self._submit({"event": Event.CardRead, "reader_no": 0, "direction": 0,
                            "format": CardFormat.Wiegand, "length": length, "data": data})

    async def present_text(self, text: str) -> None:
        """A QR reader's scan: the text as raw card data (format unspecified, 8 bits a
        character), as OSDP 2.2 readers send it; libosdp 3.2.9 ignores the deprecated ASCII
        format at the reader's end and carries at most ``CARD_DATA_MAX`` bytes."""
        data = text.encode("ascii")
        if not 0 < len(data) <= CARD_DATA_MAX:
            raise ValueError(f"a scanned text of {len(data)} bytes: libosdp carries 1 to "
                             f"{CARD_DATA_MAX} in one card read")
        await self._submit({"event": Event.CardRead, "reader_no": 0, "direction": 0,
                            "format": CardFormat.Unspecified, "length": len(data) * 8,
                            "data": data})

    async def type_keys(self, keys: str) -> None:
        """Digits, ``*`` (clear) and ``#`` (enter), sent as one keypad report."""
        data = bytes(KEY_CODES.get(k, ord(k)) for k in keys)
        await self._submit({"event": Event.KeyPress, "reader_no": 0, "data": data})

    async def set_tamper(self, active: bool) -> None:
        self.tamper = active
        await self._local_status()

    async def set_power_fault(self, active: bool) -> None:
        self.power_fault = active
        await self._local_status()

    def go_silent(self) -> None:
        """Stop answering (cable cut, reader dead); the edge should call it offline."""
        if self._line is not None:
            self._line.silent = True

    def resume(self) -> None:
        if self._line is not None:
            self._line.silent = False

    async def _local_status(self) -> None:
        await self._submit({"event": Event.Status, "type": StatusReportType.Local,
                            "nr_entries": 2,
                            "report": bytes([int(self.tamper), int(self.power_fault)])})

    async def _submit(self, event: dict[str, Any]) -> None:
        pd = self._pd
        if pd is None:
            raise RuntimeError("reader simulator not started")
        if await asyncio.to_thread(pd.submit_event, event) is False:
            raise RuntimeError(f"the reader could not queue {event['event']}")

    # -- what the edge commanded -------------------------------------------------------------

    def _on_command(self, command: dict[str, Any]) -> tuple[int, None]:
        """libosdp's PD thread: note the command and accept it."""
        kind = COMMAND_NAMES.get(command.get("command"), str(command.get("command")))
        if kind == "keyset":
            self._scbk, self._install = bytes(command["data"]), False
        with self._lock:
            self.commands.append(SeenCommand(kind, dict(command), time.monotonic()))
        if self._changed is not None:
            self._changed()
        return 0, None

    def seen(self, name: str | None = None) -> list[SeenCommand]:
        with self._lock:
            return [c for c in self.commands if name is None or c.name == name]

    async def wait_command(self, name: str, *, after: int = 0, within: float = 5.0,
                           where: Callable[[SeenCommand], bool] | None = None) -> SeenCommand:
        """The first ``name`` command past the first ``after`` of that name that matches."""
        async with asyncio.timeout(within):
            while True:
                self._event.clear()
                hits = [c for c in self.seen(name)[after:] if where is None or where(c)]
                if hits:
                    return hits[0]
                await self._event.wait()
