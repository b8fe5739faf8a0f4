"""A barrier on a Modbus relay board: pulse coils, poll the opto inputs, report the board.

``ModbusRelayGate`` is the transport under a ``GateController``:

* a command is a pulse: the coil is written ON, and an owned task writes it OFF after
  ``pulse_ms``. Only one relay of a gate is ever on: pulsing OPEN first switches a CLOSE still
  being held off (and the other way round), which is also how anti-crush cuts a close short.
  An OFF that fails is retried on every poll until the board takes it;
* the discrete inputs (limit switches, loop) are read in one request every ``poll_interval``,
  with the bus's timeout, and handed to the controller. A failed read makes the gate state
  ``unknown`` at once (the gate never claims open or closed without a reading);
  ``offline_after`` failures in a row emit ``device.offline`` once, ``online_after`` good
  reads in a row emit ``device.online`` once (hysteresis, so a flaky line does not flap).
  Exception replies and garbage are counted and logged; the driver keeps polling.

The wire work goes through ``drivers.modbus.link.BusLink`` (one request at a time per wire,
our own reply timeout, reconnect back-off, RTU inter-frame gap, and the bit functions FC 1, 2,
5 a relay board needs). The edge passes every gate a ``BusLink`` over the one ``Wire`` of its
bus, shared with the meters and elevator boxes on the same line; built without ``link=`` the
gate owns a private one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from contract import Clock, Kind
from drivers.base import DriverStats, Emit, stop_if_cancelled
from drivers.gate.controller import GateCommandError, GateController, GateIOError
from drivers.gate.model import Command, GateInputs, GateState, ModbusGateSpec
from drivers.modbus.device import reason_text
from drivers.modbus.link import (
    BusDown,
    BusLink,
    ExceptionReply,
    GarbageReply,
    NoReply,
    PollError,
    silence_pymodbus,
)
from drivers.modbus.model import RtuBus, TcpBus

OFF_ATTEMPTS = 3
STOP_RELEASE_S = 2.0

ONLINE_MESSAGE = "道闸控制板恢复在线 / Gate relay board back online"


def offline_message(reason: str) -> str:
    zh, en = reason_text(reason)
    return f"道闸控制板离线：{zh} / Gate relay board offline: {en}"


#: Kept for callers that name it: the coil and discrete-input functions now live on every
#: ``BusLink``, so a relay board shares one link (one request path, one lock) with the meters
#: and elevator boxes on its wire.
RelayLink = BusLink


class ModbusRelayGate:
    """One barrier on a Modbus relay board; ``run()`` polls until cancelled.

    The gate API (``open``, ``close``, ``hold_open``, ``release``, ``stop``, ``state``,
    ``loop_occupied``) is the controller's, see ``drivers.gate.controller``.
    """

    def __init__(self, spec: ModbusGateSpec, bus: TcpBus | RtuBus, emit: Emit, clock: Clock,
                 stats: DriverStats, log: Any | None = None, *,
                 link: BusLink | None = None) -> None:
        if spec.bus != bus.id:
            raise ValueError(f"gate {spec.id} is on bus {spec.bus!r}, not {bus.id!r}")
        self.spec = spec
        self.bus = bus
        self._clock = clock
        self._stats = stats
        base = log if log is not None else structlog.get_logger("courtyard.drivers.gate")
        self._log = base.bind(gate=spec.id, bus=bus.id, address=spec.address)
        self._link = link if link is not None else BusLink(bus, clock, stats, self._log)
        self._owns_link = link is None
        self.controller = GateController(spec.behaviour, self, emit, clock, stats, self._log)
        wired = [i for i in (spec.open_limit_input, spec.closed_limit_input, spec.loop_input)
                 if i is not None]
        self._first_input = min(wired) if wired else None
        self._input_count = max(wired) - min(wired) + 1 if wired else 0
        self._active_low = spec.input_polarity == "active_low"
        self._coil_lock = asyncio.Lock()
        self._held_coil: int | None = None
        self._release_task: asyncio.Task[None] | None = None
        self._stuck_on: set[int] = set()
        self._online: bool | None = None
        self._fails = 0
        self._goods = 0

    # -- the gate API (delegated) ---------------------------------------------------------

    @property
    def state(self) -> GateState:
        return self.controller.state

    @property
    def loop_occupied(self) -> bool | None:
        return self.controller.loop_occupied

    @property
    def online(self) -> bool | None:
        """The board's health verdict (None until the first one)."""
        return self._online

    async def open(self, *, cause: str, by: str | None = None, reason: str | None = None,
                   plate: str | None = None, session: str | None = None) -> None:
        await self.controller.open(cause=cause, by=by, reason=reason, plate=plate,
                                   session=session)

    async def close(self, *, cause: str = "remote", by: str | None = None,
                    reason: str | None = None) -> bool:
        return await self.controller.close(cause=cause, by=by, reason=reason)

    async def hold_open(self, reason: str, *, by: str | None = None,
                        cause: str = "fire") -> None:
        await self.controller.hold_open(reason, by=by, cause=cause)

    async def release(self, *, by: str | None = None) -> None:
        await self.controller.release(by=by)

    async def stop(self, *, by: str, reason: str) -> None:
        if self.spec.stop_coil is None:
            raise GateCommandError("该道闸未接停止继电器 / this gate has no stop coil")
        await self.controller.stop(by=by, reason=reason)

    # -- life cycle ------------------------------------------------------------------------

    async def run(self) -> None:
        silence_pymodbus()
        self._log.info("gate driver started", poll_interval=self.spec.poll_interval)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.controller.run(), name=f"gate-events-{self.spec.id}")
                await self._poll_loop()
        finally:
            await self._shutdown()
            self._log.info("gate driver stopped")

    async def _shutdown(self) -> None:
        """Leave no relay on: cancel the pending release and switch every coil off."""
        task, self._release_task = self._release_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        coils = set(self._stuck_on)
        if self._held_coil is not None:
            coils.add(self._held_coil)
        self._held_coil = None
        for coil in sorted(coils):
            try:
                async with asyncio.timeout(STOP_RELEASE_S):
                    await self._write_coil(coil, False)
                self._stuck_on.discard(coil)
            except (PollError, TimeoutError) as exc:
                self._log.error("relay may be left on at stop", coil=coil, detail=str(exc))
        if self._owns_link:
            await self._link.close()

    # -- GateIO: pulses ----------------------------------------------------------------------

    async def command(self, command: Command) -> None:
        """Pulse the coil for ``command``; returns once the board has switched it on."""
        coil = self.spec.coil_for(command)
        if coil is None:
            raise GateIOError(f"no coil configured for {command}")
        async with self._coil_lock:
            await self._all_off_locked()
            try:
                await self._write_coil(coil, True, attempts=1 + self.bus.retries)
            except PollError as exc:
                # It may have switched on all the same: make sure it goes off again.
                self._stuck_on.add(coil)
                self._stats.inc("coil_write_failures")
                raise GateIOError(f"coil {coil} on: {exc.detail}") from None
            self._held_coil = coil
            self._stats.inc("relay_pulses")
            self._log.debug("relay on", coil=coil, command=command)
            self._release_task = asyncio.create_task(self._release_after(coil),
                                                     name=f"gate-pulse-{self.spec.id}")

    async def _release_after(self, coil: int) -> None:
        await asyncio.sleep(self.spec.pulse_ms / 1000.0)
        async with self._coil_lock:
            if self._held_coil != coil:
                return
            self._held_coil = None
            self._release_task = None
            try:
                await self._write_coil(coil, False, attempts=OFF_ATTEMPTS)
            except PollError as exc:
                self._stuck_on.add(coil)
                self._stats.inc("coil_release_failures")
                self._log.error("relay did not switch off; retrying every poll", coil=coil,
                                detail=exc.detail)

    async def _all_off_locked(self) -> None:
        """Interlock: every relay of this gate off before another goes on."""
        task, self._release_task = self._release_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._held_coil is not None:
            self._stuck_on.add(self._held_coil)
            self._held_coil = None
        for coil in sorted(self._stuck_on):
            try:
                await self._write_coil(coil, False, attempts=OFF_ATTEMPTS)
            except PollError as exc:
                self._stats.inc("coil_release_failures")
                raise GateIOError(f"coil {coil} could not be switched off first: "
                                  f"{exc.detail}") from None
            self._stuck_on.discard(coil)

    async def _retry_stuck(self) -> None:
        if not self._stuck_on or self._coil_lock.locked():
            return
        async with self._coil_lock:
            for coil in sorted(self._stuck_on):
                try:
                    await self._write_coil(coil, False)
                except PollError:
                    return
                self._stuck_on.discard(coil)
                self._log.info("relay finally switched off", coil=coil)

    async def _write_coil(self, coil: int, value: bool, attempts: int = 1) -> None:
        for attempt in range(attempts):
            try:
                await self._link.write_coil(coil, value, self.spec.address)
                self._stats.inc("coil_writes")
                return
            except (NoReply, GarbageReply, BusDown):
                if attempt + 1 >= attempts:
                    raise
                self._stats.inc("coil_write_retries")

    # -- polling -------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._poll_once()
            except (GateIOError, GateCommandError) as exc:
                self._log.warning("gate command from poll failed", detail=str(exc))
            except Exception:
                self._stats.inc("poll_errors")
                self._log.exception("gate poll step failed")
            self._stats.inc("polls")
            stop_if_cancelled()
            await asyncio.sleep(max(0.0, self.spec.poll_interval - (loop.time() - started)))

    async def _poll_once(self) -> None:
        started = self._clock.monotonic()
        try:
            inputs = await self._read_inputs()
        except (ExceptionReply, GarbageReply) as exc:
            self._stats.inc("poll_exceptions" if isinstance(exc, ExceptionReply)
                            else "poll_garbage")
            await self._failed(exc)
            return
        except (NoReply, BusDown) as exc:
            self._stats.inc("poll_timeouts" if isinstance(exc, NoReply) else "poll_bus_down")
            await self._failed(exc)
            return
        self._stats.inc("polls_ok")
        self._stats.observe_latency(self._clock.monotonic() - started)
        await self._succeeded()
        await self.controller.observe(inputs)
        await self._retry_stuck()

    async def _read_inputs(self) -> GateInputs:
        spec = self.spec
        if self._first_input is None:
            # Nothing wired to read: read a coil so a dead board is still noticed.
            await self._link.read_bits(1, spec.open_coil, 1, spec.address)
            return GateInputs(None, None, None)
        bits = await self._link.read_bits(2, self._first_input, self._input_count,
                                          spec.address)

        def active(index: int | None) -> bool | None:
            if index is None or self._first_input is None:
                return None
            return bits[index - self._first_input] != self._active_low

        return GateInputs(open_limit=active(spec.open_limit_input),
                          closed_limit=active(spec.closed_limit_input),
                          loop=active(spec.loop_input))

    async def _failed(self, exc: PollError) -> None:
        self._stats.inc("polls_failed")
        self._fails += 1
        if self._fails == 1:
            # First failure of a streak: log it; the rest are counted, not logged 10×/s.
            self._log.warning("gate inputs unreadable", reason=exc.reason, detail=exc.detail)
        self._goods = 0
        await self.controller.observe(None)
        if self._fails >= self.spec.offline_after and self._online is not False:
            self._online = False
            self._stats.inc("devices_went_offline")
            self._log.warning("gate board offline", reason=exc.reason, detail=exc.detail,
                              failed_polls=self._fails)
            self.controller.post(Kind.DEVICE_OFFLINE, {
                "reason": exc.reason, "detail": exc.detail,
                "message": offline_message(exc.reason)})

    async def _succeeded(self) -> None:
        if self._fails:
            self._log.info("gate inputs readable again", failed_polls=self._fails)
        self._fails = 0
        self._goods += 1
        if self._goods >= self.spec.online_after and self._online is not True:
            self._online = True
            self._stats.inc("devices_came_online")
            self._log.info("gate board online")
            self.controller.post(Kind.DEVICE_ONLINE, {"message": ONLINE_MESSAGE})
