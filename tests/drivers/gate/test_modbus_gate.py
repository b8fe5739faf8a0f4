"""The Modbus relay gate against the barrier simulator over real Modbus TCP."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from contract import Kind, SystemClock
from drivers.gate import (
    GATE_CLOSED,
    GATE_FAULT,
    GATE_OPENED,
    GATE_RECOVERED,
    GateCommandError,
    GateHeld,
    GateState,
)
from simulators.pty import pty_pair
from tests.drivers.gate.conftest import AUTO_CLOSE_S, CONFIRM_S, TRAVEL_S, Rig, rig_running, spec
from tests.support import services


def assert_never_closed_on_a_vehicle(rig: Rig) -> None:
    """From the barrier's own record: no CLOSE press with the loop occupied, no contact."""
    assert [c for c in rig.sim.presses("close") if c.loop_occupied] == []
    assert rig.sim.crushes == []


async def open_fully(rig: Rig, **kw: str) -> None:
    await rig.gate.open(**{"cause": "plate", **kw})
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.OPEN


async def vehicle_passes(rig: Rig) -> None:
    await rig.sim.vehicle_enters_loop()
    await rig.polls()
    assert rig.gate.loop_occupied is True
    await rig.sim.vehicle_leaves_loop()
    await rig.polls()
    assert rig.gate.loop_occupied is False


async def test_open_is_recorded_first_then_confirmed_by_the_open_limit(rig: Rig) -> None:
    assert rig.gate.state == GateState.CLOSED
    await rig.gate.open(cause="plate", plate="粤B12345", session="sess-1")
    (opened,) = rig.rec.of(GATE_OPENED)
    assert rig.rec.presses_at_emit[rig.rec.events.index(opened)] == 0, \
        "gate.opened must be stored before the relay is pulsed"
    assert [c.command for c in rig.sim.commands] == ["open"]
    assert opened.device == "gate-out-1"
    assert opened.data == {
        "v": 1, "gate": "gate-out-1", "lane": "lane-out-1", "cause": "plate", "by": None,
        "reason": None, "plate": "粤B12345", "session": "sess-1", "transport": "modbus_relay",
        "held": False}
    await rig.polls()
    assert rig.gate.state == GateState.OPENING
    await rig.advance(TRAVEL_S / 2)
    assert rig.gate.state == GateState.OPENING
    await rig.advance(TRAVEL_S / 2)
    assert rig.gate.state == GateState.OPEN
    await rig.until(lambda: not any(rig.sim.coils))  # the pulse was released
    assert rig.rec.of(GATE_FAULT) == []
    assert rig.stats.get("gate_opens_plate") == 1
    assert rig.stats.get("gate_opens_confirmed") == 1
    assert rig.stats.gauges["gate_state"] == 2


async def test_auto_close_after_the_vehicle_has_passed(rig: Rig) -> None:
    await open_fully(rig)
    await rig.advance(10.0)  # no vehicle yet: the gate waits for it, however long
    assert rig.sim.presses("close") == []
    await vehicle_passes(rig)
    await rig.advance(AUTO_CLOSE_S * 0.8)
    assert rig.sim.presses("close") == []
    await rig.advance(AUTO_CLOSE_S * 0.4)
    await rig.until(lambda: len(rig.sim.presses("close")) == 1)
    assert rig.gate.state == GateState.CLOSING
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.CLOSED
    (closed,) = rig.rec.of(GATE_CLOSED)
    assert closed.data["cause"] == "auto"
    assert closed.data["confirmed_by"] == "closed_limit"
    assert closed.data["elapsed_s"] == pytest.approx(TRAVEL_S)
    assert rig.rec.kinds() == [Kind.DEVICE_ONLINE, GATE_OPENED, GATE_CLOSED]
    assert_never_closed_on_a_vehicle(rig)


async def test_a_vehicle_returning_to_the_loop_cancels_the_auto_close(rig: Rig) -> None:
    await open_fully(rig)
    await vehicle_passes(rig)
    await rig.advance(AUTO_CLOSE_S * 0.6)
    await rig.sim.vehicle_enters_loop()   # the next car, tailgating
    await rig.advance(AUTO_CLOSE_S * 2)
    assert rig.sim.presses("close") == []
    await rig.sim.vehicle_leaves_loop()
    await rig.polls()
    await rig.advance(AUTO_CLOSE_S)
    await rig.until(lambda: len(rig.sim.presses("close")) == 1)
    assert_never_closed_on_a_vehicle(rig)


