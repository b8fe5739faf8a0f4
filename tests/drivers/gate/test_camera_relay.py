"""A gate on the camera's relay: it can only record and hand a pulse to the next reply."""

from __future__ import annotations

import pytest

from contract import FakeClock, NewEvent
from drivers.base import DriverStats
from drivers.gate import GATE_OPENED, CameraRelayGate, CameraRelayGateSpec, GateCommandError
from drivers.gate.model import GateState
from tests.drivers.harness import Recorder


def camera_gate(**kw: object) -> tuple[CameraRelayGate, Recorder, FakeClock, DriverStats]:
    rec, clock, stats = Recorder(), FakeClock(), DriverStats()
    spec = CameraRelayGateSpec(id="gate-in-1", camera="cam-in-1", relay_io=1, lane="lane-in-1",
                               pulse_ms=600, **kw)  # type: ignore[arg-type]
    return CameraRelayGate(spec, rec, clock, stats), rec, clock, stats


async def test_plate_open_is_recorded_and_the_reply_itself_pulses() -> None:
    gate, rec, _, stats = camera_gate()
    await gate.open(cause="plate", plate="粤Z9065澳", session="s-9")
    (opened,) = rec.events
    assert opened.kind == GATE_OPENED
    assert opened.data == {
        "v": 1, "gate": "gate-in-1", "lane": "lane-in-1", "cause": "plate", "by": None,
        "reason": None, "plate": "粤Z9065澳", "session": "s-9", "transport": "camera_relay",
        "held": False, "camera": "cam-in-1", "relay_io": 1, "confirmable": False}
    assert gate.state == GateState.UNKNOWN  # no feedback, ever
    assert gate.take_pending_pulse() is None  # the plate reply carries the open already
    assert stats.get("gate_opens_plate") == 1


async def test_manual_open_is_handed_to_the_next_reply_once_within_its_ttl() -> None:
    gate, rec, clock, _ = camera_gate(pending_ttl=10.0)
    with pytest.raises(ValueError, match="reason"):
        await gate.open(cause="manual", by="guard-07")
    assert rec.events == []
    await gate.open(cause="manual", by="guard-07", reason="车牌污损，人工核实 / plate dirty")
    assert rec.events[0].data["by"] == "guard-07"
    clock.advance(4.0)
    assert gate.take_pending_pulse() == {"io": 1, "value": 2, "delay": 600}
    assert gate.take_pending_pulse() is None
    await gate.open(cause="remote", by="console:alice")
    clock.advance(11.0)
    assert gate.take_pending_pulse() is None  # too late: nobody is waiting any more


async def test_an_open_that_cannot_be_recorded_is_refused() -> None:
    async def broken(_: NewEvent) -> None:
        raise OSError("disk full")

    gate = CameraRelayGate(CameraRelayGateSpec(id="g", camera="c"), broken, FakeClock(),
                           DriverStats())
    with pytest.raises(GateCommandError, match="未开闸"):
        await gate.open(cause="remote", by="console")
    assert gate.take_pending_pulse() is None
    await gate.open(cause="fire", reason="火警 / fire")  # fire opens regardless
    assert gate.take_pending_pulse() is not None


def test_camera_relay_spec_validation() -> None:
    with pytest.raises(ValueError, match="relay_io"):
        CameraRelayGateSpec(id="g", camera="c", relay_io=4)
