"""Gates wired with fewer inputs, movements we did not command, and the relay interlock."""

from __future__ import annotations

import pytest

from contract import FakeClock, Kind
from drivers.base import DriverStats
from drivers.gate import GATE_CLOSED, GATE_FAULT, GATE_OPENED, GateCommandError, GateState
from drivers.gate.modbus_relay import ModbusRelayGate
from drivers.gate.model import ModbusGateSpec
from drivers.modbus.model import TcpBus
from tests.drivers.gate.conftest import AUTO_CLOSE_S, CONFIRM_S, TRAVEL_S, rig_running, spec
from tests.drivers.harness import Recorder


async def test_without_limit_switches_commands_are_assumed_and_never_fault() -> None:
    async with rig_running(spec(open_limit_input=None, closed_limit_input=None)) as rig:
        await rig.polls()
        assert rig.gate.state == GateState.UNKNOWN  # nothing tells where the arm is
        await rig.sim.jam()                          # and nothing can tell it is stuck
        await rig.gate.open(cause="plate")
        await rig.polls()
        assert rig.gate.state == GateState.OPEN
        await rig.sim.vehicle_enters_loop()
        await rig.polls()
        await rig.sim.vehicle_leaves_loop()
        await rig.polls()
        await rig.advance(AUTO_CLOSE_S)
        await rig.until(lambda: len(rig.sim.presses("close")) == 1)
        await rig.advance(CONFIRM_S / 2)
        assert rig.gate.state == GateState.CLOSING  # anti-crush stays armed meanwhile
        await rig.advance(CONFIRM_S / 2)
        assert rig.gate.state == GateState.CLOSED
        (closed,) = rig.rec.of(GATE_CLOSED)
        assert closed.data["confirmed_by"] == "assumed"
        assert rig.rec.of(GATE_FAULT) == []
        assert rig.stats.get("polls_ok") > 0


async def test_closed_limit_only() -> None:
    async with rig_running(spec(open_limit_input=None)) as rig:
        await rig.polls()
        assert rig.gate.state == GateState.CLOSED
        await rig.gate.open(cause="plate")
        await rig.polls()
        assert rig.gate.state == GateState.OPENING
        await rig.advance(0.1 * TRAVEL_S)
        assert rig.gate.state == GateState.OPEN  # it left the bottom: as open as we can tell
        await rig.advance(TRAVEL_S)
        await rig.gate.close(cause="remote", by="console")
        await rig.advance(TRAVEL_S)
        assert rig.gate.state == GateState.CLOSED
        assert rig.rec.of(GATE_CLOSED)[0].data["confirmed_by"] == "closed_limit"


async def test_open_limit_only_fault_when_the_arm_never_leaves_the_top() -> None:
    async with rig_running(spec(closed_limit_input=None)) as rig:
        await rig.polls()
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S)
        assert rig.gate.state == GateState.OPEN
        await rig.sim.jam()
        await rig.gate.close(cause="remote", by="console")
        await rig.advance(CONFIRM_S)
        assert rig.gate.state == GateState.FAULT
        (fault,) = rig.rec.of(GATE_FAULT)
        assert fault.data["expected"] == "open_limit_released"


async def test_without_a_loop_there_is_no_auto_close_and_a_warning() -> None:
    async with rig_running(spec(loop_input=None)) as rig:
        await rig.polls()
        assert rig.logged("gate has no loop detector: no auto-close, no anti-crush; the "
                          "barrier's own safety loop must protect vehicles")
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S)
        await rig.sim.vehicle_enters_loop()   # the loop exists but is not wired to the board
        await rig.polls()
        await rig.sim.vehicle_leaves_loop()
        await rig.advance(AUTO_CLOSE_S * 10)
        assert rig.sim.presses("close") == []
        assert rig.gate.loop_occupied is None
        assert await rig.gate.close(cause="remote", by="console") is True


