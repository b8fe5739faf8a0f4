"""Rules of the elevator state machine that need precise sequences (no wire: readings in,
events out, time from a FakeClock)."""

from __future__ import annotations

from dataclasses import replace

from contract import FakeClock, NewEvent
from contract.envelope import format_ts
from drivers.elevator.model import (
    ELEVATOR_RECOVERED,
    ELEVATOR_STATE,
    ELEVATOR_TRAPPED,
    Direction,
    Door,
    Mode,
    Reading,
)
from drivers.elevator.monitor import ElevatorMonitor
from drivers.elevator.profile import load_profile
from tests.drivers.elevator.conftest import GENERIC, PROFILES, config

AT_REST = Reading(direction=Direction.STOPPED, in_door_zone=True, floor=5, door=Door.CLOSED,
                  people=False, inspection=False, maintenance=False, fault_codes=frozenset())
STUCK = replace(AT_REST, in_door_zone=False, people=True)


def monitor() -> tuple[ElevatorMonitor, FakeClock]:
    clock = FakeClock()
    cfg = config(502, trapped_after=30.0)
    return ElevatorMonitor(cfg, load_profile(PROFILES / f"{GENERIC}.yaml"), clock), clock


def kinds(events: list[NewEvent]) -> list[str]:
    return [e.kind for e in events if e.kind != ELEVATOR_STATE]


def test_a_trap_outlives_its_fault_code_while_the_car_stays_stuck() -> None:
    m, clock = monitor()
    m.observe(AT_REST)
    (_, trapped, _) = m.observe(replace(STUCK, fault_codes=frozenset({1})))
    assert trapped.kind == ELEVATOR_TRAPPED and trapped.data["reason"] == "fault_code"
    clock.advance(60)
    # The box drops its code, but the car has not moved: the passengers are still inside.
    assert kinds(m.observe(STUCK)) == [ELEVATOR_RECOVERED]  # the fault only
    clock.advance(60)
    assert kinds(m.observe(STUCK)) == []
    (recovered,) = [e for e in m.observe(AT_REST) if e.kind == ELEVATOR_RECOVERED]
    assert recovered.data["cleared"] == "trapped"
    assert recovered.data["duration_s"] == 120.0


def test_offline_freezes_the_episode_and_the_timer_keeps_its_start() -> None:
    m, clock = monitor()
    began = clock.now()
    m.observe(STUCK)
    clock.advance(10)
    (state,) = m.offline()
    assert state.data["mode"] == "offline" and state.data["floor"] == 5
    assert m.state.mode == Mode.OFFLINE
    clock.advance(25)
    (trapped,) = [e for e in m.observe(STUCK) if e.kind == ELEVATOR_TRAPPED]
    assert trapped.data["since"] == format_ts(began)
    m.offline()
    clock.advance(300)
    assert m.offline() == [], "no repeated offline state"
    assert m.state.trapped, "nothing is recovered from a box that does not answer"


def test_mode_precedence_and_who_counts_as_trapped() -> None:
    m, clock = monitor()
    assert m.observe(replace(AT_REST, fault_codes=frozenset({14})))  # fire return: info
    assert m.state.mode == Mode.NORMAL
    m.observe(replace(AT_REST, fault_codes=frozenset({5})))
    assert m.state.mode == Mode.FAULT
    m.observe(replace(AT_REST, fault_codes=frozenset({5}), maintenance=True))
    assert m.state.mode == Mode.MAINTENANCE
    m.observe(replace(AT_REST, fault_codes=frozenset({5}), maintenance=True, inspection=True))
    assert m.state.mode == Mode.INSPECTION
    empty = replace(STUCK, people=False)  # outside the door zone, but the box says empty
    assert kinds(m.observe(empty)) == [ELEVATOR_RECOVERED]  # code 5 went away
    clock.advance(120)
    assert kinds(m.observe(empty)) == [], "stopped outside the zone, but nobody inside"
    unknown = replace(STUCK, people=None)  # a box without a people sensor: assume someone
    m.observe(unknown)
    clock.advance(30)
    assert kinds(m.observe(unknown)) == [ELEVATOR_TRAPPED]
