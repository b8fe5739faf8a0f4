"""The edge as OSDP control panel (CP) for the card readers on one RS-485 line, via libosdp.

libosdp runs the line in its own refresh thread and calls back from there; this driver only
moves what it reports onto the event loop (``call_soon_threadsafe`` into an asyncio queue)
and calls into it through ``asyncio.to_thread``, so nothing on the loop waits for the line.

- **Secure channel.** Each reader has its own SCBK and ``EnforceSecure``: a reader that does
  not hold our key (or only the default SCBK-D) never comes online. A reader with ``install``
  set is enrolled: libosdp opens the channel with SCBK-D and hands the reader its SCBK
  (osdp_KEYSET); as soon as the channel runs on that key the driver drops install mode and
  enforces the secure channel (``on_enrolled`` tells the caller, which should persist it).
- **Reads.** Card reads are decoded here (``drivers.access.wiegand``; a misread is a
  ``Refusal``, not an error), keypad keys gather into PINs (``PinBuffer``), a QR reader's
  text (a visitor pass, not Wiegand data) becomes ``PassPresented``, and all go to
  ``on_input`` in order. The caller decides and answers with ``grant`` / ``deny``: the door
  output, the LED and the buzzer. ``hold_open`` / ``release`` keep a door released (fire
  linkage) and lock it again.
- **Reader health.** Tamper and power come in the reader's local status report and become
  ``reader.tamper`` / ``reader.power_fault`` when raised and ``reader.restored`` (``cleared``
  names which) when back to normal. libosdp reports a reader going
  on or off line (notifications); ``reader.offline`` is emitted once per outage, and also
  when a reader never answered within ``offline_after_s`` of the start, with the reason
  (no answer, or it refused our key). libosdp 3.2.9 then waits 300 s before it tries again:
  the driver restarts a down reader's session every ``retry_s`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from osdp import (
    CardFormat,
    Command,
    ControlPanel,
    Event,
    EventNotification,
    LibFlag,
    LogLevel,
    PDInfo,
    StatusReportType,
)

from contract import Clock, Kind, NewEvent
from contract.visitor_pass import looks_like_pass
from drivers.access import wiegand
from drivers.access.osdp_line import SerialLine
from drivers.access.osdp_model import (
    BUZZER_DEFAULT_TONE,
    LED_GREEN,
    LED_RED,
    LED_TEMPORARY_SET,
    OUTPUT_PERMANENT_OFF,
    OUTPUT_PERMANENT_ON,
    OUTPUT_TEMPORARY_ON,
    CardPresented,
    PassPresented,
    PinBuffer,
    PinEntered,
    ReaderInput,
    ReaderSpec,
)
from drivers.base import DriverStats, Emit

log = structlog.get_logger(__name__)

OnInput = Callable[[ReaderInput], Awaitable[object]]
EVENT_VERSION = 1
_MESSAGES = {
    Kind.READER_OFFLINE: "读卡器离线 / card reader offline",
    Kind.READER_ONLINE: "读卡器在线 / card reader online",
    Kind.READER_TAMPER: "读卡器防拆报警 / card reader tamper",
    Kind.READER_POWER_FAULT: "读卡器电源故障 / card reader power fault",
}
_CLEARED = {
    Kind.READER_TAMPER: "读卡器防拆恢复 / card reader tamper cleared",
    Kind.READER_POWER_FAULT: "读卡器电源恢复 / card reader power restored",
    Kind.READER_ONLINE: "读卡器恢复在线 / card reader back online",
}


class ReaderError(RuntimeError):
    """A command the line did not take (the reader is offline or unknown)."""


@dataclass
class _Reader:
    spec: ReaderSpec
    pins: PinBuffer
    online: bool = False
    secure: bool = False
    enrolled: bool = False
    #: monotonic time since which it has been down (None while online).
    down_since: float | None = None
    announced_offline: bool = False
    kicked_at: float = 0.0
    status: dict[str, bool] = field(default_factory=dict)


class OsdpBus:
    """The readers on one line; ``run()`` until cancelled, or ``start()`` / ``stop()``."""

    def __init__(self, port: str | Path, readers: list[ReaderSpec], emit: Emit, clock: Clock,
                 on_input: OnInput, *, on_enrolled: Callable[[str], None] | None = None,
                 stats: DriverStats | None = None, offline_after_s: float = 10.0,
                 retry_s: float = 5.0, pin_timeout_s: float = 10.0,
                 refresh_s: float = 0.005, log_level: int = LogLevel.Error) -> None:
        if not readers:
            raise ValueError("an OSDP line needs at least one reader")
        if len({r.address for r in readers}) != len(readers):
            raise ValueError("two readers on one line share an address")
        self.port = str(port)
        self._specs = list(readers)
        self._readers = {r.name: _Reader(r, PinBuffer(pin_timeout_s)) for r in readers}
        self._by_index = [self._readers[r.name] for r in readers]
        self._emit = emit
        self._clock = clock
        self._on_input = on_input
        self._on_enrolled = on_enrolled
        self.stats = stats or DriverStats()
        self._offline_after = offline_after_s
        self._retry = retry_s
        self._log_level = log_level
        self._refresh_s = refresh_s
        self._queue: asyncio.Queue[tuple[int, dict[str, Any], float]] = asyncio.Queue()
        self._cp: Any = None
        self._line: SerialLine | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._line = SerialLine(self.port)
        infos = [PDInfo(r.address, self._line, scbk=r.scbk, name=r.name, flags=[
            LibFlag.InstallMode if r.install else LibFlag.EnforceSecure,
            LibFlag.EnableNotification]) for r in self._specs]
        self._cp = ControlPanel(infos, log_level=self._log_level)

        def on_event(index: int, event: dict[str, Any]) -> int:
            # libosdp's thread, inside its lock: hand over and return at once.
            loop.call_soon_threadsafe(self._queue.put_nowait, (index, event, time.monotonic()))
            return 0

        # Replace the wrapper's own handler: it would also keep every event in a queue
        # nobody reads.
        self._cp.ctx.set_event_callback(on_event)
        self._started = time.monotonic()
        for r in self._by_index:
            r.down_since = self._started
        self._start_refresh(self._cp)
        self._tasks = [asyncio.create_task(self._consume(), name=f"osdp-events {self.port}"),
                       asyncio.create_task(self._watch(), name=f"osdp-watch {self.port}")]
        log.info("OSDP 线路启动 / OSDP line started", port=self.port,
                 readers=[r.name for r in self._specs])

    def _start_refresh(self, cp: Any) -> None:
        """libosdp's own loop sleeps 20 ms between refreshes, which adds up to ~80 ms to a
        card → relay round on the wire; ours sleeps ``refresh_s``. It uses the wrapper's
        event, lock and thread, so ``ControlPanel.stop`` and the command calls work as made."""
        cp.event, cp.lock = threading.Event(), threading.Lock()
        cp.thread = threading.Thread(name=f"osdp-cp {self.port}", target=_refresh_loop,
                                     args=(cp.event, cp.lock, cp.ctx, self._refresh_s),
                                     daemon=True)
        cp.thread.start()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._cp is not None:
            await asyncio.to_thread(self._cp.stop)
            self._cp = None
        if self._line is not None:
            self._line.close()
            self._line = None

    async def run(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())

    # -- what the edge asks of a reader ------------------------------------------------------

    @property
    def readers(self) -> list[str]:
        return [r.name for r in self._specs]

    def is_online(self, reader: str) -> bool:
        return self._reader(reader).online

    def is_secure(self, reader: str) -> bool:
        return self._reader(reader).secure

    def spec(self, reader: str) -> ReaderSpec:
        return self._reader(reader).spec

    async def grant(self, reader: str, pulse_s: float | None = None) -> float:
        """Open the door: the output first (the person waits on it), then green and a beep.
        Returns time.monotonic() when the line took the output command."""
        r = self._reader(reader)
        ticks = _ticks(pulse_s if pulse_s is not None else r.spec.relay_pulse_s)
        await self._submit(r, {"command": Command.Output, "output_no": r.spec.output_no,
                               "control_code": OUTPUT_TEMPORARY_ON, "timer_count": ticks})
        relay_at = time.monotonic()
        await self._submit(r, _led(r.spec, LED_GREEN, ticks))
        await self._submit(r, _buzzer(r.spec, on=1, off=1, times=1))
        return relay_at

    async def hold_open(self, reader: str) -> None:
        """Keep the door released until ``release`` (fire linkage: egress doors open)."""
        r = self._reader(reader)
        await self._submit(r, {"command": Command.Output, "output_no": r.spec.output_no,
                               "control_code": OUTPUT_PERMANENT_ON, "timer_count": 0})

    async def release(self, reader: str) -> None:
        """Back to locked (after a fire linkage reset); grants pulse it again as usual."""
        r = self._reader(reader)
        await self._submit(r, {"command": Command.Output, "output_no": r.spec.output_no,
                               "control_code": OUTPUT_PERMANENT_OFF, "timer_count": 0})

    async def deny(self, reader: str) -> None:
        """Red for two seconds and three short beeps; the door stays shut."""
        r = self._reader(reader)
        await self._submit(r, _led(r.spec, LED_RED, 20))
        await self._submit(r, _buzzer(r.spec, on=2, off=1, times=3))

    async def _submit(self, r: _Reader, command: dict[str, Any]) -> None:
        cp = self._cp
        if cp is None:
            raise ReaderError(f"读卡器线路未启动 / OSDP line not started ({r.spec.name})")
        ok = await asyncio.to_thread(cp.submit_command, r.spec.address, command)
        self.stats.inc("osdp_commands")
        if not ok:
            self.stats.inc("osdp_command_failures")
            raise ReaderError(f"读卡器未接受命令 / reader {r.spec.name} did not take the command"
                              f" (online: {r.online})")

    def _reader(self, name: str) -> _Reader:
        try:
            return self._readers[name]
        except KeyError:
            raise ReaderError(f"未知读卡器 / unknown reader {name!r}") from None

    # -- what the line reports ---------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            index, event, at = await self._queue.get()
            try:
                await self._handle(self._by_index[index], event, at)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad report must not stop the readers
                self.stats.inc("osdp_handler_errors")
                log.exception("OSDP 事件处理失败 / OSDP event handling failed", event=event)

    async def _handle(self, r: _Reader, event: dict[str, Any], at: float) -> None:
        kind = event.get("event")
        if kind == Event.CardRead:
            await self._card(r, event, at)
        elif kind == Event.KeyPress:
            for pin in r.pins.feed(bytes(event.get("data") or b""), at):
                self.stats.inc("osdp_pins")
                await self._on_input(PinEntered(r.spec.name, pin, at))
        elif kind == Event.Status:
            await self._status(r, event)
        elif kind == Event.Notification:
            await self._notification(r, event)

    async def _card(self, r: _Reader, event: dict[str, Any], at: float) -> None:
        data = bytes(event.get("data") or b"")
        text = _scanned_text(event.get("format"), data)
        if text is not None:  # a QR reader's scan: a visitor pass, checked by the caller
            self.stats.inc("osdp_text_reads")
            await self._on_input(PassPresented(r.spec.name, text, at))
            return
        if event.get("format") in (CardFormat.Wiegand, CardFormat.Unspecified):
            read = wiegand.decode(data, int(event.get("length") or 0), r.spec.formats)
        else:
            read = wiegand.Refusal("unsupported_format",
                                   "读卡器上报了不支持的卡格式 / card format not supported",
                                   len(data) * 8, data.hex())
        self.stats.inc("osdp_card_reads" if isinstance(read, wiegand.Credential)
                       else "osdp_refused_reads")
        await self._on_input(CardPresented(r.spec.name, read, at,
                                           int(event.get("direction") or 0)))

    async def _status(self, r: _Reader, event: dict[str, Any]) -> None:
        if event.get("type") != StatusReportType.Local:
            return
        report = bytes(event.get("report") or b"")
        for i, (kind, condition) in enumerate(((Kind.READER_TAMPER, "tamper"),
                                               (Kind.READER_POWER_FAULT, "power_fault"))):
            if i >= len(report):
                break
            active = report[i] != 0
            if r.status.get(kind, False) == active:
                continue
            r.status[kind] = active
            if active:
                await self._reader_event(r, kind, {"active": True})
            else:
                await self._reader_event(r, Kind.READER_RESTORED,
                                         {"active": False, "cleared": [condition]},
                                         message=_CLEARED[kind])

    async def _notification(self, r: _Reader, event: dict[str, Any]) -> None:
        kind, arg0, arg1 = event.get("type"), event.get("arg0"), event.get("arg1")
        if kind == EventNotification.SecureChannelStatus:
            r.secure = bool(arg0)
            if arg0 and not arg1 and r.spec.install and not r.enrolled:
                await self._finish_enrolment(r)
        elif kind == EventNotification.PeripheralDeviceStatus:
            if arg0:
                await self._came_online(r)
            else:
                await self._went_offline(r)

    async def _finish_enrolment(self, r: _Reader) -> None:
        cp = self._cp
        await asyncio.to_thread(cp.clear_flag, r.spec.address, LibFlag.InstallMode)
        await asyncio.to_thread(cp.set_flag, r.spec.address, LibFlag.EnforceSecure)
        r.enrolled = True
        log.warning("读卡器已写入密钥，已强制安全通道 / reader enrolled, secure channel enforced",
                    reader=r.spec.name)
        if self._on_enrolled is not None:
            self._on_enrolled(r.spec.name)

    async def _came_online(self, r: _Reader) -> None:
        was_out = r.announced_offline
        r.online, r.down_since, r.announced_offline = True, None, False
        log.info("读卡器在线 / reader online", reader=r.spec.name, secure=r.secure)
        await self._reader_event(r, Kind.READER_ONLINE, {"secure": r.secure,
                                                         "after_outage": was_out},
                                 message=_CLEARED[Kind.READER_ONLINE] if was_out else None)

    async def _went_offline(self, r: _Reader) -> None:
        was_online = r.online
        r.online, r.secure = False, False
        if r.down_since is None:
            r.down_since = time.monotonic()
        if was_online:
            await self._announce_offline(r)

    async def _announce_offline(self, r: _Reader) -> None:
        if r.announced_offline:
            return
        r.announced_offline = True
        refused = self._line is not None and self._line.in_key_exchange(r.spec.address)
        reason = "secure_channel_refused" if refused else "no_answer"
        log.warning("读卡器离线 / reader offline", reader=r.spec.name, reason=reason)
        await self._reader_event(r, Kind.READER_OFFLINE, {"reason": reason})

    async def _watch(self) -> None:
        """Announce readers that never came up; restart the session of a down reader."""
        step = min(0.5, self._retry / 2)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for r in self._by_index:
                if r.online or r.down_since is None:
                    continue
                if now - r.down_since >= self._offline_after:
                    await self._announce_offline(r)
                if now - r.down_since >= self._retry and now - r.kicked_at >= self._retry:
                    r.kicked_at = now
                    self.stats.inc("osdp_session_restarts")
                    await asyncio.to_thread(self._restart_session, r.spec.address)

    def _restart_session(self, address: int) -> None:
        cp = self._cp
        if cp is not None:
            cp.disable_pd(address)
            cp.enable_pd(address)

    async def _reader_event(self, r: _Reader, kind: str, extra: dict[str, Any], *,
                            message: str | None = None) -> None:
        data: dict[str, Any] = {"v": EVENT_VERSION, "reader": r.spec.name,
                                "address": r.spec.address,
                                "message": message or _MESSAGES[kind], **extra}
        if r.spec.building is not None:
            data["building"] = r.spec.building
        await self._emit(NewEvent(r.spec.name, kind, data, self._clock.now()))


def _scanned_text(fmt: Any, data: bytes) -> str | None:
    """The text of a QR reader's scan, or None for card data. Readers send it as a card read
    in the ASCII format (libosdp 3.2.9 drops those at the reader's end as deprecated) or, as
    OSDP 2.2 has it, raw in the unspecified format with the bytes as they are; raw card data
    is taken for text only when it carries the visitor pass prefix, so that no Wiegand
    number is ever mistaken for one. libosdp carries at most ``osdp_model.CARD_DATA_MAX``
    bytes in one read."""
    if not data or not all(0x20 <= b < 0x7F for b in data):
        return None
    text = data.decode("ascii")
    if fmt == CardFormat.ASCII or (fmt == CardFormat.Unspecified and looks_like_pass(text)):
        return text
    return None


def _refresh_loop(stop: threading.Event, lock: threading.Lock, ctx: Any,
                  period: float) -> None:
    while not stop.is_set():
        with lock:
            ctx.refresh()
        time.sleep(period)


def _ticks(seconds: float) -> int:
    """OSDP timers count 100 ms; libosdp carries them in one byte."""
    return max(1, min(255, round(seconds * 10)))


def _led(spec: ReaderSpec, colour: int, ticks: int) -> dict[str, Any]:
    return {"command": Command.LED, "reader": spec.reader_no, "led_number": 0,
            "control_code": LED_TEMPORARY_SET, "on_count": ticks, "off_count": 0,
            "on_color": colour, "off_color": 0, "timer_count": ticks, "temporary": True}


def _buzzer(spec: ReaderSpec, *, on: int, off: int, times: int) -> dict[str, Any]:
    return {"command": Command.Buzzer, "reader": spec.reader_no,
            "control_code": BUZZER_DEFAULT_TONE, "on_count": on, "off_count": off,
            "rep_count": times}
