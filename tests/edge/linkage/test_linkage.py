"""A fire alarm becomes actions at the edge: doors, gates, elevators, the alarm; a guard
resets it. The gates are the real controllers on a fake relay board."""

from __future__ import annotations

import asyncio

from contract import NewEvent, Priority
from drivers.elevator.model import RecallResult
from edge.linkage import NO_DOOR_DRIVER, LinkageRule
from edge.linkage.actions import GATE_CANNOT_HOLD
from tests.edge.linkage.conftest import (
    T0,
    Doors,
    Elevator,
    Recall,
    Site,
    fire,
    panel_reset,
    running,
)

EVERYTHING_IN_1 = {("alarm", "1"), ("unlock_doors", "1"), ("raise_gate", "gate-in"),
                   ("raise_gate", "gate-out"), ("raise_gate", "gate-cam"),
                   ("recall_elevator", "A1"), ("recall_elevator", "A2")}


async def test_fire_in_building_1_triggers_every_action_of_building_1(site: Site) -> None:
    ev = fire("1")
    async with running(site.linkage()) as linkage:
        linkage.notice(ev)
        await linkage.wait_idle()

        [triggered] = site.outbox.of("linkage.triggered")
        t = triggered.data
        assert t["building"] == "1" and t["cause_event"] == ev.id and t["joined"] is False
        assert t["location"]["floor"] == "3"
        assert {(a["action"], a["target"]) for a in t["actions"]} == EVERYTHING_IN_1
        assert triggered.priority == Priority.ALARM

        done = site.outbox.actions()
        assert set(done) == EVERYTHING_IN_1
        for data in done.values():
            assert data["incident"] == t["incident"] and data["cause_event"] == ev.id
            assert data["cause_kind"] == "fire.alarm" and data["rule"] == "fire-default"
        assert all(e.priority == Priority.ALARM for e in site.outbox.of("linkage.action"))

        assert done[("unlock_doors", "1")]["result"] == "noop"
        assert done[("unlock_doors", "1")]["detail"] == NO_DOOR_DRIVER
        assert done[("alarm", "1")]["result"] == "ok"
        for g in ("gate-in", "gate-out"):
            assert done[("raise_gate", g)]["result"] == "ok"
            assert site.gates[g].held
            assert site.boards[g].pulses == ["open"]
        # The camera relay cannot hold a gate open: said so, not pretended.
        assert done[("raise_gate", "gate-cam")]["result"] == "noop"
        assert done[("raise_gate", "gate-cam")]["detail"] == GATE_CANNOT_HOLD
        assert done[("recall_elevator", "A1")]["result"] == "ok"
        assert done[("recall_elevator", "A1")]["building"] == "1"
        assert len(site.elevators["A1"].calls) == len(site.elevators["A2"].calls) == 1
        assert site.elevators["B1"].calls == []
        assert site.elevators["A1"].calls[0]["by"] == "linkage:fire-default"
        assert "1号楼" in site.elevators["A1"].calls[0]["reason"]
        # The gates recorded their fire opening themselves.
        assert {e.data["gate"] for e in site.outbox.of("gate.opened")
                if e.data["cause"] == "fire"} == {"gate-in", "gate-out"}

        status = linkage.status()
        assert status["active"] is True
        [incident] = status["incidents"]
        assert incident["id"] == t["incident"] and incident["buildings"] == ["1"]
        assert {(a["action"], a["target"]): a["state"] for a in incident["actions"]}[
            ("raise_gate", "gate-in")] == "ok"


async def test_a_door_driver_unlocks_and_restores_the_building(site: Site) -> None:
    doors = Doors()
    site.doors = doors
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        done = site.outbox.actions()
        assert done[("unlock_doors", "1")]["result"] == "ok"
        assert doors.calls == [("unlock", "1")]

        result = await linkage.reset(by="guard-07", reason="现场确认误报 / false alarm")
        assert result["result"] == "ok"
        assert doors.calls == [("unlock", "1"), ("restore", "1")]
        restored = {r["target"]: r for r in result["results"] if r["action"] == "restore_doors"}
        assert restored["1"]["result"] == "ok"


async def test_a_failing_door_driver_is_retried_once_and_reported(site: Site) -> None:
    doors = Doors(fail=True)
    site.doors = doors
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        data = site.outbox.actions()[("unlock_doors", "1")]
        assert data["result"] == "failed" and data["attempts"] == 2
        assert "门禁控制器离线" in data["detail"]
        assert doors.calls == [("unlock", "1"), ("unlock", "1")]


