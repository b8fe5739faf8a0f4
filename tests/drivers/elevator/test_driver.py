"""The elevator driver against the simulated monitoring box over real Modbus TCP."""

from __future__ import annotations

import itertools

import pytest

from contract import Kind, Priority
from contract.envelope import format_ts
from drivers.elevator.model import (
    ELEVATOR_FAULT,
    ELEVATOR_RECALL,
    ELEVATOR_RECOVERED,
    ELEVATOR_STATE,
    ELEVATOR_TRAPPED,
    Direction,
    Door,
    Mode,
)
from tests.drivers.elevator.conftest import (
    DOOR_S,
    FLOOR_S,
    TRAPPED_AFTER,
    VENDOR,
    Rig,
    rig_running,
)


def states(rig: Rig) -> list[tuple[object, ...]]:
    return [(e.data["mode"], e.data["direction"], e.data["floor"], e.data["door"])
            for e in rig.rec.of(ELEVATOR_STATE)]


async def test_a_trip_emits_each_change_of_floor_door_and_direction_once() -> None:
    async with rig_running() as rig:
        await rig.car.call(3)
        await rig.advance(2 * FLOOR_S + 2 * DOOR_S, step=0.25)
        seen = states(rig)
        assert seen[0] == ("normal", "stopped", 1, "closed")
        assert ("normal", "up", 2, "closed") in seen
        assert ("normal", "up", 3, "closed") in seen
        assert seen[-2:] == [("normal", "stopped", 3, "opening"), ("normal", "stopped", 3, "open")]
        assert all(a != b for a, b in itertools.pairwise(seen)), "no repeats without a change"
        state = rig.driver.state
        assert (state.mode, state.floor, state.door, state.direction) == (
            Mode.NORMAL, 3, Door.OPEN, Direction.STOPPED)
        event = rig.rec.of(ELEVATOR_STATE)[-1]
        assert event.device == "elev-3-a"
        assert event.effective_priority() == Priority.TELEMETRY
        assert event.data["building"] == "3" and event.data["name"] == "3号楼A梯"
        assert rig.rec.kinds() == [Kind.DEVICE_ONLINE]


async def test_a_trapped_fault_code_raises_fault_and_trapped_once_then_recovers() -> None:
    async with rig_running(start_floor=4) as rig:
        await rig.car.call(6)
        await rig.advance(DOOR_S / 2 + FLOOR_S / 2, step=0.25)  # half-way up from 4
        trapped_at = rig.clock.now()
        await rig.car.trap(at_landing=False)
        await rig.polls()
        (fault,) = rig.rec.of(ELEVATOR_FAULT)
        assert fault.data["code"] == 1
        assert fault.data["key"] == "trapped_between_floors"
        assert fault.data["name_zh"] == "非平层困人"
        assert fault.data["severity"] == "critical"
        assert fault.data["building"] == "3" and fault.data["floor"] in (4, 5)
        assert fault.data["message"].startswith("电梯故障：非平层困人")
        (trapped,) = rig.rec.of(ELEVATOR_TRAPPED)
        assert trapped.data["reason"] == "fault_code"
        assert trapped.data["since"] == format_ts(trapped_at)
        assert trapped.effective_priority() == Priority.ALARM
        assert rig.driver.state.mode == Mode.FAULT and rig.driver.state.trapped
        await rig.advance(2 * TRAPPED_AFTER, step=TRAPPED_AFTER)  # the state rule holds too
        assert len(rig.rec.of(ELEVATOR_TRAPPED)) == 1, "one trapped event per episode"
        await rig.car.clear()
        await rig.advance(FLOOR_S + DOOR_S, step=0.5)
        recovered = {e.data["cleared"]: e for e in rig.rec.of(ELEVATOR_RECOVERED)}
        assert set(recovered) == {"fault", "trapped"}
        assert recovered["fault"].data["code"] == 1
        assert recovered["trapped"].data["duration_s"] >= 2 * TRAPPED_AFTER
        assert rig.driver.state.mode == Mode.NORMAL and not rig.driver.state.trapped
        assert rig.rec.kinds() == [Kind.DEVICE_ONLINE, ELEVATOR_FAULT, ELEVATOR_TRAPPED,
                                   ELEVATOR_RECOVERED, ELEVATOR_RECOVERED]


