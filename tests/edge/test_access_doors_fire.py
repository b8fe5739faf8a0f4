"""A guard may not lock an egress door that fire linkage holds open: ``door.mode`` on a
微耕/UHPPOTE door is refused with the reason while the linkage holds it, the door stays
normally open on the controller, and once the linkage is reset the door takes modes again.
Doors the fire did not open (another building's, a non-egress door) answer as usual."""

from __future__ import annotations

import pytest

from contract.commands import DoorMode
from edge.access.egress import LinkageHold
from edge.access_doors import command_doors
from edge.linkage.doors import EgressDoors
from simulators.access import uhppote_wire as w
from tests.support.uhppote_rig import rig

BY, WHY = "guard-07", "测试 / test"


async def test_door_mode_is_refused_on_an_egress_door_fire_linkage_holds_open() -> None:
    async with rig() as r:
        assert r.driver is not None
        hold = LinkageHold(r.driver)
        egress = EgressDoors(r.config.doors, hold)
        doors = command_doors(r.driver, hold.held)
        c1, c2 = r.sims["c1"].state.doors, r.sims["c2"].state.doors

        outcome = await egress.unlock_egress("1", by="linkage", reason="fire")
        assert outcome.result == "ok", outcome
        assert (c1[1].mode, c1[2].mode) == (w.NORMALLY_OPEN, w.NORMALLY_OPEN)
        assert hold.held == {"1-east", "1-west"}
        for mode in (DoorMode.NORMALLY_CLOSED, DoorMode.CONTROLLED):
            with pytest.raises(ValueError, match="火警联动"):
                await doors["1-east"].set_mode(mode, by=BY, reason=WHY)
        assert c1[1].mode == w.NORMALLY_OPEN, "the egress door stayed open"
        # Holding it open is what the fire wants: allowed. Other doors answer as usual.
        assert "常开" in await doors["1-west"].set_mode(DoorMode.NORMALLY_OPEN, by=BY,
                                                        reason=WHY)
        await doors["2-east"].set_mode(DoorMode.NORMALLY_CLOSED, by=BY, reason=WHY)
        await doors["1-lobby"].set_mode(DoorMode.NORMALLY_CLOSED, by=BY, reason=WHY)
        assert (c2[1].mode, c1[3].mode) == (w.NORMALLY_CLOSED, w.NORMALLY_CLOSED)

        outcome = await egress.restore("1", by="guard-07")
        assert outcome.result == "ok", outcome
        assert hold.held == set()
        await doors["1-east"].set_mode(DoorMode.NORMALLY_CLOSED, by=BY, reason=WHY)
        assert c1[1].mode == w.NORMALLY_CLOSED