async def test_close_is_deferred_while_the_loop_is_occupied(rig: Rig) -> None:
    await open_fully(rig)
    await rig.sim.vehicle_enters_loop()
    await rig.polls()
    assert await rig.gate.close(cause="remote", by="console:alice") is False
    await rig.advance(5.0)
    assert rig.sim.presses("close") == []
    assert rig.gate.controller.close_deferred
    assert rig.stats.get("gate_closes_deferred") == 1
    (deferred,) = rig.logged("close deferred until the loop is free")
    assert deferred["gate"] == "gate-out-1"
    assert deferred["loop"] == "occupied"
    await rig.sim.vehicle_leaves_loop()
    await rig.until(lambda: len(rig.sim.presses("close")) == 1)
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.CLOSED
    (closed,) = rig.rec.of(GATE_CLOSED)
    assert (closed.data["cause"], closed.data["by"]) == ("remote", "console:alice")
    assert_never_closed_on_a_vehicle(rig)


async def test_vehicle_appearing_while_closing_reopens_at_once(rig: Rig) -> None:
    await open_fully(rig)
    await vehicle_passes(rig)
    await rig.advance(AUTO_CLOSE_S)
    await rig.until(lambda: len(rig.sim.presses("close")) == 1)
    await rig.advance(TRAVEL_S * 0.4)
    assert rig.sim.moving == -1
    await rig.sim.vehicle_enters_loop()   # arm at 0.6, still above the car
    await rig.until(lambda: len(rig.sim.presses("open")) == 2)
    assert rig.sim.moving == 1
    assert rig.stats.get("gate_anti_crush_reopens") == 1
    await rig.advance(TRAVEL_S * 0.4)
    assert rig.gate.state == GateState.OPEN
    assert [e.data["cause"] for e in rig.rec.of(GATE_OPENED)] == ["plate", "safety"]
    assert rig.rec.of(GATE_CLOSED) == []
    # Once that vehicle has passed too, the auto-close runs again.
    await rig.sim.vehicle_leaves_loop()
    await rig.polls()
    await rig.advance(AUTO_CLOSE_S)
    await rig.until(lambda: len(rig.sim.presses("close")) == 2)
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.CLOSED
    assert_never_closed_on_a_vehicle(rig)


async def test_an_interrupted_explicit_close_runs_again_when_the_loop_is_free(rig: Rig) -> None:
    await open_fully(rig)
    assert await rig.gate.close(cause="manual", by="guard-07", reason="收费完成") is True
    await rig.advance(TRAVEL_S * 0.3)
    await rig.sim.vehicle_enters_loop()
    await rig.until(lambda: len(rig.sim.presses("open")) == 2)
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.OPEN
    assert len(rig.sim.presses("close")) == 1
    await rig.sim.vehicle_leaves_loop()
    await rig.until(lambda: len(rig.sim.presses("close")) == 2)
    await rig.advance(TRAVEL_S)
    (closed,) = rig.rec.of(GATE_CLOSED)
    assert (closed.data["cause"], closed.data["by"]) == ("manual", "guard-07")
    assert_never_closed_on_a_vehicle(rig)


async def test_jam_raises_one_fault_and_recovers_when_freed(rig: Rig) -> None:
    await rig.gate.open(cause="plate")
    await rig.polls()
    await rig.advance(TRAVEL_S * 0.3)
    await rig.sim.jam()
    await rig.advance(CONFIRM_S)
    assert rig.gate.state == GateState.FAULT
    await rig.advance(CONFIRM_S * 3)
    (fault,) = rig.rec.of(GATE_FAULT)
    assert fault.data["fault"] == "no_confirmation"
    assert fault.data["command"] == "open"
    assert fault.data["expected"] == "open_limit"
    assert fault.data["inputs"] == {"open_limit": False, "closed_limit": False, "loop": False}
    assert fault.data["inputs_seen"][0]["closed_limit"] is True  # it did leave the bottom
    assert fault.data["elapsed_s"] >= CONFIRM_S
    assert fault.data["message"].startswith("道闸抬杆未到位")
    assert rig.gate.state == GateState.FAULT
    await rig.sim.free()
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.OPEN
    (recovered,) = rig.rec.of(GATE_RECOVERED)
    assert recovered.data["fault"] == "no_confirmation"
    assert recovered.data["state"] == "open"
    assert rig.rec.kinds().index(GATE_FAULT) < rig.rec.kinds().index(GATE_RECOVERED)
    assert len(rig.rec.of(GATE_FAULT)) == 1
    assert rig.stats.get("gate_faults") == 1
    assert rig.stats.get("gate_recoveries") == 1