async def test_stopped_outside_the_door_zone_with_people_is_trapped_after_the_threshold() -> None:
    async with rig_running(start_floor=2) as rig:
        await rig.car.call(4)
        await rig.advance(DOOR_S / 2 + FLOOR_S / 2, step=0.25)
        began = rig.clock.now()
        await rig.car.trap(at_landing=False, report=False)  # the box sends no trapped code
        await rig.polls()
        assert not rig.driver.state.in_door_zone and rig.driver.state.people
        await rig.advance(TRAPPED_AFTER - 1.0, step=TRAPPED_AFTER)
        assert rig.rec.of(ELEVATOR_TRAPPED) == []
        await rig.advance(1.0)
        (trapped,) = rig.rec.of(ELEVATOR_TRAPPED)
        assert trapped.data["reason"] == "stopped_outside_door_zone"
        assert trapped.data["since"] == format_ts(began), "since = when the car stopped"
        assert trapped.data["code"] is None
        assert trapped.data["message"].startswith("电梯困人：轿厢停在门区外")
        assert rig.rec.of(ELEVATOR_FAULT) == []
        await rig.car.clear()
        await rig.advance(FLOOR_S + DOOR_S)
        (recovered,) = rig.rec.of(ELEVATOR_RECOVERED)
        assert recovered.data["cleared"] == "trapped"
        assert recovered.data["reason"] == "stopped_outside_door_zone"
        assert recovered.data["duration_s"] >= TRAPPED_AFTER


async def test_doors_shut_with_people_inside_on_the_vendor_status_word_box() -> None:
    async with rig_running(VENDOR, start_floor=-1) as rig:
        await rig.car.passengers(True)  # in the car at B1, doors shut, nobody presses a button
        await rig.polls()
        assert rig.driver.state.floor == -1 and rig.driver.state.in_door_zone
        await rig.advance(TRAPPED_AFTER / 2, step=TRAPPED_AFTER)
        await rig.car.passengers(False)  # they got out: the clock starts again next time
        await rig.polls()
        await rig.car.passengers(True)
        await rig.polls()
        await rig.advance(TRAPPED_AFTER - 1.0, step=TRAPPED_AFTER)
        assert rig.rec.of(ELEVATOR_TRAPPED) == []
        await rig.advance(1.0)
        (trapped,) = rig.rec.of(ELEVATOR_TRAPPED)
        assert trapped.data["reason"] == "doors_shut_with_people"
        assert trapped.data["floor"] == -1
        assert "B1" in trapped.data["message"]


async def test_inspection_is_a_mode_and_no_trap_is_inferred_from_the_state() -> None:
    async with rig_running(start_floor=2) as rig:
        await rig.car.set_inspection(True)
        await rig.car.trap(at_landing=False, report=False)  # a technician stops between floors
        await rig.advance(2 * TRAPPED_AFTER, step=TRAPPED_AFTER)
        assert rig.driver.state.mode == Mode.INSPECTION
        assert rig.rec.of(ELEVATOR_TRAPPED) == []


async def test_faults_reported_in_the_bitmask_and_unknown_codes() -> None:
    async with rig_running() as rig:
        await rig.car.raise_fault("alarm_button")  # bit 0 of the generic box's bitmask
        await rig.polls()
        (alarm,) = rig.rec.of(ELEVATOR_FAULT)
        assert (alarm.data["code"], alarm.data["key"]) == (13, "alarm_button")
        assert rig.driver.state.mode == Mode.FAULT  # severity major
        await rig.car.clear_fault("alarm_button")
        await rig.polls()
        (cleared,) = rig.rec.of(ELEVATOR_RECOVERED)
        assert cleared.data["code"] == 13 and cleared.data["cleared"] == "fault"
        assert rig.driver.state.mode == Mode.NORMAL


async def test_recall_takes_the_car_to_the_main_landing_and_opens_the_doors() -> None:
    async with rig_running(start_floor=6) as rig:
        result = await rig.driver.recall(by="guard:wang", reason="消防联动 / fire linkage")
        assert result.ok and result.outcome == "ok"
        assert result.target_floor == 1
        assert rig.box.writes == [(0x0020, 1)]
        (event,) = rig.rec.of(ELEVATOR_RECALL)
        assert event.data["by"] == "guard:wang" and event.data["result"] == "ok"
        assert event.data["target_floor"] == 1 and event.data["building"] == "3"
        await rig.advance(DOOR_S + 5 * FLOOR_S + DOOR_S + 10.0, step=1.0)
        state = rig.driver.state
        assert (state.floor, state.door, state.direction) == (1, Door.OPEN, Direction.STOPPED)
        assert rig.car.floor == 1 and rig.car.door == "open"
        assert rig.stats.get("recalls_ok") == 1