async def test_a_refused_or_silent_elevator_does_not_hold_up_the_rest(site: Site) -> None:
    site.elevators["A1"] = Elevator("A1", "1", Recall("refused", "检修状态，拒绝迫降 / in "
                                                                 "inspection: recall refused"))
    site.elevators["A2"] = Elevator("A2", "1", "hang")
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        done = site.outbox.actions()
        a1, a2 = done[("recall_elevator", "A1")], done[("recall_elevator", "A2")]
        assert a1["result"] == "refused" and "检修" in a1["detail"] and a1["attempts"] == 1
        assert len(site.elevators["A1"].calls) == 1      # a refusal is an answer: no retry
        assert a2["result"] == "failed" and "no answer" in a2["detail"] and a2["attempts"] == 2
        assert len(site.elevators["A2"].calls) == 2      # silence: tried once more
        assert done[("raise_gate", "gate-in")]["result"] == "ok"
        assert done[("alarm", "1")]["result"] == "ok"
        assert site.gates["gate-out"].held


async def test_an_elevator_error_is_retried_and_can_succeed(site: Site) -> None:
    site.elevators["A1"] = Elevator("A1", "1", ConnectionResetError("peer reset"),
                                    Recall("ok", "已迫降 / recalled"))
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        a1 = site.outbox.actions()[("recall_elevator", "A1")]
        assert a1["result"] == "ok" and a1["attempts"] == 2


async def test_the_elevator_drivers_own_answers_are_understood(site: Site) -> None:
    """drivers.elevator answers with ``outcome`` + ``message`` (its ``reason`` is ours)."""
    refused = RecallResult(outcome="refused", code="inspection",
                           message="电梯检修中，不能召回 / in inspection: cannot recall",
                           by="linkage:fire-default", reason="火警联动", target_floor=1)
    site.elevators["A1"] = Elevator("A1", "1", refused)
    site.elevators["A2"] = Elevator("A2", "1", RecallResult(
        outcome="ok", code="ok", message="已召回至 1 层 / recalled to floor 1",
        by="linkage:fire-default", reason="火警联动", target_floor=1))
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        done = site.outbox.actions()
        a1, a2 = done[("recall_elevator", "A1")], done[("recall_elevator", "A2")]
        assert a1["result"] == "refused" and a1["detail"].startswith("电梯检修中")
        assert a2["result"] == "ok" and "recalled to floor 1" in a2["detail"]


async def test_an_unreachable_gate_board_fails_that_gate_only(site: Site) -> None:
    site.boards["gate-in"].down = True
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        done = site.outbox.actions()
        assert done[("raise_gate", "gate-in")]["result"] == "failed"
        assert "relay board" in done[("raise_gate", "gate-in")]["detail"]
        assert done[("raise_gate", "gate-out")]["result"] == "ok"
        # The hold stands in the controller: it reopens the gate once the board answers.
        assert site.gates["gate-in"].held


async def test_second_alarm_same_building_repeats_nothing_new_building_adds_its_own(
        site: Site) -> None:
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1", floor="3"))
        await linkage.wait_idle()
        first = site.outbox.actions()
        pulses = {g: list(b.pulses) for g, b in site.boards.items()}

        linkage.notice(fire("1", floor="5", zone=9))      # another detector, same building
        await linkage.wait_idle()
        assert site.outbox.actions() == first
        assert len(site.outbox.of("linkage.triggered")) == 1
        assert len(site.elevators["A1"].calls) == 1
        assert {g: b.pulses for g, b in site.boards.items()} == pulses

        ev2 = fire("2")
        linkage.notice(ev2)
        await linkage.wait_idle()
        triggered = site.outbox.of("linkage.triggered")
        assert len(triggered) == 2
        joined = triggered[1].data
        assert joined["joined"] is True and joined["building"] == "2"
        assert joined["incident"] == triggered[0].data["incident"]
        assert {(a["action"], a["target"]) for a in joined["actions"]} == {
            ("alarm", "2"), ("unlock_doors", "2"), ("recall_elevator", "B1")}
        added = set(site.outbox.actions()) - set(first)
        assert added == {("alarm", "2"), ("unlock_doors", "2"), ("recall_elevator", "B1")}
        assert site.outbox.actions()[("recall_elevator", "B1")]["cause_event"] == ev2.id
        assert len(site.elevators["A1"].calls) == 1
        assert {g: b.pulses for g, b in site.boards.items()} == pulses   # gates not re-raised

        [incident] = linkage.status()["incidents"]
        assert incident["buildings"] == ["1", "2"] and incident["cause_count"] == 3


async def test_an_action_that_failed_is_tried_again_on_the_next_alarm(site: Site) -> None:
    site.elevators["A1"] = Elevator("A1", "1", "hang", "hang", Recall("ok", "已迫降 / ok"))
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        [a1] = [e.data for e in site.outbox.of("linkage.action")
                if e.data["target"] == "A1"]
        assert a1["result"] == "failed"
        n = len(site.outbox.of("linkage.action"))

        linkage.notice(fire("1", floor="4"))
        await linkage.wait_idle()
        again = site.outbox.of("linkage.action")[n:]
        assert [(e.data["target"], e.data["result"]) for e in again] == [("A1", "ok")]
        [incident] = linkage.status()["incidents"]
        state = {(a["action"], a["target"]): a["state"] for a in incident["actions"]}
        assert state[("recall_elevator", "A1")] == "ok"