async def test_jam_while_closing_is_a_fault_until_the_closed_limit_confirms(rig: Rig) -> None:
    await open_fully(rig)
    await rig.gate.close(cause="remote", by="console")
    await rig.advance(TRAVEL_S * 0.5)
    await rig.sim.jam()
    await rig.advance(CONFIRM_S)
    assert rig.gate.state == GateState.FAULT
    (fault,) = rig.rec.of(GATE_FAULT)
    assert (fault.data["command"], fault.data["expected"]) == ("close", "closed_limit")
    await rig.sim.free()
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.CLOSED
    assert [k for k in rig.rec.kinds() if k.startswith("gate.")] == [
        GATE_OPENED, GATE_FAULT, GATE_RECOVERED, GATE_CLOSED]


async def test_broken_limit_switches(rig: Rig) -> None:
    # The closed limit sticks on: once the arm is up both switches say "here".
    await rig.sim.break_limit("closed", stuck_at=True)
    await rig.gate.open(cause="remote", by="console")
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.FAULT
    (fault,) = rig.rec.of(GATE_FAULT)
    assert fault.data["fault"] == "limits_inconsistent"
    assert fault.data["message"].startswith("道闸限位信号矛盾")
    await rig.sim.repair_limit("closed")
    await rig.polls()
    assert rig.gate.state == GateState.OPEN
    assert [e.data["fault"] for e in rig.rec.of(GATE_RECOVERED)] == ["limits_inconsistent"]


async def test_manual_open_needs_who_and_why_and_leaves_an_audit_record(rig: Rig) -> None:
    for by, reason in ((None, "访客车辆"), ("guard-07", None), ("guard-07", "  "), ("", "x")):
        with pytest.raises(ValueError, match="人工操作道闸须填写操作人"):
            await rig.gate.open(cause="manual", by=by, reason=reason)
    with pytest.raises(ValueError, match="cause must be one of"):
        await rig.gate.open(cause="because")
    assert rig.rec.of(GATE_OPENED) == []
    assert rig.sim.commands == []
    await rig.gate.open(cause="manual", by="guard-07", reason="访客车辆，已登记 / visitor logged")
    (opened,) = rig.rec.of(GATE_OPENED)
    assert opened.data["cause"] == "manual"
    assert opened.data["by"] == "guard-07"
    assert opened.data["reason"] == "访客车辆，已登记 / visitor logged"
    assert opened.data["lane"] == "lane-out-1"
    assert rig.stats.get("gate_opens_manual") == 1
    assert rig.sim.presses("open")


async def test_an_open_that_cannot_be_recorded_is_not_carried_out(rig: Rig) -> None:
    rig.rec.fail = True
    with pytest.raises(GateCommandError, match="未开闸"):
        await rig.gate.open(cause="plate", plate="京A12345")
    assert rig.sim.commands == []
    assert rig.gate.state == GateState.CLOSED
    # Fire linkage opens all the same: lives before records.
    await rig.gate.hold_open("火警：3号楼 / fire alarm, block 3")
    assert len(rig.sim.presses("open")) == 1


async def test_a_fire_hold_pulses_before_it_records(rig: Rig) -> None:
    """A stalled or slow outbox must never keep a fire exit's barrier down."""
    await rig.gate.hold_open("火警：1号楼 / fire alarm, block 1", by="linkage")
    i = rig.rec.kinds().index(GATE_OPENED)
    assert rig.rec.presses_at_emit[i] == 1, "the relay was pulsed before gate.opened was stored"


