"""From readings to what a guard must know: mode, fault episodes, trapped passengers.

``ElevatorMonitor`` is the elevator's state machine without any I/O, so every rule below is
decided from the injected clock alone and can be tested by moving it:

* **Mode**: offline (no verdict from the box) > inspection > maintenance > fault (a critical
  or major fault code is active) > normal. Inspection and maintenance win over fault: the car
  is in a technician's hands, and faults are expected while it is.
* **Faults**: a code appearing emits ``elevator.fault`` once; its disappearing emits
  ``elevator.recovered`` (``cleared: fault``) with how long it lasted. An undocumented code is
  reported too (a guard must see it), as "unknown fault code N".
* **Trapped passengers**, one ``elevator.trapped`` per episode, from whichever comes first:
  a fault code the profile marks ``trapped`` (reason ``fault_code``, at once), or the state
  held for ``trapped_after`` seconds: the car stopped outside the door zone (reason
  ``stopped_outside_door_zone``; unless the box says nobody is inside), or stopped in the
  door zone with the doors shut and people inside (``doors_shut_with_people``). ``since`` is
  when the condition began, not when it was detected. The state rule is off in inspection and
  maintenance (a technician on the car roof is not a trapped passenger). The episode ends, with
  ``elevator.recovered`` (``cleared: trapped``), only when no trapped code is active and the
  state no longer traps anyone.
* **Offline** freezes everything: nothing is recovered or declared from a box that does not
  answer; rules resume with the next reading (the timers keep counting from when the
  condition began).
* ``elevator.state`` (telemetry) on a change of mode, floor, door or direction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contract import Clock, NewEvent, Priority
from contract.envelope import format_ts
from drivers.elevator.model import (
    ELEVATOR_FAULT,
    ELEVATOR_RECOVERED,
    ELEVATOR_STATE,
    ELEVATOR_TRAPPED,
    EVENT_VERSION,
    SERVICE_AFFECTING,
    Direction,
    Door,
    ElevatorConfig,
    ElevatorProfile,
    ElevatorState,
    FaultSpec,
    Mode,
    Reading,
    TrapReason,
    floor_label,
)


@dataclass(slots=True)
class _Since:
    mono: float
    wall: datetime


@dataclass(slots=True)
class _Trap:
    reason: TrapReason
    since: _Since
    code: int | None


_TRAP_TEXT: dict[str, tuple[str, str]] = {
    "stopped_outside_door_zone": ("轿厢停在门区外", "car stopped outside the door zone"),
    "doors_shut_with_people": ("轿厢有人且门关闭", "doors shut with people inside"),
}


class ElevatorMonitor:
    """One elevator's state machine; ``observe`` / ``offline`` return the events to emit."""

    def __init__(self, config: ElevatorConfig, profile: ElevatorProfile, clock: Clock) -> None:
        self.config = config
        self.profile = profile
        self._clock = clock
        self._state = ElevatorState()
        self._faults: dict[int, tuple[FaultSpec, _Since]] = {}
        self._condition: tuple[TrapReason, _Since] | None = None
        self._trap: _Trap | None = None
        self._sent: tuple[object, ...] | None = None

    @property
    def state(self) -> ElevatorState:
        return self._state

    def active_faults(self) -> list[FaultSpec]:
        return [spec for spec, _ in self._faults.values()]

    # -- inputs -----------------------------------------------------------------------------

    def observe(self, r: Reading) -> list[NewEvent]:
        now = _Since(self._clock.monotonic(), self._clock.now())
        events: list[NewEvent] = []
        floor = r.floor
        for code in sorted(r.fault_codes - self._faults.keys()):
            spec = self.profile.fault(code)
            self._faults[code] = (spec, now)
            events.append(self._fault_event(spec, floor, now))
        for code in sorted(self._faults.keys() - r.fault_codes):
            spec, since = self._faults.pop(code)
            events.append(self._event(ELEVATOR_RECOVERED, floor, now, {
                "cleared": "fault", "code": spec.code, "key": spec.key, "name_zh": spec.zh,
                "name_en": spec.en, "severity": spec.severity,
                "since": format_ts(since.wall), "duration_s": _duration(since, now),
                "message": f"电梯故障解除：{spec.zh}（{self._where_zh(floor)}） / Elevator fault "
                           f"cleared: {spec.en} ({self._where_en(floor)})"}))
        mode = self._mode(r)
        self._track_condition(r, mode, now)
        events.extend(self._trap_step(r, now))
        self._state = ElevatorState(
            mode=mode, direction=r.direction, floor=floor, door=r.door,
            in_door_zone=r.in_door_zone, people=r.people, inspection=r.inspection,
            maintenance=r.maintenance, fault_codes=tuple(sorted(self._faults)),
            trapped=self._trap is not None)
        events.extend(self._state_event(now))
        return events

    def offline(self) -> list[NewEvent]:
        """The box stopped answering: mode offline, everything else frozen."""
        self._state = replace(self._state, mode=Mode.OFFLINE)
        return self._state_event(_Since(self._clock.monotonic(), self._clock.now()))

    # -- rules ------------------------------------------------------------------------------

    def _mode(self, r: Reading) -> Mode:
        if r.inspection:
            return Mode.INSPECTION
        if r.maintenance:
            return Mode.MAINTENANCE
        if any(spec.severity in SERVICE_AFFECTING for spec, _ in self._faults.values()):
            return Mode.FAULT
        return Mode.NORMAL

    @staticmethod
    def _condition_of(r: Reading, mode: Mode) -> TrapReason | None:
        if mode in (Mode.INSPECTION, Mode.MAINTENANCE) or r.direction != Direction.STOPPED:
            return None
        if not r.in_door_zone and r.people is not False:
            return "stopped_outside_door_zone"
        if r.in_door_zone and r.door == Door.CLOSED and r.people is True:
            return "doors_shut_with_people"
        return None

    def _track_condition(self, r: Reading, mode: Mode, now: _Since) -> None:
        reason = self._condition_of(r, mode)
        if reason is None:
            self._condition = None
        elif self._condition is None or self._condition[0] != reason:
            self._condition = (reason, now)

    def _trap_step(self, r: Reading, now: _Since) -> list[NewEvent]:
        floor = r.floor
        trapping = sorted(((since.mono, code) for code, (spec, since) in self._faults.items()
                           if spec.trapped))
        if self._trap is None:
            if trapping:
                code = trapping[0][1]
                self._trap = _Trap("fault_code", self._faults[code][1], code)
            elif self._condition is not None and \
                    now.mono - self._condition[1].mono >= self.config.trapped_after:
                self._trap = _Trap(self._condition[0], self._condition[1], None)
            else:
                return []
            return [self._trapped_event(self._trap, r, now)]
        if trapping or self._condition is not None:
            return []
        trap, self._trap = self._trap, None
        duration = _duration(trap.since, now)
        return [self._event(ELEVATOR_RECOVERED, floor, now, {
            "cleared": "trapped", "reason": trap.reason, "code": trap.code,
            "since": format_ts(trap.since.wall), "duration_s": duration,
            "message": f"电梯困人解除（{self._where_zh(floor)}，历时 {duration:.0f} 秒） / "
                       f"Trapped passengers released ({self._where_en(floor)}, after "
                       f"{duration:.0f} s)"})]

    # -- events -----------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        return self.config.name or self.config.id

    def _where_zh(self, floor: int | None) -> str:
        return f"{self.config.building} 栋 {self._label} {floor_label(floor)} 层"

    def _where_en(self, floor: int | None) -> str:
        return f"building {self.config.building}, {self._label}, floor {floor_label(floor)}"

    def _event(self, kind: str, floor: int | None, now: _Since, data: dict[str, Any],
               priority: Priority | None = None) -> NewEvent:
        body = {"v": EVENT_VERSION, "building": self.config.building, "name": self.config.name,
                "floor": floor, **data}
        return NewEvent(device=self.config.id, kind=kind, data=body, ts=now.wall,
                        priority=priority)

    def _fault_event(self, spec: FaultSpec, floor: int, now: _Since) -> NewEvent:
        return self._event(ELEVATOR_FAULT, floor, now, {
            "code": spec.code, "key": spec.key, "name_zh": spec.zh, "name_en": spec.en,
            "severity": spec.severity, "trapped": spec.trapped, "profile": self.profile.id,
            "message": f"电梯故障：{spec.zh}（{self._where_zh(floor)}） / Elevator fault: "
                       f"{spec.en} ({self._where_en(floor)})"})

    def _trapped_event(self, trap: _Trap, r: Reading, now: _Since) -> NewEvent:
        floor = r.floor
        if trap.code is not None:
            spec = self.profile.fault(trap.code)
            zh, en = spec.zh, spec.en
        else:
            held = now.mono - trap.since.mono
            text = _TRAP_TEXT[trap.reason]
            zh, en = f"{text[0]} {held:.0f} 秒", f"{text[1]} for {held:.0f} s"
        return self._event(ELEVATOR_TRAPPED, floor, now, {
            "reason": trap.reason, "code": trap.code, "since": format_ts(trap.since.wall),
            "in_door_zone": r.in_door_zone, "people": r.people, "door": r.door.value,
            "message": f"电梯困人：{zh}（{self._where_zh(floor)}） / Passengers trapped: {en} "
                       f"({self._where_en(floor)})"})

    def _state_event(self, now: _Since) -> list[NewEvent]:
        s = self._state
        key = s.telemetry_key()
        if key == self._sent:
            return []
        self._sent = key
        data = s.as_dict()
        del data["floor"]  # in the common fields
        return [self._event(ELEVATOR_STATE, s.floor, now, data, Priority.TELEMETRY)]


def _duration(since: _Since, now: _Since) -> float:
    return round(max(0.0, now.mono - since.mono), 3)