async def test_reset_releases_gates_and_is_recorded(site: Site) -> None:
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        incident = linkage.status()["incidents"][0]["id"]

        result = await linkage.reset(by="guard-07", reason="消防确认已处置 / cleared by brigade")
        assert result["result"] == "ok" and result["incident"] == incident
        assert not site.gates["gate-in"].held and not site.gates["gate-out"].held
        released = {r["target"]: r["result"] for r in result["results"]
                    if r["action"] == "release_gate"}
        assert released == {"gate-in": "ok", "gate-out": "ok", "gate-cam": "noop"}

        [reset] = site.outbox.of("linkage.reset")
        assert reset.data["incident"] == incident and reset.data["by"] == "guard-07"
        assert reset.data["reason"] == "消防确认已处置 / cleared by brigade"
        assert {(r["action"], r["target"], r["result"]) for r in reset.data["results"]} >= {
            ("release_gate", "gate-in", "ok"), ("restore_doors", "1", "noop")}
        assert reset.priority == Priority.ALARM

        status = linkage.status()
        assert status["active"] is False and status["incidents"] == []
        assert status["last_reset"]["by"] == "guard-07"

        # A gate released by the reset closes again by the normal rules.
        await site.gates["gate-in"].close(cause="remote", by="console")

        # The next fire is a new incident, and does everything again.
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        triggered = site.outbox.of("linkage.triggered")
        assert len(triggered) == 2 and triggered[1].data["incident"] != incident
        assert triggered[1].data["joined"] is False
        assert site.gates["gate-in"].held
        assert len(site.elevators["A1"].calls) == 2


async def test_reset_with_nothing_active_is_refused(site: Site) -> None:
    async with running(site.linkage()) as linkage:
        result = await linkage.reset(by="guard-07", reason="测试 / test")
        assert result["result"] == "refused"
        assert "no linkage is active" in result["reason"]
        assert site.outbox.of("linkage.reset") == []


class SlowGate:
    """A gate whose hold takes effect only when ``go`` is set (a slow board)."""

    def __init__(self) -> None:
        self.held = False
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def hold_open(self, reason: str, *, by: str | None = None) -> None:
        self.entered.set()
        await self.go.wait()
        self.held = True

    async def release(self, *, by: str | None = None) -> None:
        self.held = False


async def test_reset_waits_for_a_gate_still_being_raised(site: Site) -> None:
    """A reset while a gate is still being raised must not leave it held afterwards."""
    slow = SlowGate()
    site.gates["gate-slow"] = slow
    async with running(site.linkage(action_timeout=10)) as linkage:
        linkage.notice(fire("1"))
        await slow.entered.wait()
        reset = asyncio.create_task(linkage.reset(by="guard-07", reason="误报 / false alarm"))
        await asyncio.sleep(0.01)      # the reset is under way; the hold is not done yet
        slow.go.set()
        result = await reset
        await linkage.wait_idle()
        assert result["result"] == "ok"
        assert not slow.held
        assert not site.gates["gate-in"].held and not site.gates["gate-out"].held
        released = {r["target"]: r["result"] for r in result["results"]}
        assert released["gate-slow"] == "ok"


class FailingLift(Elevator):
    """Answers ``failed`` once ``answer`` is set."""

    def __init__(self) -> None:
        super().__init__("A1", "1")
        self.answer = asyncio.Event()

    async def recall(self, *, by: str, reason: str) -> Recall:
        self.calls.append({"by": by, "reason": reason})
        self.called.set()
        await self.answer.wait()
        return Recall("failed", "通信中断 / link lost")


async def test_no_retry_after_a_reset(site: Site) -> None:
    lift = FailingLift()
    site.elevators["A1"] = lift
    async with running(site.linkage(action_timeout=10)) as linkage:
        linkage.notice(fire("1"))
        await lift.called.wait()
        await linkage.reset(by="guard-07", reason="误报 / false alarm")
        lift.answer.set()
        await linkage.wait_idle()
        assert len(lift.calls) == 1
        a1 = site.outbox.actions()[("recall_elevator", "A1")]
        assert a1["result"] == "failed" and a1["attempts"] == 1


async def test_actions_do_not_wait_for_a_slow_outbox(site: Site) -> None:
    """With storage stuck, the elevators are still recalled (their reports wait)."""
    site.outbox.hold = asyncio.Event()
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        async with asyncio.timeout(10):
            await site.elevators["A1"].called.wait()
            await site.elevators["A2"].called.wait()
        assert site.outbox.events == []
        site.outbox.hold.set()
        await linkage.wait_idle()
        assert site.outbox.actions()[("recall_elevator", "A1")]["result"] == "ok"