async def test_hold_open_ignores_auto_close_until_released(rig: Rig) -> None:
    await rig.gate.hold_open("消防联动：1号楼烟感 / fire linkage: smoke, block 1",
                             by="fire-panel-1")
    (opened,) = rig.rec.of(GATE_OPENED)
    assert (opened.data["cause"], opened.data["held"]) == ("fire", True)
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.OPEN
    await vehicle_passes(rig)
    await rig.advance(AUTO_CLOSE_S * 10)
    assert rig.sim.presses("close") == []
    with pytest.raises(GateHeld):
        await rig.gate.close(cause="remote", by="console")
    assert rig.gate.controller.held
    await rig.gate.release(by="fire-panel-1")
    assert not rig.gate.controller.held
    await rig.advance(AUTO_CLOSE_S)
    await rig.until(lambda: len(rig.sim.presses("close")) == 1)
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.CLOSED
    assert rig.rec.of(GATE_CLOSED)[0].data["cause"] == "auto"


async def test_held_gate_that_comes_down_is_reopened(rig: Rig) -> None:
    await rig.gate.hold_open("消防联动 / fire linkage")
    await rig.advance(TRAVEL_S)
    # Someone closes it with the barrier's own remote control.
    await rig.sim.remote_control("close")
    await rig.advance(TRAVEL_S * 0.3)
    await rig.until(lambda: len(rig.sim.presses("open")) == 2)
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.OPEN
    assert [e.data["cause"] for e in rig.rec.of(GATE_OPENED)] == ["fire", "fire"]


async def test_silent_board_goes_offline_once_and_online_when_it_answers() -> None:
    async with rig_running() as rig:
        await rig.until(lambda: rig.gate.online is True)
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S)
        rig.sim.set_fault("no_reply")
        await rig.until(lambda: rig.gate.state == GateState.UNKNOWN)
        assert rig.gate.loop_occupied is None
        await rig.until(lambda: rig.gate.online is False)
        await rig.polls(5)
        offline = rig.rec.of(Kind.DEVICE_OFFLINE)
        assert len(offline) == 1
        assert offline[0].data["reason"] == "timeout"
        assert offline[0].data["message"].startswith("道闸控制板离线")
        assert rig.gate.state == GateState.UNKNOWN  # never claims open while it cannot see
        rig.sim.set_fault("none")
        await rig.until(lambda: rig.gate.online is True)
        assert rig.gate.state == GateState.OPEN
        await rig.polls(5)
    transitions = [e.kind for e in rig.rec.events
                   if e.kind in (Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE)]
    assert transitions == [Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE]
    assert rig.stats.get("poll_timeouts") >= 3
    assert rig.rec.of(GATE_FAULT) == []
    assert rig.rec.of(GATE_CLOSED) == []  # learning the state again is not an event


async def test_a_single_missed_reply_makes_the_state_unknown_but_does_not_go_offline(
        rig: Rig) -> None:
    rig.sim.set_fault("no_reply", requests=1)
    await rig.until(lambda: rig.stats.get("poll_timeouts") == 1)
    await rig.polls()
    assert rig.gate.state == GateState.CLOSED
    assert rig.rec.of(Kind.DEVICE_OFFLINE) == []


async def test_close_while_inputs_are_unreadable_waits_for_a_reading(rig: Rig) -> None:
    await open_fully(rig)
    rig.sim.set_fault("no_reply")
    await rig.until(lambda: rig.gate.state == GateState.UNKNOWN)
    assert await rig.gate.close(cause="remote", by="console") is False
    assert rig.sim.presses("close") == []
    rig.sim.set_fault("none")
    await rig.until(lambda: len(rig.sim.presses("close")) == 1)
    assert_never_closed_on_a_vehicle(rig)


async def test_exception_and_garbage_replies_are_counted_and_logged(rig: Rig) -> None:
    rig.sim.set_fault("exception", requests=2, exception_code=4)
    await rig.until(lambda: rig.stats.get("poll_exceptions") == 2)
    await rig.polls()  # fewer than offline_after (3) failures in a row: no device.offline
    rig.sim.set_fault("garbage", requests=1)
    await rig.until(lambda: rig.stats.get("poll_garbage") == 1)
    await rig.polls(5)
    assert rig.gate.state == GateState.CLOSED
    assert rig.rec.of(Kind.DEVICE_OFFLINE) == []
    warnings = rig.logged("gate inputs unreadable")
    assert {w["reason"] for w in warnings} == {"exception", "garbage"}
    assert all(w["gate"] == "gate-out-1" for w in warnings)
    assert rig.stats.get("poll_errors") == 0
    # Still fully working.
    await rig.gate.open(cause="plate")
    await rig.advance(TRAVEL_S)
    assert rig.gate.state == GateState.OPEN


