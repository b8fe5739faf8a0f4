"""BusLink.write_register / write_registers against the simulated box: same failure mapping as
reads (exception, garbage, silence, a dead connection), and over RTU with the silent gap."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from contract import SystemClock
from drivers.base import DriverStats
from drivers.modbus.link import BusDown, BusLink, ExceptionReply, GarbageReply, NoReply
from drivers.modbus.model import RtuBus, TcpBus
from simulators.elevator import ElevatorBox, ElevatorSimulator, SimCar
from simulators.pty import pty_pair
from tests.support import services

CONTROL = 0x0020
UNIT = 5


def box() -> ElevatorBox:
    return ElevatorBox.from_profile(UNIT, "generic", SimCar(start_floor=4))


@pytest.fixture
async def tcp() -> AsyncIterator[tuple[ElevatorSimulator, BusLink, DriverStats]]:
    port = services.free_port()
    stats = DriverStats()
    link = BusLink(TcpBus(id="t", host="127.0.0.1", port=port, timeout=0.3), SystemClock(),
                   stats, structlog.get_logger("test"))
    async with ElevatorSimulator([box()], tcp=("127.0.0.1", port)) as sim:
        yield sim, link, stats
        await link.close()


async def test_single_and_multiple_register_writes_reach_the_box(
        tcp: tuple[ElevatorSimulator, BusLink, DriverStats]) -> None:
    sim, link, stats = tcp
    await link.write_register(CONTROL, 1, UNIT)
    assert sim.box(UNIT).holding[CONTROL] == 1
    assert sim.box(UNIT).car.recalled
    await link.write_registers(CONTROL, [0], UNIT)
    assert sim.box(UNIT).writes == [(CONTROL, 1), (CONTROL, 0)]
    assert not sim.box(UNIT).car.recalled
    assert stats.get("requests") == 2
    with pytest.raises(ValueError):
        await link.write_register(CONTROL, 0x10000, UNIT)


async def test_a_refused_write_is_an_exception_reply_and_the_link_stays_usable(
        tcp: tuple[ElevatorSimulator, BusLink, DriverStats]) -> None:
    sim, link, _ = tcp
    with pytest.raises(ExceptionReply) as refused:
        await link.write_register(0x0003, 1, UNIT)  # the door register is read-only
    assert refused.value.code == 2
    assert await link.read(3, 0x0002, 1, UNIT) == [4]  # floor 4, same connection
    sim.box(UNIT).set_fault("exception", requests=1, exception_code=6)
    with pytest.raises(ExceptionReply) as busy:
        await link.write_register(CONTROL, 1, UNIT)
    assert busy.value.code == 6


async def test_silence_garbage_and_a_dead_port(
        tcp: tuple[ElevatorSimulator, BusLink, DriverStats]) -> None:
    sim, link, _ = tcp
    sim.box(UNIT).set_fault("no_reply", requests=1)
    with pytest.raises(NoReply):
        await link.write_register(CONTROL, 1, UNIT, wait_s=0.1)
    sim.box(UNIT).set_fault("garbage", requests=1)
    with pytest.raises(GarbageReply):
        await link.write_register(CONTROL, 1, UNIT)
    await link.write_register(CONTROL, 1, UNIT)  # and then it works again
    await sim.stop()
    with pytest.raises((NoReply, BusDown)):  # a stopped server may leave the socket half-open
        await link.write_register(CONTROL, 1, UNIT)
    await link.close()
    with pytest.raises(BusDown):  # nobody listens: the reconnect is refused
        await link.write_register(CONTROL, 1, UNIT)


async def test_write_then_read_over_modbus_rtu(tmp_path: Path) -> None:
    services.need(shutil.which("socat") is not None, "socat (apt-get install -y socat)")
    async with pty_pair(tmp_path / "edge", tmp_path / "sim") as (edge_end, sim_end):
        bus = RtuBus(id="r", port=str(edge_end), baudrate=9600, timeout=0.5)
        link = BusLink(bus, SystemClock(), DriverStats(), structlog.get_logger("test"))
        async with ElevatorSimulator([box()], serial_port=str(sim_end)) as sim:
            try:
                await link.write_register(CONTROL, 1, UNIT)
                # Straight after: the link keeps the 3.5-character silence before this frame.
                assert await link.read(3, CONTROL, 1, UNIT) == [1]
                await link.write_registers(CONTROL, [0], UNIT)
                assert sim.box(UNIT).writes == [(CONTROL, 1), (CONTROL, 0)]
            finally:
                await link.close()