async def test_a_broken_outbox_does_not_stop_linkage(site: Site) -> None:
    site.outbox.fail = True
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        assert site.gates["gate-in"].held         # fire opens even when it cannot record
        assert site.boards["gate-in"].pulses == ["open"]
        assert len(site.elevators["A1"].calls) == 1
        [incident] = linkage.status()["incidents"]
        state = {(a["action"], a["target"]): a["state"] for a in incident["actions"]}
        assert state[("alarm", "1")] == "failed"
        assert state[("recall_elevator", "A1")] == "ok"


async def test_unknown_location_unlocks_everything_and_recalls_every_elevator(
        site: Site) -> None:
    doors = Doors()
    site.doors = doors
    async with running(site.linkage()) as linkage:
        linkage.notice(fire(None))
        await linkage.wait_idle()
        done = site.outbox.actions()
        assert done[("unlock_doors", "*")]["result"] == "ok"
        assert doors.calls == [("unlock", "*")]
        assert {t for a, t in done if a == "recall_elevator"} == {"A1", "A2", "B1"}
        [triggered] = site.outbox.of("linkage.triggered")
        assert triggered.data["building"] is None

        # Building 1 later: already covered, only its own alarm is raised.
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        assert doors.calls == [("unlock", "*")]
        assert set(site.outbox.actions()) - set(done) == {("alarm", "1")}


async def test_rules_limit_buildings_gates_and_actions(site: Site) -> None:
    rules = [LinkageRule(id="b2-only", buildings=("2",), raise_gates=("gate-out",),
                         unlock_doors=False)]
    async with running(site.linkage(rules)) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        assert site.outbox.events == []

        linkage.notice(fire("2"))
        await linkage.wait_idle()
        assert set(site.outbox.actions()) == {
            ("alarm", "2"), ("raise_gate", "gate-out"), ("recall_elevator", "B1")}
        assert not site.gates["gate-in"].held


async def test_rule_without_alarm_records_the_start_without_raising_it(site: Site) -> None:
    rules = [LinkageRule(id="quiet", alarm=False, raise_gates=())]
    async with running(site.linkage(rules)) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        [triggered] = site.outbox.of("linkage.triggered")
        assert triggered.priority == Priority.ACCESS and triggered.data["alarm"] is False
        assert set(site.outbox.actions()) == {
            ("unlock_doors", "1"), ("recall_elevator", "A1"), ("recall_elevator", "A2")}


async def test_test_mode_alarms_trigger_unless_the_rule_excludes_them(site: Site) -> None:
    async with running(site.linkage([LinkageRule(id="real-only", include_test_mode=False)])) \
            as linkage:
        linkage.notice(fire("1", test_mode=True))
        await linkage.wait_idle()
        assert site.outbox.events == []
    async with running(site.linkage(state_file=False)) as linkage:
        linkage.notice(fire("1", test_mode=True))
        await linkage.wait_idle()
        [triggered] = site.outbox.of("linkage.triggered")
        assert triggered.data["test_mode"] is True


async def test_a_panel_reset_resets_linkage_only_when_the_rule_says_so(site: Site) -> None:
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        linkage.notice(panel_reset())
        await linkage.wait_idle()
        assert linkage.status()["active"] is True
        assert site.gates["gate-in"].held

    site.rebuild_gates()
    site.state_file.unlink()
    site.outbox.events.clear()
    rules = [LinkageRule(id="auto", reset_on_panel_reset=True)]
    async with running(site.linkage(rules)) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        linkage.notice(panel_reset("uitd-1"))
        await linkage.wait_idle()
        assert linkage.status()["active"] is False
        [reset] = site.outbox.of("linkage.reset")
        assert reset.data["by"] == "panel:uitd-1"
        assert not site.gates["gate-in"].held


async def test_alarms_before_run_starts_are_not_lost(site: Site) -> None:
    linkage = site.linkage()
    ev = fire("1")
    linkage.notice(ev)
    async with running(linkage):
        await linkage.wait_idle()
        [triggered] = site.outbox.of("linkage.triggered")
        assert triggered.data["cause_event"] == ev.id
        assert site.gates["gate-in"].held


async def test_events_that_are_not_fire_alarms_do_nothing(site: Site) -> None:
    async with running(site.linkage()) as linkage:
        linkage.notice(NewEvent(device="m1", kind="meter.reading", ts=T0, data={"v": 1}))
        linkage.notice(NewEvent(device="uitd-1", kind="fire.fault", ts=T0,
                                data={"location": {"building": "1"}}))
        linkage.notice(panel_reset())
        await linkage.wait_idle()
        assert site.outbox.events == []
        assert linkage.status()["active"] is False