async def test_a_command_the_board_refuses_is_a_fault_and_an_error() -> None:
    async with rig_running() as rig:
        await rig.polls()
        rig.sim.set_fault("exception", exception_code=2)
        with pytest.raises(GateCommandError, match="did not reach the relay board"):
            await rig.gate.open(cause="remote", by="console")
        rig.sim.set_fault("none")
        await rig.polls()
        assert len(rig.rec.of(GATE_OPENED)) == 1   # the attempt stays on record
        (fault,) = rig.rec.of(GATE_FAULT)
        assert fault.data["fault"] == "command_failed"
        assert fault.data["command"] == "open"
        assert rig.gate.state == GateState.CLOSED
        assert rig.sim.commands == []


async def test_stopping_the_driver_mid_pulse_leaves_no_relay_on() -> None:
    async with rig_running(spec(pulse_ms=5000)) as rig:
        await rig.polls()
        await rig.gate.open(cause="plate")
        assert rig.sim.coils[0] is True
    # rig_running asserted on exit that every coil is off again.


async def test_inverted_inputs() -> None:
    async with rig_running(spec(input_polarity="active_low"), active_low=True) as rig:
        await rig.polls()
        assert rig.gate.state == GateState.CLOSED
        assert rig.gate.loop_occupied is False
        await rig.sim.vehicle_enters_loop()
        await rig.polls()
        assert rig.gate.loop_occupied is True


async def test_real_time_end_to_end_with_anti_crush() -> None:
    """SystemClock: real travel and timers, the arm reverses long before it reaches the car."""
    fast = spec(confirm_timeout=3.0, auto_close=0.2)
    async with rig_running(fast, clock=SystemClock(), travel_s=1.0) as rig:
        await rig.polls()
        await rig.gate.open(cause="plate")
        await rig.until(lambda: rig.gate.state == GateState.OPEN, within=3.0)
        await rig.sim.vehicle_enters_loop()
        await asyncio.sleep(0.1)
        await rig.sim.vehicle_leaves_loop()
        await rig.until(lambda: rig.gate.state == GateState.CLOSING, within=2.0)
        await asyncio.sleep(0.3)
        await rig.sim.vehicle_enters_loop()   # arm around 0.7
        await rig.until(lambda: rig.sim.moving == 1, within=1.0)
        assert rig.sim.arm_position > 0.5
        await rig.until(lambda: rig.gate.state == GateState.OPEN, within=3.0)
        await rig.sim.vehicle_leaves_loop()
        await rig.until(lambda: rig.gate.state == GateState.CLOSED, within=4.0)
        assert_never_closed_on_a_vehicle(rig)
        assert [e.data["cause"] for e in rig.rec.of(GATE_OPENED)] == ["plate", "safety"]


async def test_connection_loss_and_return() -> None:
    """The board's TCP port goes away and comes back (real clock: reconnect back-off)."""
    async with rig_running(clock=SystemClock()) as rig:
        await rig.until(lambda: rig.gate.online is True)
        await rig.sim.stop()
        await rig.until(lambda: rig.gate.online is False, within=10.0)
        assert rig.gate.state == GateState.UNKNOWN
        await rig.until(lambda: len(rig.rec.of(Kind.DEVICE_OFFLINE)) > 0)  # queued, then stored
        (offline,) = rig.rec.of(Kind.DEVICE_OFFLINE)
        assert offline.data["reason"] in ("bus_down", "timeout")
        await rig.sim.start()
        await rig.until(lambda: rig.gate.online is True, within=10.0)
        assert rig.gate.state == GateState.CLOSED
        assert rig.stats.get("connects") >= 2


async def test_over_modbus_rtu(tmp_path: Path) -> None:
    services.need(shutil.which("socat") is not None, "socat (apt-get install -y socat)")
    async with pty_pair(tmp_path / "edge", tmp_path / "sim") as (edge_end, sim_end), \
            rig_running(rtu_line=(str(edge_end), str(sim_end))) as rig:
        await rig.polls()
        assert rig.gate.state == GateState.CLOSED
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S)
        assert rig.gate.state == GateState.OPEN
        await vehicle_passes(rig)
        await rig.advance(AUTO_CLOSE_S)
        await rig.until(lambda: len(rig.sim.presses("close")) == 1)
        await rig.advance(TRAVEL_S)
        assert rig.gate.state == GateState.CLOSED
