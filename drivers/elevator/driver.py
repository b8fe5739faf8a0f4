"""Poll one elevator's monitoring box over Modbus; raise faults and trapped passengers; recall.

``ElevatorDriver.run()`` reads the box every ``poll_interval`` (the reads its profile needs,
through its own ``BusLink``, or one shared with other boxes on the same RS-485 line) and hands
each reading to ``ElevatorMonitor``, which decides what happened (see ``monitor`` for the
rules). Events go through a queue to an emitter task, so a slow outbox never delays polling.

Health, as for meters and gate boards: ``offline_after`` failed polls in a row emit
``device.offline`` once (and the state's mode becomes offline), ``online_after`` good polls in
a row emit ``device.online`` once. Exception replies, garbage and values outside the profile's
tables are counted and logged; the driver never stops polling over them.

``recall()`` writes the profile's control register (the box then sends the car to the main
landing and opens the doors) and records ``elevator.recall`` with who, why and what came of
it. It is refused, with a reason a guard can read, when the box model has no control register,
when the box is offline, and when the car is in inspection (a technician drives it by hand).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from contract import Clock, Kind, NewEvent
from drivers.base import DriverStats, Emit, OrderedEmitter, stop_if_cancelled
from drivers.elevator.decode import BadReading, decode, plan, words_by_address
from drivers.elevator.model import (
    ELEVATOR_FAULT,
    ELEVATOR_RECALL,
    ELEVATOR_TRAPPED,
    EVENT_VERSION,
    ElevatorConfig,
    ElevatorProfile,
    ElevatorState,
    RecallOutcome,
    RecallResult,
    floor_label,
)
from drivers.elevator.monitor import ElevatorMonitor
from drivers.modbus.device import reason_text
from drivers.modbus.link import (
    BusDown,
    BusLink,
    ExceptionReply,
    GarbageReply,
    NoReply,
    silence_pymodbus,
)
from drivers.modbus.plan import ReadRequest

FLUSH_ON_STOP_S = 2.0

ONLINE_MESSAGE = "电梯监测终端恢复在线 / Elevator monitoring box back online"
_REFUSALS = {
    "no_control": ("该电梯监测终端型号没有控制寄存器，不支持召回",
                   "this elevator's box model has no control register: it cannot recall"),
    "offline": ("电梯监测终端离线，无法召回", "the elevator's box is offline: cannot recall"),
    "inspection": ("电梯处于检修状态，不能远程召回",
                   "the elevator is in inspection mode: remote recall refused"),
}


def offline_message(reason: str) -> str:
    zh, en = reason_text(reason)
    return f"电梯监测终端离线：{zh} / Elevator monitoring box offline: {en}"


class ElevatorDriver:
    """One elevator's box; ``run()`` polls until cancelled, ``recall()`` is the command."""

    def __init__(self, config: ElevatorConfig, profile: ElevatorProfile, emit: Emit,
                 clock: Clock, stats: DriverStats | None = None, log: Any | None = None, *,
                 link: BusLink | None = None, offline_after: int = 3,
                 online_after: int = 1) -> None:
        if profile.id != config.profile:
            raise ValueError(f"elevator {config.id} uses profile {config.profile!r}, "
                             f"not {profile.id!r}")
        if offline_after < 1 or online_after < 1:
            raise ValueError("offline_after and online_after must be ≥ 1")
        self.config = config
        self.profile = profile
        self.stats = stats if stats is not None else DriverStats()
        self._clock = clock
        base = log if log is not None else structlog.get_logger("courtyard.drivers.elevator")
        self._log = base.bind(device=config.id, building=config.building, bus=config.bus.id,
                              address=config.address)
        self._link = link if link is not None else BusLink(config.bus, clock, self.stats,
                                                           self._log)
        self._owns_link = link is None
        self._requests: list[ReadRequest] = plan(profile)
        self._monitor = ElevatorMonitor(config, profile, clock)
        self._offline_after = offline_after
        self._online_after = online_after
        self._online: bool | None = None
        self._fails = 0
        self._goods = 0
        self._events = OrderedEmitter(emit, self.stats, self._log, flush_s=FLUSH_ON_STOP_S)
        self._recall_lock = asyncio.Lock()

    # -- what callers read ------------------------------------------------------------------

    @property
    def state(self) -> ElevatorState:
        return self._monitor.state

    @property
    def online(self) -> bool | None:
        """The box's health verdict (None until the first one)."""
        return self._online

    @property
    def can_recall(self) -> bool:
        return self.profile.control is not None

    # -- life cycle -------------------------------------------------------------------------

    async def run(self) -> None:
        silence_pymodbus()
        self._log.info("elevator driver started", profile=self.profile.id,
                       poll_interval=self.config.poll_interval)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._events.run(), name=f"elevator-events-{self.config.id}")
                await self._poll_loop()
        finally:
            if self._owns_link:
                await self._link.close()
            await self._events.flush()
            self._log.info("elevator driver stopped")

    # -- the command ------------------------------------------------------------------------

    async def recall(self, *, by: str, reason: str) -> RecallResult:
        """Send the car to the main landing (doors open there); see the module docstring.

        Raises ValueError without ``by`` (who) and ``reason`` (why): the record must explain
        every recall. Otherwise never raises: the result says ok / refused / failed and why.
        """
        if not (by or "").strip() or not (reason or "").strip():
            raise ValueError("召回电梯须填写操作人（by）和原因（reason） / a recall needs 'by' "
                             "and 'reason'")
        async with self._recall_lock:
            result = await self._attempt_recall(by.strip(), reason.strip())
        self.stats.inc(f"recalls_{result.outcome}")
        log = self._log.error if result.outcome == "failed" else self._log.warning
        log("elevator recall", by=result.by, reason=result.reason, outcome=result.outcome,
            code=result.code, detail=result.detail, target_floor=result.target_floor)
        state = self.state
        event = NewEvent(device=self.config.id, kind=ELEVATOR_RECALL, ts=self._clock.now(),
                         data={"v": EVENT_VERSION, "building": self.config.building,
                               "name": self.config.name, "floor": state.floor,
                               "by": result.by, "reason": result.reason,
                               "result": result.outcome, "code": result.code,
                               "message": result.message, "detail": result.detail,
                               "target_floor": result.target_floor})
        try:
            await self._store(event)
        except Exception:
            # The write (if any) is done; losing its record must not hide the result.
            self._log.exception("elevator.recall could not be stored")
        return result

    async def _attempt_recall(self, by: str, reason: str) -> RecallResult:
        control = self.profile.control
        refusal = ("no_control" if control is None else
                   "offline" if self._online is not True else
                   "inspection" if self.state.inspection else None)
        if refusal is not None or control is None:
            code = refusal or "no_control"
            return self._result("refused", code, *_REFUSALS[code], by=by, reason=reason)
        attempts = 1 + self.config.bus.retries
        for attempt in range(attempts):
            try:
                if control.function_code == 6:
                    await self._link.write_register(control.address, control.recall_value,
                                                    self.config.address)
                else:
                    await self._link.write_registers(control.address, [control.recall_value],
                                                     self.config.address)
            except (NoReply, ExceptionReply, GarbageReply, BusDown) as exc:
                if isinstance(exc, NoReply) and attempt + 1 < attempts:
                    self.stats.inc("recall_retries")  # writing recall twice is harmless
                    continue
                zh, en = reason_text(exc.reason)
                return self._result("failed", exc.reason, f"召回指令未送达：{zh}",
                                    f"recall not delivered: {en}", by=by, reason=reason,
                                    detail=exc.detail)
            label = floor_label(self.config.main_landing)
            return self._result("ok", "sent", f"已下发召回指令，电梯将返回 {label} 层并开门",
                                f"recall sent: the car returns to floor {label} and opens "
                                f"its doors", by=by, reason=reason)
        raise AssertionError("unreachable")

    def _result(self, outcome: RecallOutcome, code: str, zh: str, en: str, *, by: str,
                reason: str, detail: str = "") -> RecallResult:
        return RecallResult(outcome=outcome, code=code, message=f"{zh} / {en}", by=by,
                            reason=reason, target_floor=self.config.main_landing,
                            detail=detail)

    # -- polling ----------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._poll_once()
            except Exception:
                self.stats.inc("poll_errors")
                self._log.exception("elevator poll step failed")
            self.stats.inc("polls")
            stop_if_cancelled()
            await asyncio.sleep(max(0.0, self.config.poll_interval - (loop.time() - started)))

    async def _read(self, req: ReadRequest) -> list[int]:
        """One read with the bus's retries; retries only for a box that was answering."""
        attempts = 1 + (self.config.bus.retries if self._online is True and self._fails == 0
                        else 0)
        for attempt in range(attempts):
            try:
                return await self._link.read(req.function_code, req.address, req.count,
                                             self.config.address)
            except NoReply:
                if attempt + 1 >= attempts:
                    raise
                self.stats.inc("read_retries")
        raise AssertionError("unreachable")

    async def _poll_once(self) -> None:
        started = self._clock.monotonic()
        try:
            replies = [await self._read(req) for req in self._requests]
            reading = decode(self.profile, words_by_address(self._requests, replies))
        except (ExceptionReply, GarbageReply) as exc:
            self.stats.inc("poll_exceptions" if isinstance(exc, ExceptionReply)
                           else "poll_garbage")
            await self._failed(exc.reason, exc.detail)
            return
        except BadReading as exc:
            self.stats.inc("poll_garbage")
            await self._failed("garbage", str(exc))
            return
        except (NoReply, BusDown) as exc:
            self.stats.inc("poll_timeouts" if isinstance(exc, NoReply) else "poll_bus_down")
            await self._failed(exc.reason, exc.detail)
            return
        self.stats.inc("polls_ok")
        self.stats.observe_latency(self._clock.monotonic() - started)
        if self._fails:
            self._log.info("elevator box readable again", failed_polls=self._fails)
        self._fails = 0
        self._goods += 1
        if self._online is not True and self._goods >= self._online_after:
            self._online = True
            self.stats.inc("devices_came_online")
            self._log.info("elevator box online")
            self._post(self._device_event(Kind.DEVICE_ONLINE, {"message": ONLINE_MESSAGE}))
        if self._online is True:
            for event in self._monitor.observe(reading):
                if event.kind == ELEVATOR_FAULT:
                    self.stats.inc("elevator_faults")
                    self._log.warning("elevator fault", code=event.data["code"],
                                      fault=event.data["key"], floor=event.data["floor"])
                elif event.kind == ELEVATOR_TRAPPED:
                    self.stats.inc("elevator_trapped")
                    self._log.error("passengers trapped", reason=event.data["reason"],
                                    floor=event.data["floor"], since=event.data["since"])
                self._post(event)

    async def _failed(self, reason: str, detail: str) -> None:
        self.stats.inc("polls_failed")
        self._fails += 1
        self._goods = 0
        if self._fails == 1:
            # First failure of a streak: log it; the rest are counted, not logged every poll.
            self._log.warning("elevator box unreadable", reason=reason, detail=detail)
        if self._fails >= self._offline_after and self._online is not False:
            self._online = False
            self.stats.inc("devices_went_offline")
            self._log.warning("elevator box offline", reason=reason, detail=detail,
                              failed_polls=self._fails)
            self._post(self._device_event(Kind.DEVICE_OFFLINE, {
                "reason": reason, "detail": detail, "message": offline_message(reason)}))
            for event in self._monitor.offline():
                self._post(event)

    def _device_event(self, kind: str, data: dict[str, Any]) -> NewEvent:
        return NewEvent(device=self.config.id, kind=kind, ts=self._clock.now(),
                        data={"building": self.config.building, "name": self.config.name,
                              "floor": self.state.floor, "profile": self.profile.id, **data})

    # -- events -----------------------------------------------------------------------------

    def _post(self, event: NewEvent) -> None:
        self._events.post(event)

    async def _store(self, event: NewEvent) -> None:
        """Hand ``event`` to the outbox in order with what is queued, and wait until stored."""
        await self._events.store(event)
