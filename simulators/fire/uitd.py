# Over 500 lines on purpose: one virtual UITD: connection, retries, scenarios and its CLI.
"""A virtual user information transmission device (UITD, 用户信息传输装置) on a fire panel.

It connects to the monitoring centre (the Courtyard edge) over TCP and speaks GB/T 26875.3-2011
with the codec in ``simulators.fire.wire`` (written from docs/protocols.md, never from the edge's
driver). What it does, as a real device would:

* sends events in send/confirm mode: waits up to ``confirm_timeout`` for a confirm carrying the
  same serial; on a deny or no answer it sends the very same bytes again, up to ``retries``
  times, and reports how it went (``Sent``);
* sends a heartbeat (command 2, no data) every ``heartbeat_s``;
* answers the centre: requests 61/62/63 (facility), 81/85/88 (UITD) with a response (command 5)
  echoing the request's serial; controls 89 (initialise), 90 (clock sync: it sets its clock)
  and 91 (duty check) with a confirm; anything it cannot read with a deny, as the standard
  says. Every frame the centre sent is kept in ``received``, every bad one in ``rejected``.

Serial numbers, our reading of "0 on connect": the counter is 0 when the TCP connection is
made, so the first frame this device initiates after connecting (a heartbeat or an event)
carries serial 0 and each new frame it initiates carries the next one (wrapping after 65535);
a retransmission repeats its serial; confirms, denies and responses echo the centre's serial
and do not move the counter. A new connection starts again at 0.

Time tags are site-local wall time (Asia/Shanghai unless ``tz`` says otherwise) from the
injected ``clock``; after a clock sync the device keeps the offset the centre gave it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import structlog

from simulators.fire import wire
from simulators.fire.wire import (
    AppObject,
    ChecksumMethod,
    Command,
    ComponentRef,
    DataType,
    Frame,
    FrameError,
    FrameSplitter,
    SystemRef,
)

Outcome = Literal["confirmed", "denied", "timed out"]
_log = structlog.get_logger("courtyard.simulators.fire")

OUTCOME_ZH: dict[str, str] = {"confirmed": "已确认", "denied": "被否认", "timed out": "无应答"}


@dataclass(frozen=True, slots=True)
class Sent:
    """How one initiated frame went.

    ``sent_at`` is the real wall time (UTC) and ``sent_perf`` the ``time.perf_counter()`` at
    which the first byte of the first attempt was handed to the socket: the start of a
    latency measurement. ``answered_perf`` is when the confirm arrived (None otherwise).
    """

    outcome: Outcome
    attempts: int
    serial: int
    sent_at: datetime
    sent_perf: float
    answered_perf: float | None
    denials: int
    frame: bytes

    @property
    def ok(self) -> bool:
        return self.outcome == "confirmed"

    @property
    def rtt_s(self) -> float | None:
        """First byte out → confirm in, seconds."""
        return None if self.answered_perf is None else self.answered_perf - self.sent_perf


@dataclass
class UitdStats:
    frames_sent: int = 0
    retransmissions: int = 0
    confirms: int = 0
    denials_received: int = 0
    timeouts: int = 0
    heartbeats: int = 0
    requests_answered: int = 0
    controls_confirmed: int = 0
    denials_sent: int = 0
    bad_frames: int = 0
    unmatched_answers: int = 0
    wrong_address: int = 0


@dataclass
class _Component:
    component_type: int
    status: int
    description: str
    when: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """One scenario step: wait ``delay_s`` (divided by the speed), then ``action(**params)``.

    ``action`` is ``component``, ``system``, ``uitd``, ``operation``, ``uitd_operation`` or
    ``analog`` (the ``send_*`` method of that name); ``say`` is the progress line (zh / en).
    """

    delay_s: float
    action: str
    params: Mapping[str, Any]
    say: str


def _smoke(status: int, say: str, delay: float = 0.0) -> Step:
    return Step(delay, "component", {"system_type": 1, "system_address": 1,
                                     "component_type": 42, "zone": 10, "position": 2,
                                     "status_bits": status, "description": "1号楼3层走廊烟感"},
                say)


def _call_point(status: int, say: str, delay: float = 0.0) -> Step:
    return Step(delay, "component", {"system_type": 1, "system_address": 1,
                                     "component_type": 23, "zone": 10, "position": 5,
                                     "status_bits": status, "description": "1号楼3层手动报警按钮"},
                say)


def _heat(status: int, say: str, delay: float = 0.0) -> Step:
    return Step(delay, "component", {"system_type": 1, "system_address": 1,
                                     "component_type": 31, "zone": 12, "position": 7,
                                     "status_bits": status, "description": "2号楼地下车库感温"},
                say)


def _system(status: int, say: str, delay: float = 0.0) -> Step:
    return Step(delay, "system", {"system_type": 1, "system_address": 1, "status_bits": status},
                say)


def _uitd(status: int, say: str, delay: float = 0.0) -> Step:
    return Step(delay, "uitd", {"status_bits": status}, say)


#: Scenarios as data. Status bits: bit0 normal (clear = test mode, yet real panels send fires
#: as 0x0002, vector 1), bit1 fire, bit2 fault, bit5 started, bit6 feedback, bit8 main power.
SCENARIOS: dict[str, list[Step]] = {
    "fire": [
        _smoke(0x0002, "火警：1号楼3层走廊烟感 / fire: smoke detector, building 1 floor 3"),
        _system(0x0003, "火灾报警系统火警 / fire alarm system: fire", 0.5),
        _uitd(0x03, "传输装置火警 / UITD: fire", 0.2),
        _call_point(0x0003, "火警：1号楼3层手报 / fire: manual call point, building 1 floor 3",
                    1.0),
        Step(1.0, "component", {"system_type": 10, "system_address": 1, "component_type": 111,
                                "zone": 20, "position": 1, "status_bits": 0x0061,
                                "description": "1号楼排烟风机"},
             "排烟风机启动并反馈 / smoke fan started, feedback"),
    ],
    "fault": [
        _heat(0x0005, "故障：2号楼车库感温探测器 / fault: heat detector, building 2 garage"),
        _system(0x0005, "火灾报警系统故障 / fire alarm system: fault", 0.5),
        Step(0.5, "analog", {"system_type": 11, "system_address": 1, "component_type": 99,
                             "zone": 30, "position": 1, "analog_type": 4, "value": 1},
             "消火栓管网压力 0.1 MPa / hydrant main pressure 0.1 MPa"),
        _uitd(0x05, "传输装置故障 / UITD: fault", 0.2),
    ],
    "restore": [
        Step(0.0, "operation", {"system_type": 1, "system_address": 1, "flags": 0x01,
                                "operator": 1},
             "控制器复位 / panel reset"),
        _smoke(0x0001, "恢复：1号楼3层走廊烟感 / restored: smoke detector", 0.5),
        _call_point(0x0001, "恢复：1号楼3层手报 / restored: manual call point", 0.2),
        _heat(0x0001, "恢复：2号楼车库感温探测器 / restored: heat detector", 0.2),
        _system(0x0001, "火灾报警系统正常 / fire alarm system: normal", 0.2),
        _uitd(0x01, "传输装置正常 / UITD: normal", 0.2),
    ],
    "power_fault": [
        _uitd(0x09, "传输装置主电故障 / UITD: main power fault"),
        _system(0x0101, "火灾报警控制器主电故障 / fire panel: main power fault", 0.5),
    ],
}
SCENARIOS["full"] = [
    *SCENARIOS["fire"],
    Step(2.0, "operation", {"system_type": 1, "system_address": 1, "flags": 0x02,
                            "operator": 1}, "控制器消音 / panel silenced"),
    *SCENARIOS["restore"],
    *SCENARIOS["fault"],
    *SCENARIOS["restore"],
    *SCENARIOS["power_fault"],
    Step(1.0, "uitd_operation", {"flags": 0x10, "operator": 1},
         "传输装置自检 / UITD self-test"),
    *SCENARIOS["restore"],
]


class VirtualUitd:
    """One UITD connected to a centre; see the module docstring. ``async with`` connects.

    ``clock`` returns an aware datetime (naive is taken as site time) and drives the time
    tags, so a test can fix them; latency stamps in ``Sent`` always use the real clocks.
    ``description_pad`` is the byte after a component description (0x00, or 0x20 as some
    panels do). ``heartbeat_s`` 0 turns heartbeats off (a test that counts serials).
    """

    def __init__(self, host: str, port: int, *, source_address: int = 889,
                 centre_address: int = 88888, checksum: str = "sum",
                 heartbeat_s: float = 25.0, confirm_timeout: float = 10.0, retries: int = 3,
                 clock: Callable[[], datetime] | None = None,
                 tz: tzinfo | str = "Asia/Shanghai", description_pad: int = 0x00,
                 connect_timeout: float = 10.0, write_timeout: float = 10.0) -> None:
        if checksum not in wire.CHECKSUM_METHODS:
            raise ValueError(f"checksum must be one of {wire.CHECKSUM_METHODS}, not {checksum!r}")
        if retries < 0 or confirm_timeout <= 0:
            raise ValueError("retries must be ≥ 0 and confirm_timeout > 0")
        wire.encode_address(source_address)
        wire.encode_address(centre_address)
        self.host = host
        self.port = port
        self.address = source_address
        self.centre_address = centre_address
        self.checksum = cast(ChecksumMethod, checksum)
        self.heartbeat_s = heartbeat_s
        self.confirm_timeout = confirm_timeout
        self.retries = retries
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.description_pad = description_pad
        self.connect_timeout = connect_timeout
        self.write_timeout = write_timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._offset = timedelta(0)
        self.log = _log.bind(device=f"uitd-{source_address}", centre=f"{host}:{port}")
        # What a test reads.
        self.received: list[Frame] = []
        self.rejected: list[FrameError] = []
        self.sent: list[Sent] = []
        self.heartbeats: list[Sent] = []
        self.clock_set_to: datetime | None = None
        self.duty_checks: list[int] = []
        self.initialised = 0
        self.stats = UitdStats()
        # The device's own picture of the panel, for answering requests.
        self.uitd_status = 0x01
        self.systems: dict[tuple[int, int], tuple[int, datetime]] = {}
        self.components: dict[tuple[int, int, int, int], _Component] = {}
        self.analogs: dict[tuple[int, int, int, int], tuple[int, int, int, datetime]] = {}
        # Connection state.
        self._writer: asyncio.StreamWriter | None = None
        self._runner: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._serial = 0
        self._splitter = FrameSplitter(self.checksum)

    # -- connection -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        """Open the TCP connection (serials restart at 0) and start reading and heartbeats."""
        if self._runner is not None and not self._runner.done():
            raise RuntimeError("already connected")
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        self._writer = writer
        self._serial = 0
        self._splitter = FrameSplitter(self.checksum)
        self._lost = asyncio.Event()
        self._runner = asyncio.create_task(self._run(reader, writer),
                                           name=f"uitd-{self.address}")
        self.log.info("已连接监控中心 / connected to the centre")

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        runner.cancel()
        await asyncio.wait({runner})
        if not runner.cancelled() and runner.exception() is not None:
            self.log.error("连接任务失败 / connection task failed", error=repr(runner.exception()))

    async def wait_lost(self) -> None:
        """Returns once the connection is gone (closed by either side)."""
        await self._lost.wait()

    async def __aenter__(self) -> VirtualUitd:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read_loop(reader))
                if self.heartbeat_s > 0:
                    tg.create_task(self._heartbeat_loop())
        except* (ConnectionError, OSError, TimeoutError) as eg:
            self.log.warning("连接断开 / connection lost", error=repr(eg.exceptions[0]))
        finally:
            self._writer = None
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("连接已断开 / connection lost"))
            self._pending.clear()
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(2.0):
                    await writer.wait_closed()
            self._lost.set()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        # No timeout on this read by design: the centre may stay silent for hours; the
        # heartbeats are the liveness check and close() cancels the wait.
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionResetError("监控中心关闭了连接 / the centre closed the connection")
            for item in self._splitter.feed(chunk):
                if isinstance(item, FrameError):
                    await self._on_bad_frame(item)
                    continue
                self.received.append(item)
                try:
                    await self._on_frame(item)
                except ValueError as exc:  # a request we cannot answer within the limits
                    await self._deny(item.serial, item.source, str(exc))

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self.heartbeat()

    async def _write(self, data: bytes) -> tuple[datetime, float]:
        writer = self._writer
        if writer is None:
            raise ConnectionError("未连接 / not connected")
        async with self._write_lock:
            wall, perf = datetime.now(UTC), time.perf_counter()
            writer.write(data)
            async with asyncio.timeout(self.write_timeout):
                await writer.drain()
        return wall, perf

    # -- time -------------------------------------------------------------------------------

    def now_local(self) -> datetime:
        """The device's clock: site-local wall time (naive), including any clock sync."""
        return self._local(self._clock()) + self._offset

    def _local(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            return when
        return when.astimezone(self.tz).replace(tzinfo=None)

    def _event_time(self, when: datetime | None) -> datetime:
        return self.now_local() if when is None else self._local(when)

    # -- sending ----------------------------------------------------------------------------

    def _take_serial(self) -> int:
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFF
        return serial

    async def send_data(self, data: bytes, *, command: int = Command.SEND_DATA,
                        retry: bool = True) -> Sent:
        """Initiate one frame carrying ``data`` and see it confirmed (see ``Sent``).

        Raises ConnectionError when not connected or when the link drops while waiting.
        """
        serial = self._take_serial()
        frame = wire.encode_frame(serial, command, data, source=self.address,
                                  destination=self.centre_address, when=self.now_local(),
                                  checksum=self.checksum)
        loop = asyncio.get_running_loop()
        attempts = denials = 0
        outcome: Outcome = "timed out"
        first: tuple[datetime, float] | None = None
        answered: float | None = None
        log = self.log.bind(serial=serial, type=data[0] if data else None)
        for _ in range(1 + (self.retries if retry else 0)):
            fut: asyncio.Future[int] = loop.create_future()
            self._pending[serial] = fut
            try:
                stamp = await self._write(frame)
                attempts += 1
                self.stats.frames_sent += 1
                if first is None:
                    first = stamp
                else:
                    self.stats.retransmissions += 1
                    log.info("重发 / retransmitting", attempt=attempts)
                try:
                    async with asyncio.timeout(self.confirm_timeout):
                        answer = await fut
                except TimeoutError:
                    outcome = "timed out"
                    self.stats.timeouts += 1
                    log.warning("确认超时 / no confirm in time", attempt=attempts,
                                timeout_s=self.confirm_timeout)
                    continue
            finally:
                if self._pending.get(serial) is fut:
                    del self._pending[serial]
            if answer == Command.CONFIRM:
                outcome, answered = "confirmed", time.perf_counter()
                self.stats.confirms += 1
                break
            outcome = "denied"
            denials += 1
            self.stats.denials_received += 1
            log.warning("监控中心否认 / the centre denied the frame", attempt=attempts)
        assert first is not None
        return Sent(outcome, attempts, serial, first[0], first[1], answered, denials, frame)

    async def _send_event(self, data: bytes) -> Sent:
        sent = await self.send_data(data)
        self.sent.append(sent)
        return sent

    async def heartbeat(self) -> Sent:
        """One heartbeat now (command 2, no data); not retransmitted."""
        sent = await self.send_data(b"", retry=False)
        self.stats.heartbeats += 1
        self.heartbeats.append(sent)
        return sent

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (malformed-input tests, fuzzing); no serial, no waiting."""
        await self._write(data)

    async def send_component(self, system_type: int, system_address: int, component_type: int,
                             zone: int, position: int, status_bits: int,
                             description: str = "", when: datetime | None = None) -> Sent:
        """Type 2: a component's running status (fire, fault, … see the status bits)."""
        at = self._event_time(when)
        self.components[(system_type, system_address, zone, position)] = _Component(
            component_type, status_bits, description, at)
        obj = wire.component_status_object(system_type, system_address, component_type, zone,
                                           position, status_bits, description, at,
                                           pad=self.description_pad)
        return await self._send_event(wire.app_data(DataType.COMPONENT_STATUS, [obj]))

    async def send_system_status(self, system_type: int, system_address: int,
                                 status_bits: int, when: datetime | None = None) -> Sent:
        """Type 1: a facility system's status."""
        at = self._event_time(when)
        self.systems[(system_type, system_address)] = (status_bits, at)
        obj = wire.system_status_object(system_type, system_address, status_bits, at)
        return await self._send_event(wire.app_data(DataType.SYSTEM_STATUS, [obj]))

    async def send_analog(self, system_type: int, system_address: int, component_type: int,
                          zone: int, position: int, analog_type: int, value: int,
                          when: datetime | None = None) -> Sent:
        """Type 3: a raw int16 analog value (e.g. analog type 4, pressure in 0.1 MPa)."""
        at = self._event_time(when)
        self.analogs[(system_type, system_address, zone, position)] = (
            component_type, analog_type, value, at)
        obj = wire.analog_object(system_type, system_address, component_type, zone, position,
                                 analog_type, value, at)
        return await self._send_event(wire.app_data(DataType.ANALOG, [obj]))

    async def send_operation(self, system_type: int, system_address: int, flags: int,
                             operator: int = 0, when: datetime | None = None) -> Sent:
        """Type 4: an operation on the facility (bit0 reset, bit1 silence, …)."""
        obj = wire.operation_object(system_type, system_address, flags, operator,
                                    self._event_time(when))
        return await self._send_event(wire.app_data(DataType.OPERATION, [obj]))

    async def send_uitd_status(self, status_bits: int, when: datetime | None = None) -> Sent:
        """Type 21: the UITD's own status (bit3 main power fault, …)."""
        at = self._event_time(when)
        self.uitd_status = status_bits
        obj = wire.uitd_status_object(status_bits, at)
        return await self._send_event(wire.app_data(DataType.UITD_STATUS, [obj]))

    async def send_uitd_operation(self, flags: int, operator: int = 0,
                                  when: datetime | None = None) -> Sent:
        """Type 24: an operation on the UITD (bit5 = duty check answered)."""
        obj = wire.uitd_operation_object(flags, operator, self._event_time(when))
        return await self._send_event(wire.app_data(DataType.UITD_OPERATION, [obj]))

    # -- scenarios --------------------------------------------------------------------------

    async def run_scenario(self, name: str, speed: float = 1.0,
                           progress: Callable[[int, Step, Sent], None] | None = None
                           ) -> list[Sent]:
        """Play ``SCENARIOS[name]``; delays are divided by ``speed``."""
        steps = SCENARIOS.get(name)
        if steps is None:
            raise ValueError(f"未知场景 / unknown scenario {name!r}: {sorted(SCENARIOS)}")
        if speed <= 0:
            raise ValueError("speed must be > 0")
        return await self.run_steps(steps, speed, progress)

    async def run_steps(self, steps: Sequence[Step], speed: float = 1.0,
                        progress: Callable[[int, Step, Sent], None] | None = None
                        ) -> list[Sent]:
        actions: dict[str, Callable[..., Any]] = {
            "component": self.send_component, "system": self.send_system_status,
            "uitd": self.send_uitd_status, "operation": self.send_operation,
            "uitd_operation": self.send_uitd_operation, "analog": self.send_analog}
        results: list[Sent] = []
        for i, step in enumerate(steps):
            if step.delay_s > 0:
                await asyncio.sleep(step.delay_s / speed)
            action = actions.get(step.action)
            if action is None:
                raise ValueError(f"unknown scenario action {step.action!r}")
            sent: Sent = await action(**step.params)
            self.log.info(step.say, outcome=sent.outcome, serial=sent.serial,
                          attempts=sent.attempts)
            results.append(sent)
            if progress is not None:
                progress(i, step, sent)
        return results

    # -- what the centre sends --------------------------------------------------------------

    async def _reply(self, to_serial: int, command: int, data: bytes = b"",
                     destination: int | None = None) -> None:
        frame = wire.encode_frame(to_serial, command, data, source=self.address,
                                  destination=self.centre_address if destination is None
                                  else destination, when=self.now_local(),
                                  checksum=self.checksum)
        await self._write(frame)

    async def _deny(self, to_serial: int, destination: int | None, why: str) -> None:
        self.stats.denials_sent += 1
        self.log.warning("否认 / denying", serial=to_serial, reason=why)
        await self._reply(to_serial, Command.DENY, destination=destination)

    async def _on_bad_frame(self, err: FrameError) -> None:
        self.stats.bad_frames += 1
        self.rejected.append(err)
        self.log.warning("收到坏帧 / bad frame from the centre", reason=err.reason,
                         error=str(err), serial=err.serial)
        if err.serial is not None:
            await self._deny(err.serial, None, err.reason)

    async def _on_frame(self, frame: Frame) -> None:
        log = self.log.bind(serial=frame.serial, command=frame.command)
        if frame.destination != self.address:
            self.stats.wrong_address += 1
            log.warning("目的地址不是本机 / frame addressed to someone else",
                        destination=frame.destination)
        if frame.command in (Command.CONFIRM, Command.DENY):
            fut = self._pending.get(frame.serial)
            if fut is not None and not fut.done():
                fut.set_result(frame.command)
            else:
                self.stats.unmatched_answers += 1
                log.info("无对应发送的应答 / answer to nothing pending")
            return
        if frame.command == Command.REQUEST:
            await self._on_request(frame, log)
        elif frame.command == Command.CONTROL:
            await self._on_control(frame, log)
        elif frame.command == Command.RESPONSE:
            self.stats.unmatched_answers += 1
            log.info("未请求的应答 / response to no request")
        else:
            await self._deny(frame.serial, frame.source, f"command {frame.command}")

    async def _on_request(self, frame: Frame, log: Any) -> None:
        try:
            req = wire.parse_app_data(frame.data)
        except ValueError as exc:
            await self._deny(frame.serial, frame.source, str(exc))
            return
        data = self._answer(req.type_flag, req.objects)
        if data is None:
            await self._deny(frame.serial, frame.source, f"request type {req.type_flag}")
            return
        self.stats.requests_answered += 1
        log.info("应答查询 / answering a request", type=req.type_flag)
        await self._reply(frame.serial, Command.RESPONSE, data, frame.source)

    def _answer(self, type_flag: int, refs: Sequence[AppObject]) -> bytes | None:
        now = self.now_local()
        if type_flag == DataType.READ_SYSTEM_STATUS:
            keys = [(r.system_type, r.system_address) for r in refs if isinstance(r, SystemRef)]
            keys = keys or sorted(self.systems) or [(1, 1)]
            objs = [wire.system_status_object(t, a, *self.systems.get((t, a), (0x0001, now)))
                    for t, a in keys]
            return wire.app_data(DataType.SYSTEM_STATUS, objs)
        if type_flag == DataType.READ_COMPONENT_STATUS:
            out = []
            for r in refs:
                if not isinstance(r, ComponentRef):
                    return None
                c = self.components.get((r.system_type, r.system_address, r.zone, r.position),
                                        _Component(0, 0x0001, "", now))
                out.append(wire.component_status_object(
                    r.system_type, r.system_address, c.component_type, r.zone, r.position,
                    c.status, c.description, c.when, pad=self.description_pad))
            return wire.app_data(DataType.COMPONENT_STATUS, out)
        if type_flag == DataType.READ_ANALOG:
            out = []
            for r in refs:
                if not isinstance(r, ComponentRef):
                    return None
                ctype, atype, value, at = self.analogs.get(
                    (r.system_type, r.system_address, r.zone, r.position), (0, 0, 0, now))
                out.append(wire.analog_object(r.system_type, r.system_address, ctype, r.zone,
                                              r.position, atype, value, at))
            return wire.app_data(DataType.ANALOG, out)
        if type_flag == DataType.READ_UITD_STATUS:
            return wire.app_data(DataType.UITD_STATUS,
                                 [wire.uitd_status_object(self.uitd_status, now)])
        if type_flag == DataType.READ_UITD_SOFTWARE_VERSION:
            return wire.app_data(DataType.UITD_SOFTWARE_VERSION, [bytes((1, 0))])
        if type_flag == DataType.READ_UITD_TIME:
            return wire.app_data(DataType.UITD_TIME, [wire.encode_time(now)])
        return None

    async def _on_control(self, frame: Frame, log: Any) -> None:
        try:
            ctl = wire.parse_app_data(frame.data)
        except ValueError as exc:
            await self._deny(frame.serial, frame.source, str(exc))
            return
        obj = ctl.objects[0] if ctl.objects else None
        if ctl.type_flag == DataType.CLOCK_SYNC and isinstance(obj, wire.ClockSync):
            if obj.time is None:
                await self._deny(frame.serial, frame.source, "clock sync without a valid time")
                return
            self._offset = obj.time - self._local(self._clock())
            self.clock_set_to = obj.time.replace(tzinfo=self.tz)
            log.info("时钟已同步 / clock set", to=obj.time.isoformat())
        elif ctl.type_flag == DataType.DUTY_CHECK and isinstance(obj, wire.DutyCheck):
            self.duty_checks.append(obj.minutes)
            log.info("查岗 / duty check", minutes=obj.minutes)
        elif ctl.type_flag == DataType.INIT_UITD:
            self.initialised += 1
            self.uitd_status = 0x01
            self.systems.clear()
            self.components.clear()
            self.analogs.clear()
            log.info("初始化 / initialised")
        else:
            await self._deny(frame.serial, frame.source, f"control type {ctl.type_flag}")
            return
        self.stats.controls_confirmed += 1
        await self._reply(frame.serial, Command.CONFIRM, destination=frame.source)


async def _until(work: Coroutine[Any, Any, Any], *events: asyncio.Event) -> None:
    """Run ``work`` until it ends or one of ``events`` is set; then nothing is left running.
    A failure of ``work`` (the link dropped mid-scenario) is logged, not raised."""
    task = asyncio.create_task(work)
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait({task, *waiters}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, *waiters):
            t.cancel()
        await asyncio.wait({task, *waiters})
    if not task.cancelled() and task.exception() is not None:
        _log.warning("场景中断 / scenario interrupted", error=repr(task.exception()))


async def run_uitd(host: str, port: int, address: int, scenario: str | None,
                   stop: asyncio.Event, *, centre_address: int = 88888, checksum: str = "sum",
                   speed: float = 1.0, heartbeat_s: float = 25.0,
                   reconnect_s: float = 2.0) -> list[Sent]:
    """Keep one UITD connected until ``stop`` is set (reconnecting when the link drops), play
    ``scenario`` once after the first successful connection, and return what was sent.
    For a site-wide simulator: run it as a task and set ``stop`` to end it."""
    results: list[Sent] = []
    todo = scenario
    log = _log.bind(device=f"uitd-{address}", centre=f"{host}:{port}")
    while not stop.is_set():
        uitd = VirtualUitd(host, port, source_address=address, centre_address=centre_address,
                           checksum=checksum, heartbeat_s=heartbeat_s)
        try:
            await uitd.connect()
        except (OSError, TimeoutError) as exc:
            log.info("连接失败，稍后重试 / cannot connect yet, retrying", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(reconnect_s):
                    await stop.wait()
            continue
        try:
            if todo is not None:
                name, todo = todo, None
                await _until(uitd.run_scenario(name, speed), stop, uitd._lost)
            await _until(asyncio.Event().wait(), stop, uitd._lost)
        finally:
            results.extend(uitd.sent)
            await uitd.close()
    return results
