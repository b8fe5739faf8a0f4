"""Safety rules under random scenarios: the controller drives the simulator's board model
directly (its public wire view, no sockets), so hundreds of scenarios run in seconds. The
wire itself is covered by the Modbus TCP tests next to this file."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import FakeClock, NewEvent
from drivers.base import DriverStats
from drivers.gate import GateCommandError, GateController, GateInputs, GateState
from drivers.gate.model import Command
from simulators.gate import BarrierSimulator
from tests.drivers.gate.conftest import spec

COILS = {"open": 0, "close": 1, "stop": 2}


class BoardIO:
    """GateIO straight onto the simulated board: a press is coil on, then off."""

    def __init__(self, sim: BarrierSimulator) -> None:
        self.sim = sim

    async def command(self, command: Command) -> None:
        coil = COILS[command]
        assert self.sim.write_coils(coil, [True]) is None
        assert self.sim.write_coils(coil, [False]) is None

    def inputs(self) -> GateInputs:
        bits = self.sim.read_bits(2, 0, 3)
        assert isinstance(bits, list)
        return GateInputs(open_limit=bits[0], closed_limit=bits[1], loop=bits[2])


# Opens, closes and vehicles often; jams, holds and read failures now and then.
STEPS = st.sampled_from(
    [("advance", dt) for dt in (0.05, 0.2, 0.3, 0.5, 1.0, 3.0)]
    + [(a, 0.0) for a in ("enter", "leave", "open", "close") for _ in range(2)]
    + [(a, 0.0) for a in ("hold", "release", "jam", "free", "unreadable")])


async def scenario(steps: list[tuple[str, float]]) -> None:
    clock = FakeClock()
    sim = BarrierSimulator(tcp=("127.0.0.1", 1), travel_s=1.0, clock=clock.monotonic)
    opened: list[NewEvent] = []

    async def emit(event: NewEvent) -> None:
        opened.append(event)

    io = BoardIO(sim)
    gate = GateController(spec(confirm_timeout=2.0, auto_close=0.5).behaviour, io, emit,
                          clock, DriverStats())
    held_since: int | None = None
    await gate.observe(io.inputs())
    for action, dt in steps:
        readable = True
        if action == "advance":
            clock.advance(dt)
        elif action == "enter":
            await sim.vehicle_enters_loop()
        elif action == "leave":
            await sim.vehicle_leaves_loop()
        elif action == "open":
            await gate.open(cause="plate")
        elif action == "close":
            try:
                await gate.close(cause="remote", by="console")
            except GateCommandError:
                assert gate.held
        elif action == "hold":
            await gate.hold_open("火警 / fire")
            held_since = len(sim.commands) if held_since is None else held_since
        elif action == "release":
            await gate.release()
            held_since = None
        elif action == "jam":
            await sim.jam()
        elif action == "free":
            await sim.free()
        else:
            readable = False
        await gate.observe(io.inputs() if readable else None)

        # Rule 2: a close is never pressed while the loop is occupied.
        assert not [c for c in sim.presses("close") if c.loop_occupied]
        # Rule 1: a reading that shows a vehicle leaves no arm coming down.
        if readable and sim.loop_occupied:
            assert sim.moving != -1
        # Rule 5: nothing closes a held gate.
        if held_since is not None:
            assert not [c for c in sim.commands[held_since:] if c.command == "close"]
        # Never claim a position without a reading.
        if not readable:
            assert gate.state == GateState.UNKNOWN


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEPS, min_size=4, max_size=60))
def test_safety_rules_hold_in_any_scenario(steps: list[tuple[str, float]]) -> None:
    asyncio.run(scenario(steps))
