"""Poll every meter on one Modbus bus on its own interval, however badly the others behave.

One task per bus walks a schedule of absolute deadlines (``clock.monotonic()``):

* live meters are polled when due, earliest deadline first, staggered across their interval
  so meters with the same interval do not all fire at once; ``phase`` shifts the whole bus
  within that stagger, so the edge can spread many buses too (200 one-meter buses all polling
  at the same instant queue up on the CPU and the outbox: p99 latency ~200 ms);
* a meter never heard from starts on the probe schedule, not the live one: its first contact
  is a full poll with a short reply timeout (``FIRST_CONTACT_TIMEOUT_S``, doubling on each
  silent attempt up to the bus's), and after the first silent attempt it only runs when it
  fits before the next live deadline. A long configured timeout (35 s for a slow DTU) is
  then paid only by meters that have answered once; five silent units no longer hold every
  live meter's first reading back by five timeouts. Once it answers, the meter is live, with
  the configured timeout and retries;
* a meter that stops answering costs a full timeout per request, so after its first silent
  poll it moves to a probe schedule (one cheap request, its interval at first, backing off to
  60 s once offline). A probe only starts when it fits before the next live deadline (give or
  take a jitter allowance of 10 % of the shortest interval): live polls always go first;
* events go through a queue to a separate emitter task, so waiting for the outbox never
  delays the bus.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from typing import Any

from contract import Clock, Kind, NewEvent
from drivers.base import DriverStats, Emit, OrderedEmitter, stop_if_cancelled
from drivers.modbus.codec import GarbageValue, decode
from drivers.modbus.device import ONLINE_MESSAGE, DeviceRuntime, Transition, offline_message
from drivers.modbus.link import (
    BusDown,
    BusLink,
    ExceptionReply,
    GarbageReply,
    NoReply,
    PollError,
    bind_bus_log,
    silence_pymodbus,
)
from drivers.modbus.model import MeterDevice, RtuBus, TcpBus
from drivers.modbus.plan import ReadRequest

READING_VERSION = 1
PROBE_MIN_TIMEOUT_S = 0.1
#: Reply timeout of a first contact (a unit never heard from): long enough for a full read at
#: 9600 baud (125 registers ≈ 0.3 s on the line) plus a slow meter's turnaround.
FIRST_CONTACT_TIMEOUT_S = 0.5
JITTER_SHARE = 0.1
IDLE_SLEEP_S = 1.0
QUEUE_SIZE = 10_000
FLUSH_ON_STOP_S = 2.0


class ModbusBusDriver:
    """Polls ``devices`` on ``bus`` until cancelled; see the module docstring for the rules."""

    def __init__(self, bus: TcpBus | RtuBus, devices: list[MeterDevice], emit: Emit,
                 clock: Clock, stats: DriverStats, log: Any | None = None, *,
                 offline_after: int = 3, online_after: int = 1, link: BusLink | None = None,
                 phase: float = 0.0) -> None:
        if offline_after < 1 or online_after < 1:
            raise ValueError("offline_after and online_after must be ≥ 1")
        if not 0.0 <= phase < 1.0:
            raise ValueError("phase is a share of the stagger slot: 0 ≤ phase < 1")
        foreign = [d.id for d in devices if d.bus != bus.id]
        if foreign:
            raise ValueError(f"devices {foreign} are not on bus {bus.id!r}")
        self.bus = bus
        self._clock = clock
        self._stats = stats
        self._log = bind_bus_log(bus, log)
        # The edge passes a link over the wire's one shared connection; alone, the driver owns
        # a private one (and closes it when it stops).
        self._link = link if link is not None else BusLink(bus, clock, stats, self._log)
        self._first_contact_s = min(FIRST_CONTACT_TIMEOUT_S, bus.timeout)
        self._devices = self._staggered(devices, offline_after, online_after, phase)
        self._events = OrderedEmitter(emit, self._stats, self._log, maxsize=QUEUE_SIZE,
                                      flush_s=FLUSH_ON_STOP_S)
        # How late a probe may make a live poll: without any allowance a busy bus (polls every
        # few tens of ms) would never fit a probe, and a dead meter would never be declared
        # offline nor noticed when it comes back.
        shortest = min((d.poll_interval for d in devices), default=1.0)
        self._jitter = min(JITTER_SHARE * shortest, bus.timeout)

    def _staggered(self, devices: list[MeterDevice], offline_after: int,
                   online_after: int, phase: float) -> list[DeviceRuntime]:
        start = self._clock.monotonic()
        by_interval: dict[float, list[MeterDevice]] = defaultdict(list)
        for dev in devices:
            if dev.poll_interval <= 0:
                raise ValueError(f"device {dev.id}: poll_interval must be > 0")
            by_interval[dev.poll_interval].append(dev)
        runtimes: list[DeviceRuntime] = []
        for interval, group in by_interval.items():
            for i, dev in enumerate(group):
                due = start + (i + phase) * interval / len(group)
                # Never heard from yet: first contact on the probe schedule (module docstring).
                runtimes.append(DeviceRuntime(dev, next_due=due, offline_after=offline_after,
                                              online_after=online_after, probing=True,
                                              probe_interval=interval,
                                              contact_wait=self._first_contact_s))
        return runtimes

    def first_due(self) -> dict[str, float]:
        """Each meter's next deadline (``clock.monotonic()``): the schedule, for /healthz
        and for checking how buses and meters are spread."""
        return {rt.device.id: rt.next_due for rt in self._devices}

    def online(self) -> dict[str, bool]:
        return {rt.device.id: rt.online is True for rt in self._devices}

    async def run(self) -> None:
        silence_pymodbus()
        self._log.info("bus driver started", devices=len(self._devices))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._events.run(), name=f"modbus-emit-{self.bus.id}")
                await self._schedule()
        finally:
            await self._link.close()
            await self._events.flush()
            self._log.info("bus driver stopped")

    # -- scheduling ---------------------------------------------------------------------

    async def _schedule(self) -> None:
        while True:
            stop_if_cancelled()  # a cancel pymodbus swallowed (link.stop_if_cancelled)
            now = self._clock.monotonic()
            live = [rt for rt in self._devices if not rt.probing]
            nxt = min(live, key=lambda rt: rt.next_due) if live else None
            if nxt is not None and nxt.next_due <= now:
                await self._guarded(self._poll, nxt)
                continue
            next_live = nxt.next_due if nxt is not None else math.inf
            probing = [rt for rt in self._devices if rt.probing]
            due = [rt for rt in probing if rt.next_due <= now]
            if due:
                budget = next_live + self._jitter - now - self._link.request_cost \
                    + self.bus.timeout
                if budget >= min(PROBE_MIN_TIMEOUT_S, self.bus.timeout):
                    rt = min(due, key=lambda rt: rt.next_due)
                    if rt.heard:
                        await self._guarded(self._probe, rt, min(self.bus.timeout, budget))
                    else:
                        await self._guarded(self._first_contact, rt,
                                            min(rt.contact_wait, budget))
                    continue
            wake = next_live
            later = [rt.next_due for rt in probing if rt.next_due > now]
            if later:
                wake = min(wake, *later)
            self._update_gauges()
            await asyncio.sleep(min(max(wake - now, 0.0), IDLE_SLEEP_S))

    async def _guarded(self, step: Any, rt: DeviceRuntime, *args: Any) -> None:
        """A bug in handling one meter must not stop the bus: log, count, move the meter on."""
        try:
            await step(rt, *args)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._stats.inc("poll_errors")
            self._log.exception("poll step failed", device=rt.device.id)
            rt.next_due = self._clock.monotonic() + rt.interval

    def _update_gauges(self) -> None:
        self._stats.set_gauge("devices_online", sum(rt.online is True for rt in self._devices))
        self._stats.set_gauge("devices_probing", sum(rt.probing for rt in self._devices))

    # -- one meter ----------------------------------------------------------------------

    def _dev_log(self, rt: DeviceRuntime) -> Any:
        return self._log.bind(device=rt.device.id, address=rt.device.address)

    async def _read(self, rt: DeviceRuntime, req: ReadRequest,
                    wait_s: float | None = None) -> list[int]:
        """One read with the bus's retries; retries only for a meter that was answering."""
        attempts = 1 + (self.bus.retries if rt.online is True and rt.fails == 0 else 0)
        for attempt in range(attempts):
            try:
                return await self._link.read(req.function_code, req.address, req.count,
                                             rt.device.address, wait_s=wait_s)
            except NoReply:
                if attempt + 1 >= attempts:
                    raise
                self._stats.inc("read_retries")
        raise AssertionError("unreachable")

    async def _poll(self, rt: DeviceRuntime, wait_s: float | None = None) -> bool:
        """Read every register of ``rt``; True when the meter answered at all (a reading, or
        an exception or garbage that still proves someone is there)."""
        log = self._dev_log(rt)
        started = self._clock.monotonic()
        values: dict[str, float] = {}
        last_error: PollError | None = None
        try:
            for req in rt.reads:
                try:
                    words = await self._read(rt, req, wait_s)
                except (ExceptionReply, GarbageReply) as exc:
                    last_error = exc
                    self._count_reply_error(exc, log, req)
                    if isinstance(exc, GarbageReply) and exc.slow:
                        await self._failed(rt, exc.reason, exc.detail, slow=True)
                        return False
                    continue
                values.update(self._decode(req, words, log))
        except (NoReply, BusDown) as exc:
            self._stats.inc("poll_timeouts" if isinstance(exc, NoReply) else "poll_bus_down")
            if rt.heard or rt.fails == 0:  # a never-heard unit's retries are not news
                log.warning("poll failed", reason=exc.reason, detail=exc.detail)
            await self._failed(rt, exc.reason, exc.detail, slow=isinstance(exc, NoReply))
            return False
        ended = self._clock.monotonic()
        if not values:
            reason = last_error.reason if last_error else "garbage"
            detail = last_error.detail if last_error else "no register decoded"
            if last_error is None:
                self._stats.inc("poll_garbage")
            await self._failed(rt, reason, detail, slow=False)
            return True
        self._stats.inc("polls_ok")
        self._stats.observe_latency(ended - started)
        await self._transition(rt, rt.record_success(ended))
        await self._emit_reading(rt, values, ended - started)
        return True

    async def _first_contact(self, rt: DeviceRuntime, wait_s: float) -> None:
        """A unit never heard from: a full poll with a short timeout, off the live schedule.

        Its answer is the first reading (no extra request); silence costs ``wait_s`` only and
        doubles the next attempt's timeout, up to the bus's, so a slow but alive unit is still
        found. Once it has answered, it is polled like any live meter.
        """
        self._stats.inc("probes")
        answered = await self._poll(rt, wait_s)
        if answered:
            self._stats.inc("probes_ok")
            if rt.probing:  # it answered, if badly: the live schedule counts what it says
                rt.join_live(self._clock.monotonic())
            self._dev_log(rt).info("meter answered first contact")
        else:
            rt.contact_wait = min(2 * rt.contact_wait, self.bus.timeout)

    async def _probe(self, rt: DeviceRuntime, wait_s: float) -> None:
        """One request with a short timeout: is the meter back? Its answer is not a reading."""
        self._stats.inc("probes")
        req = rt.reads[0]
        try:
            await self._link.read(req.function_code, req.address, req.count, rt.device.address,
                                  wait_s=wait_s)
        except (ExceptionReply, GarbageReply) as exc:
            self._count_reply_error(exc, self._dev_log(rt), req)
            if isinstance(exc, GarbageReply) and exc.slow:
                await self._failed(rt, exc.reason, exc.detail, slow=True)
                return
            # It answers, if badly: a full poll will count and report what it says.
        except (NoReply, BusDown) as exc:
            await self._failed(rt, exc.reason, exc.detail, slow=True)
            return
        self._stats.inc("probes_ok")
        self._dev_log(rt).info("meter answered probe")
        rt.record_probe_answer(self._clock.monotonic())

    def _count_reply_error(self, exc: PollError, log: Any, req: ReadRequest) -> None:
        self._stats.inc("poll_exceptions" if isinstance(exc, ExceptionReply) else "poll_garbage")
        log.warning("bad reply", reason=exc.reason, detail=exc.detail,
                    function_code=req.function_code, register=f"{req.address:#06x}",
                    count=req.count)

    def _decode(self, req: ReadRequest, words: list[int], log: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        for spec in req.registers:
            try:
                out[spec.name] = decode(req.slice_for(spec, words), spec.data_type, spec.order,
                                        spec.scale)
            except GarbageValue as exc:
                self._stats.inc("poll_garbage")
                log.warning("garbage value", register_name=spec.name,
                            register=f"{spec.address:#06x}", function_code=spec.function_code,
                            detail=str(exc))
        return out

    async def _failed(self, rt: DeviceRuntime, reason: str, detail: str, slow: bool) -> None:
        self._stats.inc("polls_failed")
        await self._transition(rt, rt.record_failure(self._clock.monotonic(), reason, detail,
                                                      slow))

    # -- events -------------------------------------------------------------------------

    async def _transition(self, rt: DeviceRuntime, change: Transition | None) -> None:
        if change is None:
            return
        dev = rt.device
        if change.online:
            self._stats.inc("devices_came_online")
            self._dev_log(rt).info("device online")
            data: dict[str, Any] = {"profile": dev.profile.id, "unit": dev.unit,
                                    "message": ONLINE_MESSAGE}
            kind = Kind.DEVICE_ONLINE
        else:
            self._stats.inc("devices_went_offline")
            self._dev_log(rt).warning("device offline", reason=change.reason,
                                      detail=change.detail)
            data = {"reason": change.reason, "detail": change.detail,
                    "message": offline_message(change.reason)}
            kind = Kind.DEVICE_OFFLINE
        self._update_gauges()
        await self._events.put(NewEvent(device=dev.id, kind=kind, data=data,
                                        ts=self._clock.now()))

    async def _emit_reading(self, rt: DeviceRuntime, values: dict[str, float],
                            latency: float) -> None:
        ts = self._clock.now()
        kept = rt.filter_deadband(values)
        if not kept:
            self._stats.inc("readings_suppressed")
            return
        units = {s.name: s.unit for s in rt.device.profile.registers if s.name in kept}
        data = {"v": READING_VERSION, "profile": rt.device.profile.id, "unit": rt.device.unit,
                "values": kept, "units": units, "latency_ms": round(latency * 1000, 1)}
        await self._events.put(NewEvent(device=rt.device.id, kind=Kind.METER_READING,
                                        data=data, ts=ts))

