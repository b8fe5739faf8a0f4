# Over 500 lines on purpose: the barrier's whole state machine reads best in one place.
"""The barrier's state machine, independent of how the relay is reached.

``GateController`` turns commands (``open``, ``close``, ``hold_open``…) and input readings
(``observe``) into relay pulses and events. Its transport (``GateIO``) only pulses a relay;
``drivers.gate.modbus_relay`` is the Modbus one. Safety rules, in the order ``observe`` applies
them:

1. **Anti-crush.** If the loop sees a vehicle while the arm is closing (our close, or one we
   only see on the limit switches), OPEN is pulsed at once, before anything is recorded: the
   reopen must not wait for storage. An explicit close that was interrupted is kept and runs
   again when the loop is free; an auto-close re-arms for when the vehicle has passed.
2. **Never close onto the loop.** A close is only ever pulsed when the latest reading says the
   loop is free. A close requested while it is occupied (or unreadable) is deferred, logged
   once, and carried out as soon as the loop is free.
3. **Confirmation.** Every command expects its limit switch within ``confirm_timeout``;
   otherwise ``gate.fault`` is emitted once and the state is ``fault`` until a later
   confirmation (of that command or a newer one) clears it with ``gate.recovered``.
4. **Audit.** Every open by a caller is stored durably as ``gate.opened`` *before* the relay is
   pulsed; a manual open needs ``by`` and ``reason``. If the record cannot be stored the gate
   stays shut (except for fire linkage, where opening matters more than the record).
5. **Fire hold.** ``hold_open`` keeps the gate open (re-opening it if the arm comes down) and
   suspends every close until ``release``.

Time only ever comes from the injected clock; the controller never sleeps, so a test moves
time and calls ``observe``. While the inputs are unreadable the state is ``unknown``: the
controller never claims open or closed without a fresh reading.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog

from contract import Clock, NewEvent
from drivers.base import DriverStats, Emit, OrderedEmitter
from drivers.gate.model import (
    CLOSE_CAUSES,
    EVENT_VERSION,
    GATE_CLOSED,
    GATE_FAULT,
    GATE_OPENED,
    GATE_RECOVERED,
    OPEN_CAUSES,
    STATE_CODE,
    CameraRelayGateSpec,
    Command,
    GateBehaviour,
    GateInputs,
    GateState,
)

FLUSH_ON_STOP_S = 2.0
MAX_SEEN = 10
FaultKind = Literal["no_confirmation", "limits_inconsistent", "command_failed"]

SAFETY_REASON = "落杆时地感检测到车辆，已重新抬杆 / Vehicle on the loop while closing: reopened"
_FAULT_TEXT: dict[str, tuple[str, str]] = {
    "open": ("道闸抬杆未到位", "Gate did not confirm open"),
    "close": ("道闸落杆未到位", "Gate did not confirm closed"),
}


class GateIOError(Exception):
    """The transport could not pulse the relay (board unreachable, refused the write…)."""


class GateCommandError(RuntimeError):
    """A command that was not carried out; the message says why (zh-CN / English)."""


class GateHeld(GateCommandError):
    """A close refused because the gate is held open (fire linkage)."""


class GateIO(Protocol):
    """What the controller needs of a transport: pulse one relay, or raise GateIOError."""

    async def command(self, command: Command) -> None: ...


def _require_who_and_why(cause: str, by: str | None, reason: str | None) -> None:
    if cause == "manual" and not ((by or "").strip() and (reason or "").strip()):
        raise ValueError("人工操作道闸须填写操作人（by）和原因（reason） / a manual gate "
                         "command needs 'by' (guard id) and 'reason'")


def check_open_request(cause: str, by: str | None, reason: str | None) -> None:
    """Refuse an open the audit trail could not explain (ValueError, zh-CN / English)."""
    if cause not in OPEN_CAUSES:
        raise ValueError(f"开闸原因须为 {'/'.join(OPEN_CAUSES)} / cause must be one of "
                         f"{', '.join(OPEN_CAUSES)}, not {cause!r}")
    _require_who_and_why(cause, by, reason)


def opened_data(gate: str, lane: str | None, cause: str, by: str | None, reason: str | None,
                plate: str | None, session: str | None, transport: str,
                **extra: Any) -> dict[str, Any]:
    """``gate.opened`` data (v1); the same fields for every transport."""
    return {"v": EVENT_VERSION, "gate": gate, "lane": lane, "cause": cause, "by": by,
            "reason": reason, "plate": plate, "session": session, "transport": transport,
            **extra}


@dataclass(slots=True)
class _Pending:
    """A pulsed (or about to be pulsed) command waiting for its limit switch."""

    command: Literal["open", "close"]
    cause: str
    by: str | None
    reason: str | None
    requested_at: float
    #: When the board acknowledged the pulse; None while the open is still being recorded.
    since: float | None = None
    faulted: bool = False
    seen: list[dict[str, bool | None]] = field(default_factory=list)


@dataclass(slots=True)
class _CloseWish:
    cause: str
    by: str | None
    reason: str | None
    not_before: float
    deferred_logged: bool = False


@dataclass(slots=True)
class _Hold:
    reason: str
    by: str | None
    cause: str
    since: float


@dataclass(slots=True)
class _Fault:
    kind: FaultKind
    command: str | None
    since: float


class _Conflict:
    """Both limit switches active: physically impossible, so one of them is broken."""


CONFLICT = _Conflict()


class GateController:
    """One barrier's state machine; see the module docstring for the rules.

    ``run()`` must run for events raised by ``observe`` to reach ``emit`` (they are queued so
    that a slow outbox never delays the safety path); ``open`` waits until its own
    ``gate.opened`` is stored, in order with everything queued before it.
    """

    def __init__(self, behaviour: GateBehaviour, io: GateIO, emit: Emit, clock: Clock,
                 stats: DriverStats, log: Any | None = None) -> None:
        self.behaviour = behaviour
        self._io = io
        self._clock = clock
        self._stats = stats
        base = log if log is not None else structlog.get_logger("courtyard.drivers.gate")
        self._log = base.bind(gate=behaviour.id, lane=behaviour.lane)
        self._state = GateState.UNKNOWN
        #: Last state confirmed without any limit switch (only used when none is wired).
        self._assumed = GateState.UNKNOWN
        self._inputs: GateInputs | None = None
        self._loop: bool | None = None
        self._pending: _Pending | None = None
        self._close_wish: _CloseWish | None = None
        self._hold: _Hold | None = None
        self._fault: _Fault | None = None
        self._vehicle_since_open = False
        self._cmd_lock = asyncio.Lock()
        self._events = OrderedEmitter(
            emit, stats, self._log, flush_s=FLUSH_ON_STOP_S,
            stopping=lambda: GateCommandError("停止中 / stopping"))
        if not behaviour.has_loop:
            self._log.warning("gate has no loop detector: no auto-close, no anti-crush; the "
                              "barrier's own safety loop must protect vehicles")
        if not (behaviour.has_open_limit or behaviour.has_closed_limit):
            self._log.warning("gate has no limit switch: commands cannot be confirmed")
        self._update_gauges()

    # -- what callers read ---------------------------------------------------------------

    @property
    def state(self) -> GateState:
        return self._state

    @property
    def loop_occupied(self) -> bool | None:
        """True/False from the latest reading; None when unreadable or not wired."""
        return self._loop

    @property
    def held(self) -> bool:
        return self._hold is not None

    @property
    def fault(self) -> str | None:
        return self._fault.kind if self._fault is not None else None

    @property
    def close_deferred(self) -> bool:
        return self._close_wish is not None

    # -- commands ------------------------------------------------------------------------

    async def open(self, *, cause: str, by: str | None = None, reason: str | None = None,
                   plate: str | None = None, session: str | None = None) -> None:
        """Record ``gate.opened`` durably, then pulse OPEN.

        Raises ValueError for a request the audit trail could not explain, GateCommandError
        when the record could not be stored (nothing pulsed) or the relay could not be
        pulsed (the record stands and ``gate.fault`` says so).
        """
        check_open_request(cause, by, reason)
        async with self._cmd_lock:
            await self._open(cause, by, reason, plate, session)

    async def close(self, *, cause: str = "remote", by: str | None = None,
                    reason: str | None = None) -> bool:
        """Close now if the loop is free (True), else defer until it is (False)."""
        if cause not in CLOSE_CAUSES or cause == "auto":
            raise ValueError(f"落杆原因无效 / invalid close cause {cause!r}")
        _require_who_and_why(cause, by, reason)
        async with self._cmd_lock:
            if self._hold is not None:
                raise GateHeld(f"道闸处于常开（{self._hold.reason}），请先解除 / gate is held "
                               f"open ({self._hold.reason}): release it first")
            self._close_wish = _CloseWish(cause, by, reason, self._clock.monotonic())
            return await self._maybe_close(self._clock.monotonic(), raise_errors=True)

    async def hold_open(self, reason: str, *, by: str | None = None,
                        cause: str = "fire") -> None:
        """Open and stay open (fire linkage): no auto-close and no close until ``release``."""
        if not reason.strip():
            raise ValueError("常开须说明原因 / hold_open needs a reason")
        check_open_request(cause, by, reason)
        async with self._cmd_lock:
            self._hold = _Hold(reason, by, cause, self._clock.monotonic())
            self._close_wish = None
            self._stats.inc("gate_holds")
            self._log.warning("gate held open", reason=reason, by=by, cause=cause)
            await self._open(cause, by, reason, None, None)

    async def release(self, *, by: str | None = None) -> None:
        """End a hold: normal rules again; an open gate auto-closes once the loop is free."""
        async with self._cmd_lock:
            hold, self._hold = self._hold, None
            if hold is None:
                return
            now = self._clock.monotonic()
            self._log.info("gate hold released", by=by, held_s=round(now - hold.since, 1))
            delay = self.behaviour.auto_close
            if self.behaviour.has_loop and delay is not None and self._gate_up():
                self._close_wish = _CloseWish("auto", None, None, now + delay)

    async def stop(self, *, by: str, reason: str) -> None:
        """Pulse STOP (guard's emergency stop); nothing is expected to confirm it."""
        _require_who_and_why("manual", by, reason)
        async with self._cmd_lock:
            self._close_wish = None
            self._pending = None
            self._log.warning("gate stop", by=by, reason=reason)
            try:
                await self._io.command("stop")
            except GateIOError as exc:
                raise GateCommandError(f"停止命令未送达 / stop did not reach the gate: {exc}") \
                    from exc
            finally:
                self._set_state(self._steady_state())

    # -- readings ------------------------------------------------------------------------

    async def observe(self, inputs: GateInputs | None) -> None:
        """Apply one reading of the inputs (None: unreadable) and everything it implies."""
        now = self._clock.monotonic()
        if inputs is None:
            if self._inputs is not None:
                self._log.info("gate state unknown until the inputs can be read")
            self._inputs = None
            self._loop = None
            self._set_state(GateState.UNKNOWN)
            self._update_gauges()
            return
        restored = self._inputs is None
        self._inputs = inputs
        self._loop = inputs.loop if self.behaviour.has_loop else None
        if self._pending is not None:
            self._note_seen(self._pending, inputs)
        self._settle(inputs, now, restored)
        if self._loop is True and self._closing():
            await self._anti_crush(now)
        self._track_vehicle(now)
        if self._hold is not None:
            await self._keep_open(self._hold, now)
        await self._maybe_close(now)
        self._update_gauges()

    # -- events --------------------------------------------------------------------------

    def post(self, kind: str, data: dict[str, Any]) -> None:
        """Queue an event of this gate (device id = gate id) without waiting for storage."""
        self._enqueue(self._event(kind, data))

    async def run(self) -> None:
        """Hand queued events to ``emit`` in order until cancelled, then flush (bounded)."""
        try:
            await self._events.run()
        finally:
            await self._events.flush()

    # -- internals: opening ----------------------------------------------------------------

    async def _open(self, cause: str, by: str | None, reason: str | None, plate: str | None,
                    session: str | None) -> None:
        now = self._clock.monotonic()
        before = self._state
        if self._close_wish is not None:
            self._log.info("pending close cancelled by open", close_cause=self._close_wish.cause)
        self._close_wish = None
        pending = _Pending("open", cause, by, reason, requested_at=now)
        self._pending = pending
        self._vehicle_since_open = self._loop is True
        if self._state in (GateState.CLOSED, GateState.CLOSING):
            self._set_state(GateState.OPENING)
        event = self._event(GATE_OPENED, opened_data(
            self.behaviour.id, self.behaviour.lane, cause, by, reason, plate, session,
            self.behaviour.transport, held=self._hold is not None))
        if cause == "fire":  # people first: pulse, then record (a stalled outbox waits)
            self._stats.inc("gate_opens_fire")
            self._log.warning("gate open", cause=cause, by=by, reason=reason)
            try:
                await self._pulse(pending, raise_errors=True)
            finally:
                try:
                    await self._store(event)
                except Exception as exc:
                    self._stats.inc("gate_opens_unrecorded")
                    self._log.error("fire open: gate.opened could not be stored",
                                    error=repr(exc))
            return
        try:
            await self._store(event)
        except Exception as exc:
            if self._pending is pending:
                self._pending = None
                if self._state == GateState.OPENING and before != GateState.OPENING:
                    self._set_state(before)
            self._stats.inc("gate_opens_unrecorded")
            self._log.error("open refused: gate.opened could not be stored",
                            cause=cause, error=repr(exc))
            raise GateCommandError("开闸记录未能保存，未开闸 / the open could not be "
                                   "recorded: gate not opened") from exc
        self._stats.inc(f"gate_opens_{cause}")
        self._log.info("gate open", cause=cause, by=by, reason=reason, plate=plate,
                       session=session)
        await self._pulse(pending, raise_errors=True)

    async def _internal_open(self, cause: str, reason: str, now: float) -> None:
        """Open decided by the controller itself (safety, fire hold): pulse first, then
        record, so a slow outbox never delays it."""
        pending = _Pending("open", cause, None, reason, requested_at=now)
        self._pending = pending
        self._close_wish = None
        if await self._pulse(pending, raise_errors=False):
            self._set_state(GateState.FAULT if self._fault is not None else GateState.OPENING)
            self._enqueue(self._event(GATE_OPENED, opened_data(
                self.behaviour.id, self.behaviour.lane, cause, None, reason, None, None,
                self.behaviour.transport, held=self._hold is not None)))
            self._stats.inc(f"gate_opens_{cause}")

    async def _anti_crush(self, now: float) -> None:
        p = self._pending
        self._stats.inc("gate_anti_crush_reopens")
        self._log.warning("vehicle on loop while closing: reopening",
                          close_cause=p.cause if p is not None else "external")
        self._vehicle_since_open = True
        interrupted = p if p is not None and p.command == "close" else None
        await self._internal_open("safety", SAFETY_REASON, now)
        if interrupted is not None and interrupted.cause != "auto":
            # An explicit close still stands: it runs again once the vehicle has gone.
            self._close_wish = _CloseWish(interrupted.cause, interrupted.by, interrupted.reason,
                                          now)

    async def _keep_open(self, hold: _Hold, now: float) -> None:
        if self._pending is None and self._fault is None and self._state in (
                GateState.CLOSED, GateState.CLOSING):
            self._log.warning("held gate came down: reopening", reason=hold.reason)
            await self._internal_open(hold.cause, hold.reason, now)

    # -- internals: closing ----------------------------------------------------------------

    def _track_vehicle(self, now: float) -> None:
        """Arm auto-close when a vehicle has been on the loop and left it (gate up)."""
        if self._loop is None:
            return
        if self._loop:
            if self._gate_up():
                self._vehicle_since_open = True
            wish = self._close_wish
            if wish is not None and wish.cause == "auto":
                self._close_wish = None
                self._log.info("auto-close cancelled: loop occupied again")
            return
        b = self.behaviour
        if (self._vehicle_since_open and b.auto_close is not None and self._hold is None
                and self._close_wish is None and self._gate_up()):
            self._vehicle_since_open = False
            self._close_wish = _CloseWish("auto", None, None, now + b.auto_close)
            self._log.info("vehicle passed: auto-close armed", in_s=b.auto_close)

    async def _maybe_close(self, now: float, raise_errors: bool = False) -> bool:
        wish = self._close_wish
        if wish is None or self._hold is not None:
            return False
        if self.behaviour.has_loop and self._loop is not False:
            if not wish.deferred_logged:
                wish.deferred_logged = True
                self._stats.inc("gate_closes_deferred")
                self._log.info("close deferred until the loop is free", cause=wish.cause,
                               by=wish.by, loop="occupied" if self._loop else "unreadable")
            return False
        if self._inputs is None:
            return False
        if now < wish.not_before or (wish.cause == "auto" and self._fault is not None):
            return False
        self._close_wish = None
        if self._pending is None and self._state == GateState.CLOSED:
            return False
        return await self._issue_close(wish, now, raise_errors)

    async def _issue_close(self, wish: _CloseWish, now: float, raise_errors: bool) -> bool:
        # The one place a close is pulsed: the loop must be known free right now.
        if self.behaviour.has_loop and self._loop is not False:
            self._close_wish = wish
            return False
        pending = _Pending("close", wish.cause, wish.by, wish.reason, requested_at=now)
        self._pending = pending
        self._set_state(GateState.FAULT if self._fault is not None else GateState.CLOSING)
        self._log.info("gate close", cause=wish.cause, by=wish.by, reason=wish.reason)
        if wish.cause == "auto":
            self._stats.inc("gate_auto_closes")
        return await self._pulse(pending, raise_errors)

    # -- internals: pulses and confirmation ------------------------------------------------

    async def _pulse(self, pending: _Pending, raise_errors: bool) -> bool:
        try:
            await self._io.command(pending.command)
        except GateIOError as exc:
            if self._pending is pending:
                self._pending = None
            self._stats.inc("gate_command_failures")
            self._log.error("gate command failed", command=pending.command, detail=str(exc))
            self._enqueue(self._fault_event("command_failed", pending.command, None,
                                            self._clock.monotonic(), pending, str(exc)))
            self._set_state(self._steady_state())
            if raise_errors:
                raise GateCommandError(f"道闸命令未送达控制板 / the gate command did not "
                                       f"reach the relay board: {exc}") from exc
            return False
        pending.since = self._clock.monotonic()
        self._stats.inc(f"gate_{pending.command}_pulses")
        return True

    def _position(self, inputs: GateInputs) -> GateState | _Conflict | None:
        """Where the limit switches say the arm is (None: they cannot tell)."""
        b = self.behaviour
        at_open = bool(inputs.open_limit) if b.has_open_limit else None
        at_closed = bool(inputs.closed_limit) if b.has_closed_limit else None
        if at_open and at_closed:
            return CONFLICT
        if at_open:
            return GateState.OPEN
        if at_closed:
            return GateState.CLOSED
        if b.has_open_limit and b.has_closed_limit:
            return None
        if b.has_closed_limit:
            return GateState.OPEN
        if b.has_open_limit:
            return GateState.CLOSED
        return None

    def _expected(self, command: str) -> str:
        b = self.behaviour
        if command == "open":
            return "open_limit" if b.has_open_limit else (
                "closed_limit_released" if b.has_closed_limit else "none")
        return "closed_limit" if b.has_closed_limit else (
            "open_limit_released" if b.has_open_limit else "none")

    def _confirmed_by(self, p: _Pending, inputs: GateInputs, now: float) -> str | None:
        b = self.behaviour
        if p.command == "open":
            if b.has_open_limit:
                return "open_limit" if inputs.open_limit else None
            if b.has_closed_limit:
                return "closed_limit_released" if not inputs.closed_limit else None
            return "assumed" if p.since is not None else None
        if b.has_closed_limit:
            return "closed_limit" if inputs.closed_limit else None
        # Without a closed limit the arm may still be coming down: wait the whole timeout.
        if p.since is None or now - p.since < b.confirm_timeout:
            return None
        if b.has_open_limit:
            return "open_limit_released" if not inputs.open_limit else None
        return "assumed"

    def _settle(self, inputs: GateInputs, now: float, restored: bool) -> None:
        position = self._position(inputs)
        if isinstance(position, _Conflict):
            if self._fault is None or self._fault.kind != "limits_inconsistent":
                self._raise_fault("limits_inconsistent", now, inputs, self._pending)
            self._set_state(GateState.FAULT)
            return
        if self._fault is not None and self._fault.kind == "limits_inconsistent":
            fault, self._fault = self._fault, None
            self._set_state(self._steady_state())
            self._announce_recovery(fault, now, "limits_agree")
        p = self._pending
        if p is not None:
            how = self._confirmed_by(p, inputs, now)
            if how is not None:
                self._confirm(p, how, now)
                return
            if p.since is not None and now - p.since >= self.behaviour.confirm_timeout:
                if restored and not p.faulted:
                    # The inputs were unreadable meanwhile: what happened is unknowable.
                    self._log.warning("command outcome unknown: inputs were unreadable",
                                      command=p.command, cause=p.cause)
                    self._pending = None
                    self._set_state(self._steady_state())
                    return
                if not p.faulted:
                    p.faulted = True
                    self._raise_fault("no_confirmation", now, inputs, p)
                self._set_state(GateState.FAULT)
                return
            self._set_state(GateState.FAULT if self._fault is not None else (
                GateState.OPENING if p.command == "open" else GateState.CLOSING))
            return
        self._follow_external(position, restored, now)

    def _follow_external(self, position: GateState | None, restored: bool,
                         now: float) -> None:
        """No command of ours is pending: follow what the limit switches report."""
        b = self.behaviour
        before = self._state
        if position is None:
            if not (b.has_open_limit or b.has_closed_limit):
                new = self._assumed
            elif before == GateState.OPEN:
                new = GateState.CLOSING
            elif before == GateState.CLOSED:
                new = GateState.OPENING
            elif before in (GateState.OPENING, GateState.CLOSING):
                new = before
            else:
                new = GateState.UNKNOWN
        else:
            new = position
        if self._fault is not None:
            if position is None:
                return
            fault, self._fault = self._fault, None
            self._set_state(new)
            self._announce_recovery(fault, now, "limit_switch")
            return
        if new == before:
            return
        if before in (GateState.UNKNOWN, GateState.FAULT) or restored:
            self._log.info("gate state learned from inputs", state=str(new))
        elif before == GateState.CLOSED and new in (GateState.OPENING, GateState.OPEN):
            self._stats.inc("gate_opens_external")
            self._log.warning("gate opened without a command of ours")
            self._vehicle_since_open = self._loop is True
            self._enqueue(self._event(GATE_OPENED, opened_data(
                b.id, b.lane, "external", None, None, None, None, b.transport,
                held=self._hold is not None)))
        elif new == GateState.CLOSED:
            self._stats.inc("gate_closes_external")
            self._log.info("gate closed without a command of ours")
            self._enqueue(self._closed_event("external", None, None, "closed_limit", None))
        self._set_state(new)

    def _confirm(self, p: _Pending, how: str, now: float) -> None:
        self._pending = None
        started = p.since if p.since is not None else p.requested_at
        elapsed = max(0.0, now - started)
        new = GateState.OPEN if p.command == "open" else GateState.CLOSED
        if not (self.behaviour.has_open_limit or self.behaviour.has_closed_limit):
            self._assumed = new
        fault, self._fault = self._fault, None
        self._set_state(new)
        self._log.info("gate command confirmed", command=p.command, confirmed_by=how,
                       elapsed_s=round(elapsed, 3))
        if fault is not None:
            self._announce_recovery(fault, now, how)
        if p.command == "close":
            self._vehicle_since_open = False
            self._stats.inc("gate_closes")
            self._enqueue(self._closed_event(p.cause, p.by, p.reason, how, elapsed))
        else:
            self._stats.inc("gate_opens_confirmed")
            self._stats.observe_latency(elapsed)

    def _raise_fault(self, kind: FaultKind, now: float, inputs: GateInputs,
                     p: _Pending | None) -> None:
        self._fault = _Fault(kind, p.command if p is not None else None, now)
        self._stats.inc("gate_faults")
        self._log.error("gate fault", fault=kind, command=self._fault.command,
                        inputs=inputs.as_dict())
        self._enqueue(self._fault_event(kind, self._fault.command, inputs, now, p))

    def _announce_recovery(self, fault: _Fault, now: float, how: str) -> None:
        """``gate.recovered`` for a fault already cleared; the new state is already set."""
        self._stats.inc("gate_recoveries")
        self._log.info("gate recovered", fault=fault.kind, state=str(self._state),
                       fault_s=round(now - fault.since, 1))
        self.post(GATE_RECOVERED, {
            "v": EVENT_VERSION, "gate": self.behaviour.id, "lane": self.behaviour.lane,
            "fault": fault.kind, "command": fault.command, "state": str(self._state),
            "confirmed_by": how, "fault_s": round(now - fault.since, 3),
            "inputs": self._inputs.as_dict() if self._inputs is not None else None,
            "message": "道闸恢复正常 / Gate back to normal"})

    # -- internals: helpers ------------------------------------------------------------------

    def _closing(self) -> bool:
        p = self._pending
        return (p is not None and p.command == "close") or self._state == GateState.CLOSING

    def _gate_up(self) -> bool:
        p = self._pending
        return (p is not None and p.command == "open") or self._state in (
            GateState.OPEN, GateState.OPENING)

    def _steady_state(self) -> GateState:
        """The state the last reading and the pending command (if any) imply."""
        if self._inputs is None:
            return GateState.UNKNOWN
        if self._fault is not None:
            return GateState.FAULT
        if self._pending is not None:
            return GateState.OPENING if self._pending.command == "open" else GateState.CLOSING
        position = self._position(self._inputs)
        if isinstance(position, _Conflict):
            return GateState.FAULT
        if position is None:
            b = self.behaviour
            return self._assumed if not (b.has_open_limit or b.has_closed_limit) \
                else GateState.UNKNOWN
        return position

    def _note_seen(self, p: _Pending, inputs: GateInputs) -> None:
        snapshot = inputs.as_dict()
        if (not p.seen or p.seen[-1] != snapshot) and len(p.seen) < MAX_SEEN:
            p.seen.append(snapshot)

    def _set_state(self, new: GateState) -> None:
        if new != self._state:
            self._log.info("gate state", state=str(new), was=str(self._state))
            self._state = new
            self._stats.set_gauge("gate_state", STATE_CODE[new])

    def _update_gauges(self) -> None:
        self._stats.set_gauge("gate_state", STATE_CODE[self._state])
        self._stats.set_gauge("gate_loop_occupied", -1 if self._loop is None else int(self._loop))
        self._stats.set_gauge("gate_held", int(self._hold is not None))

    def _event(self, kind: str, data: dict[str, Any]) -> NewEvent:
        return NewEvent(device=self.behaviour.id, kind=kind, data=data, ts=self._clock.now())

    def _closed_event(self, cause: str, by: str | None, reason: str | None, how: str,
                      elapsed: float | None) -> NewEvent:
        return self._event(GATE_CLOSED, {
            "v": EVENT_VERSION, "gate": self.behaviour.id, "lane": self.behaviour.lane,
            "cause": cause, "by": by, "reason": reason, "confirmed_by": how,
            "elapsed_s": None if elapsed is None else round(elapsed, 3)})

    def _fault_event(self, kind: FaultKind, command: str | None, inputs: GateInputs | None,
                     now: float, p: _Pending | None, detail: str | None = None) -> NewEvent:
        b = self.behaviour
        if kind == "no_confirmation" and command is not None:
            zh, en = _FAULT_TEXT[command]
            t = f"{b.confirm_timeout:g}"
            message = f"{zh}：{t} 秒内未收到到位信号 / {en}: no limit signal within {t} s"
        elif kind == "limits_inconsistent":
            message = ("道闸限位信号矛盾（开到位与关到位同时有效），请检查限位开关 / Gate limit "
                       "switches disagree (open and closed both active): check them")
        else:
            message = f"道闸命令未送达控制板 / Gate command did not reach the relay board: {detail}"
        started = p.since if p is not None and p.since is not None else None
        return self._event(GATE_FAULT, {
            "v": EVENT_VERSION, "gate": b.id, "lane": b.lane, "fault": kind,
            "command": command,
            "expected": self._expected(command) if command in ("open", "close") else None,
            "inputs": inputs.as_dict() if inputs is not None else None,
            "inputs_seen": list(p.seen) if p is not None else [],
            "elapsed_s": None if started is None else round(now - started, 3),
            "detail": detail, "message": message})

    def _enqueue(self, event: NewEvent) -> None:
        self._events.post(event)

    async def _store(self, event: NewEvent) -> None:
        """Return once ``event`` is durable, after everything queued before it."""
        await self._events.store(event)


class CameraRelayGate:
    """A gate on the LPR camera's relay: open() records and emits, nothing more.

    The camera pulses the relay itself when its reply to a push says so (the lane sets that
    in the reply for plate decisions). There is no feedback: ``state`` is always ``unknown``,
    no confirmation, fault, close or hold is possible. An open that did not come from a
    camera push (manual, remote, pay, fire) can only reach the camera in the reply to its next
    push or heartbeat: ``take_pending_pulse`` hands the Vzenith ``ivs_ioctrl`` for it, once,
    within ``pending_ttl`` seconds.
    """

    def __init__(self, spec: CameraRelayGateSpec, emit: Emit, clock: Clock,
                 stats: DriverStats, log: Any | None = None) -> None:
        self.spec = spec
        self._emit = emit
        self._clock = clock
        self._stats = stats
        base = log if log is not None else structlog.get_logger("courtyard.drivers.gate")
        self._log = base.bind(gate=spec.id, lane=spec.lane, camera=spec.camera)
        self._pending_until: float | None = None

    @property
    def state(self) -> GateState:
        return GateState.UNKNOWN

    @property
    def loop_occupied(self) -> bool | None:
        return None

    async def open(self, *, cause: str, by: str | None = None, reason: str | None = None,
                   plate: str | None = None, session: str | None = None) -> None:
        check_open_request(cause, by, reason)
        s = self.spec
        event = NewEvent(device=s.id, kind=GATE_OPENED, ts=self._clock.now(), data=opened_data(
            s.id, s.lane, cause, by, reason, plate, session, "camera_relay", held=False,
            camera=s.camera, relay_io=s.relay_io, confirmable=False))
        try:
            await self._emit(event)
        except Exception as exc:
            if cause != "fire":
                self._stats.inc("gate_opens_unrecorded")
                self._log.error("open refused: gate.opened could not be stored",
                                error=repr(exc))
                raise GateCommandError("开闸记录未能保存，未开闸 / the open could not be "
                                       "recorded: gate not opened") from exc
            self._log.error("fire open proceeds although gate.opened was not stored",
                            error=repr(exc))
        self._stats.inc(f"gate_opens_{cause}")
        if cause != "plate":
            self._pending_until = self._clock.monotonic() + s.pending_ttl
        self._log.info("gate open (camera relay)", cause=cause, by=by, plate=plate)

    def take_pending_pulse(self) -> dict[str, int] | None:
        """The ``ivs_ioctrl`` to put in the camera's next reply (pulse), or None."""
        until, self._pending_until = self._pending_until, None
        if until is None:
            return None
        if self._clock.monotonic() > until:
            self._stats.inc("gate_pulses_expired")
            self._log.warning("pending relay pulse expired before the camera called in")
            return None
        return {"io": self.spec.relay_io, "value": 2, "delay": self.spec.pulse_ms}