async def test_recall_is_refused_by_a_box_without_control_register() -> None:
    async with rig_running(VENDOR, start_floor=6) as rig:
        result = await rig.driver.recall(by="guard:wang", reason="fire linkage")
        assert result.outcome == "refused" and result.code == "no_control"
        assert "没有控制寄存器" in result.message and "no control register" in result.message
        (event,) = rig.rec.of(ELEVATOR_RECALL)
        assert event.data["result"] == "refused"
        await rig.advance(10.0, step=5.0)
        assert rig.car.floor == 6 and rig.box.writes == []


async def test_recall_is_refused_in_inspection_and_needs_who_and_why() -> None:
    async with rig_running(start_floor=6) as rig:
        with pytest.raises(ValueError, match="by"):
            await rig.driver.recall(by="", reason="fire")
        await rig.car.set_inspection(True)
        await rig.polls()
        result = await rig.driver.recall(by="console:li", reason="drill")
        assert (result.outcome, result.code) == ("refused", "inspection")
        assert "检修" in result.message
        assert rig.box.writes == []


async def test_recall_to_an_offline_box_is_refused_and_a_failed_write_is_reported() -> None:
    async with rig_running(start_floor=6) as rig:
        rig.box.set_fault("exception", exception_code=4)
        await rig.until(lambda: rig.driver.online is False)
        result = await rig.driver.recall(by="console:li", reason="drill")
        assert (result.outcome, result.code) == ("refused", "offline")
        rig.box.set_fault("none")
        await rig.until(lambda: rig.driver.online is True)
        rig.box.set_fault("exception", requests=1, exception_code=4)
        result = await rig.driver.recall(by="console:li", reason="drill")
        assert (result.outcome, result.code) == ("failed", "exception")
        assert [e.data["result"] for e in rig.rec.of(ELEVATOR_RECALL)] == ["refused", "failed"]


async def test_dead_box_goes_offline_once_and_comes_back() -> None:
    """The converter's TCP port goes away and comes back."""
    async with rig_running() as rig:
        await rig.sim.stop()
        await rig.until(lambda: rig.driver.online is False)
        await rig.polls(5)
        (offline,) = rig.rec.of(Kind.DEVICE_OFFLINE)
        assert offline.data["reason"] in ("bus_down", "timeout")
        assert offline.data["message"].startswith("电梯监测终端离线")
        assert rig.driver.state.mode == Mode.OFFLINE
        assert rig.rec.of(ELEVATOR_STATE)[-1].data["mode"] == "offline"
        await rig.sim.start()
        rig.clock.advance(1.0)  # the link's reconnect back-off runs on the same clock
        await rig.until(lambda: rig.driver.online is True)
        # The driver's events leave through its ordered queue, a moment after the state flips.
        await rig.until(lambda: Kind.DEVICE_ONLINE in rig.rec.kinds()[2:])
        await rig.polls(2)
        assert rig.rec.kinds() == [Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE]
        assert rig.driver.state.mode == Mode.NORMAL
        assert rig.stats.get("connects") >= 2


async def test_a_silent_box_goes_offline_after_three_silent_polls() -> None:
    async with rig_running() as rig:
        rig.box.set_fault("no_reply")
        await rig.until(lambda: rig.driver.online is False)
        await rig.until(lambda: bool(rig.rec.of(Kind.DEVICE_OFFLINE)))  # queued, then recorded
        (offline,) = rig.rec.of(Kind.DEVICE_OFFLINE)
        assert offline.data["reason"] == "timeout"
        rig.box.set_fault("none")
        await rig.until(lambda: rig.driver.online is True)
        assert rig.stats.get("poll_timeouts") >= 3


async def test_exception_and_garbage_replies_are_counted_and_polling_goes_on() -> None:
    async with rig_running() as rig:
        rig.box.set_fault("exception", requests=2)
        await rig.until(lambda: rig.stats.get("poll_exceptions") == 2)
        good = rig.stats.get("polls_ok")
        await rig.until(lambda: rig.stats.get("polls_ok") > good)
        rig.box.set_fault("garbage", requests=2)
        await rig.until(lambda: rig.stats.get("poll_garbage") >= 2)
        await rig.polls(3)
        assert rig.rec.of(Kind.DEVICE_OFFLINE) == [], "fewer than 3 bad polls in a row"
        await rig.car.call(2)
        await rig.advance(DOOR_S + FLOOR_S + DOOR_S)
        assert rig.driver.state.floor == 2 and rig.driver.state.door == Door.OPEN
        assert rig.stats.get("poll_errors") == 0
        (warning, *_) = [e for e in rig.logs if e.get("event") == "elevator box unreadable"]
        assert warning["device"] == "elev-3-a" and warning["building"] == "3"
