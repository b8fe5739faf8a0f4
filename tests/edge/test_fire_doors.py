"""Fire linkage unlocks egress doors for real: the linkage engine, ``EgressDoors`` and the
微耕/UHPPOTE driver against two simulated controllers over UDP.

Building 1's egress doors are 1-east and 1-west (controller c1, doors 1 and 2); 1-lobby (c1
door 3) is not an egress door; building 2's egress door is 2-east (c2 door 1).
"""

from __future__ import annotations

import time
from pathlib import Path

from edge.linkage.doors import EgressDoors
from simulators.access import uhppote_wire as w
from tests.edge.linkage.conftest import Site, fire, running
from tests.support.uhppote_rig import Rig, rig


def modes(r: Rig) -> dict[str, int]:
    c1, c2 = r.sims["c1"].state.doors, r.sims["c2"].state.doors
    return {"1-east": c1[1].mode, "1-west": c1[2].mode, "1-lobby": c1[3].mode,
            "2-east": c2[1].mode, "2-garage": c2[2].mode}


CONTROLLED = {d: w.CONTROLLED for d in ("1-east", "1-west", "1-lobby", "2-east", "2-garage")}


async def test_fire_in_building_1_opens_its_egress_doors_only_and_reset_restores(
        tmp_path: Path) -> None:
    async with rig() as r:
        assert r.driver is not None
        site = Site(tmp_path)
        doors = EgressDoors(r.config.doors, r.driver)
        site.doors = doors
        assert modes(r) == CONTROLLED
        async with running(site.linkage(action_timeout=2.0)) as linkage:
            started = time.monotonic()
            linkage.notice(fire("1"))
            await linkage.wait_idle()
            took = time.monotonic() - started
            assert modes(r) == {**CONTROLLED, "1-east": w.NORMALLY_OPEN,
                                "1-west": w.NORMALLY_OPEN}
            assert took < 2.0, f"egress doors took {took:.2f} s"
            action = site.outbox.actions()[("unlock_doors", "1")]
            assert action["result"] == "ok"
            assert "1-east ok" in action["detail"] and "1-west ok" in action["detail"]
            assert {d: res.result for d, res in doors.results.items()} == {
                "1-east": "ok", "1-west": "ok"}
            assert r.sims["c1"].state.relays() & 0b011 == 0b011   # both locks released

            result = await linkage.reset(by="guard-07", reason="现场确认 / all clear")
            assert result["result"] == "ok"
            assert modes(r) == CONTROLLED


async def test_a_door_on_a_silent_controller_fails_alone(tmp_path: Path) -> None:
    async with rig() as r:
        assert r.driver is not None
        r.sims["c1"].answering = False
        doors = EgressDoors(r.config.doors, r.driver, timeout=0.8)
        outcome = await doors.unlock_egress("*", by="linkage", reason="fire")
        assert outcome.result == "failed"
        assert {d: res.result for d, res in doors.results.items()} == {
            "1-east": "failed", "1-west": "failed", "2-east": "ok"}
        assert modes(r)["2-east"] == w.NORMALLY_OPEN
        assert "1/3" in outcome.detail


async def test_restore_returns_a_locked_down_door_to_normally_closed(tmp_path: Path) -> None:
    async with rig() as r:
        assert r.driver is not None
        await r.driver.set_door_mode("2-east", "normally_closed")
        doors = EgressDoors(r.config.doors, r.driver)
        assert (await doors.unlock_egress("2", by="linkage", reason="fire")).result == "ok"
        assert modes(r)["2-east"] == w.NORMALLY_OPEN
        assert (await doors.restore("2", by="guard")).result == "ok"
        assert modes(r)["2-east"] == w.NORMALLY_CLOSED
        outcome = await doors.unlock_egress("9", by="linkage", reason="fire")
        assert outcome.result == "noop"