async def test_board_without_any_input_is_still_watched_through_its_coils() -> None:
    bare = spec(open_limit_input=None, closed_limit_input=None, loop_input=None)
    async with rig_running(bare) as rig:
        await rig.until(lambda: rig.gate.online is True)
        rig.sim.set_fault("no_reply")
        await rig.until(lambda: rig.gate.online is False)
        assert rig.rec.of(Kind.DEVICE_OFFLINE)[0].data["reason"] == "timeout"


async def test_movements_we_did_not_command_are_recorded() -> None:
    async with rig_running() as rig:
        await rig.polls()
        await rig.sim.remote_control("open")   # the barrier's handheld remote
        await rig.advance(TRAVEL_S * 0.2)
        assert rig.gate.state == GateState.OPENING
        await rig.advance(TRAVEL_S)
        assert rig.gate.state == GateState.OPEN
        (opened,) = rig.rec.of(GATE_OPENED)
        assert (opened.data["cause"], opened.data["by"]) == ("external", None)
        await rig.sim.remote_control("close")
        await rig.advance(TRAVEL_S)
        assert rig.gate.state == GateState.CLOSED
        (closed,) = rig.rec.of(GATE_CLOSED)
        assert closed.data["cause"] == "external"
        assert rig.sim.presses() == []  # the edge pressed nothing


async def test_anti_crush_also_reverses_a_close_we_did_not_command() -> None:
    async with rig_running() as rig:
        await rig.polls()
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S)
        await rig.sim.remote_control("close")
        await rig.advance(TRAVEL_S * 0.3)
        assert rig.gate.state == GateState.CLOSING
        await rig.sim.vehicle_enters_loop()
        await rig.until(lambda: len(rig.sim.presses("open")) == 2)
        assert rig.sim.moving == 1
        assert rig.sim.crushes == []


async def test_open_while_a_close_pulse_is_held_releases_close_first() -> None:
    async with rig_running(spec(pulse_ms=400)) as rig:
        await rig.polls()
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S)
        await rig.gate.close(cause="remote", by="console")
        assert rig.sim.coils[1] is True
        await rig.gate.open(cause="remote", by="console")
        assert rig.sim.coils[:2] == [True, False]
        # rig_running checks on exit that two relays were never on together.


async def test_stop_needs_a_stop_coil_and_who_and_why() -> None:
    async with rig_running(spec(stop_coil=None)) as rig:
        await rig.polls()
        with pytest.raises(GateCommandError, match="no stop coil"):
            await rig.gate.stop(by="guard-07", reason="有人靠近")
    async with rig_running() as rig:
        await rig.polls()
        await rig.gate.open(cause="plate")
        await rig.advance(TRAVEL_S * 0.5)
        with pytest.raises(ValueError):
            await rig.gate.stop(by="", reason="x")
        await rig.gate.stop(by="guard-07", reason="有人靠近 / person next to the arm")
        await rig.advance(TRAVEL_S)
        assert rig.sim.arm_position == pytest.approx(0.5)
        assert rig.gate.state == GateState.UNKNOWN
        assert rig.rec.of(GATE_FAULT) == []


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="coils must differ"):
        spec(close_coil=0)
    with pytest.raises(ValueError, match="inputs must differ"):
        spec(loop_input=0)
    with pytest.raises(ValueError, match="unit id"):
        spec(address=0)
    with pytest.raises(ValueError, match="auto_close"):
        spec(auto_close=-1)
    with pytest.raises(ValueError, match="pulse_ms"):
        spec(pulse_ms=5)
    assert ModbusGateSpec(id="g", bus="b").behaviour.auto_close_enabled is False  # no loop
    assert spec(auto_close=None).behaviour.auto_close_enabled is False
    assert spec().behaviour.auto_close_enabled is True


def test_gate_and_bus_must_agree() -> None:
    bus = TcpBus(id="tcp1", host="127.0.0.1")
    with pytest.raises(ValueError, match="not 'tcp1'"):
        ModbusRelayGate(spec(), bus, Recorder(), FakeClock(), DriverStats())
