"""``gate.close`` through the real gate driver and barrier simulator: it closes, and is
refused while fire linkage holds the barrier open."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from contract.commands import Command, CommandKind, CommandResult, encode_command, new_cmd_id
from edge.commands import CommandRunner, Targets, handlers
from tests.drivers.gate.conftest import TRAVEL_S, Rig, rig_running

GATE = "gate-out-1"


def close(rig: Rig) -> Command:
    return Command(cmd_id=new_cmd_id(), kind=CommandKind.GATE_CLOSE, issued_by="staff:9",
                   not_after=rig.clock.now() + timedelta(seconds=30), args={"gate": GATE})


async def test_gate_close_closes_and_is_refused_while_held_for_fire(tmp_path: Path) -> None:
    async with rig_running() as rig:
        await rig.polls()
        runner = await CommandRunner.open(tmp_path / "c.db",
                                          handlers(Targets(gates=lambda: {GATE: rig.gate})),
                                          rig.clock, site="gates")
        try:
            await rig.gate.hold_open("火警联动 / fire linkage", cause="fire")
            await rig.advance(TRAVEL_S + 0.1)
            held = await runner.handle(encode_command(close(rig)))
            assert held is not None and held.result == CommandResult.REFUSED
            assert "held open" in held.detail and rig.sim.presses("close") == []

            await rig.gate.release()
            done = await runner.handle(encode_command(close(rig)))
            assert done is not None and done.result == CommandResult.OK, done
            await rig.until(lambda: len(rig.sim.presses("close")) == 1)
            await rig.advance(TRAVEL_S + 0.1)
            [closed] = [e for e in rig.rec.of("gate.closed") if e.data.get("cause") == "remote"]
            assert closed.data["by"] == "staff:9"
        finally:
            await runner.aclose()
