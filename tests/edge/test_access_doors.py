"""door.open / door.mode reach a simulated 微耕/UHPPOTE controller through the doors the
edge registers; an offline controller is refused before anything is sent."""

from __future__ import annotations

import pytest

from contract import Kind
from contract.commands import DoorMode
from edge.access_doors import command_doors
from edge.commands import DoorRegistry
from simulators.access import uhppote_wire as w
from tests.support.uhppote_rig import rig


async def test_commands_open_a_door_and_set_its_mode() -> None:
    async with rig() as r:
        assert r.driver is not None
        registry = DoorRegistry()
        for key, handle in command_doors(r.driver).items():
            registry.register(key, handle)
        assert list(registry) == ["1-east", "1-lobby", "1-west", "2-east", "2-garage"]
        door = registry.get("2-garage")
        assert door is not None
        detail = await door.open(by="guard-07", reason="住户忘带卡 / resident without card")
        assert "2-garage" in detail and r.sims["c2"].state.doors[2].unlocked
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_GRANTED)), what="remote open")
        assert r.outbox.of(Kind.ACCESS_GRANTED)[0].device == "2-garage"
        detail = await door.set_mode(DoorMode.NORMALLY_OPEN, by="guard-07", reason="搬家 / move")
        assert "常开" in detail and r.sims["c2"].state.doors[2].mode == w.NORMALLY_OPEN


async def test_an_offline_controller_is_refused() -> None:
    async with rig() as r:
        assert r.driver is not None
        r.sims["c1"].answering = False
        await r.until(lambda: r.driver is not None and r.driver.online["c1"] is False,
                      what="c1 offline")
        door = command_doors(r.driver)["1-east"]
        with pytest.raises(LookupError, match="离线"):
            await door.open(by="guard-07", reason="test")
