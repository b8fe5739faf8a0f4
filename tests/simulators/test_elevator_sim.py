"""The elevator box simulator seen from a plain pymodbus client: encodings pinned to
hand-computed registers, car movement, scripted faults, recall, wire faults and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.elevator import ElevatorBox, ElevatorSimulator, SimCar
from tests.simulators.conftest import ManualClock
from tests.support import services

GENERIC, VENDOR = 1, 2
CONTROL = 0x0020


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[ElevatorSimulator]:
    def car(start: int) -> SimCar:
        return SimCar(start_floor=start, floor_s=2.0, door_s=1.0, dwell_s=3.0, clock=clock)

    boxes = [ElevatorBox.from_profile(GENERIC, "generic", car(1), clock=clock),
             ElevatorBox.from_profile(VENDOR, "vendor", car(-1), clock=clock)]
    async with ElevatorSimulator(boxes, tcp=("127.0.0.1", services.free_port())) as s:
        yield s


@pytest.fixture
async def client(sim: ElevatorSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    assert sim.tcp is not None
    c = AsyncModbusTcpClient(sim.tcp[0], port=sim.tcp[1], timeout=0.3, retries=0)
    assert await c.connect()
    yield c
    c.close()


async def generic(client: AsyncModbusTcpClient) -> list[int]:
    """direction, door zone, floor, door, people, inspection, maintenance, code, bits."""
    r = await client.read_holding_registers(0, count=9, device_id=GENERIC)
    assert not r.isError()
    return list(r.registers)


async def vendor(client: AsyncModbusTcpClient) -> list[int]:
    """status word, floor, code 1, code 2 (input registers)."""
    r = await client.read_input_registers(0x1000, count=4, device_id=VENDOR)
    assert not r.isError()
    return list(r.registers)


async def test_a_trip_seen_in_the_generic_registers(sim: ElevatorSimulator,
                                                    client: AsyncModbusTcpClient,
                                                    clock: ManualClock) -> None:
    assert await generic(client) == [0, 1, 1, 0, 0, 0, 0, 0, 0]
    await sim.box(GENERIC).car.call(-2)  # 1 → B1 → B2: two floors down
    clock.advance(1.0)  # half-way between 1 and B1
    assert await generic(client) == [2, 0, 1, 0, 0, 0, 0, 0, 0]
    clock.advance(1.0)  # at B1, passing
    assert (await generic(client))[:4] == [2, 1, 0xFFFF, 0]
    clock.advance(2.0 + 0.5)  # arrived at B2, doors opening
    assert await generic(client) == [0, 1, 0xFFFE, 3, 0, 0, 0, 0, 0]
    clock.advance(1.0)
    assert (await generic(client))[3] == 1  # open
    clock.advance(3.0)
    assert (await generic(client))[3] == 2  # closing
    clock.advance(1.0)
    assert (await generic(client))[3] == 0
    assert sim.box(GENERIC).car.arrivals == [(104.0, -2)]


async def test_vendor_status_word_bits(sim: ElevatorSimulator,
                                       client: AsyncModbusTcpClient) -> None:
    box = sim.box(VENDOR)
    assert await vendor(client) == [0b0000_0100, 0xFFFF, 0, 0]  # door zone; B1
    await box.car.passengers(True)
    await box.car.set_maintenance(True)
    assert (await vendor(client))[0] == 0b1010_0100
    await box.car.trap(at_landing=True)
    await box.car.raise_fault("alarm_button")
    assert await vendor(client) == [0b1010_0100, 0xFFFF, 0x0102, 0x0501]
    r = await client.read_holding_registers(0x1000, count=1, device_id=VENDOR)
    assert r.isError() and r.exception_code == 1  # this box has input registers only


async def test_scripted_faults_in_the_generic_registers(sim: ElevatorSimulator,
                                                        client: AsyncModbusTcpClient,
                                                        clock: ManualClock) -> None:
    car = sim.box(GENERIC).car
    await car.trap(at_landing=False)
    assert await generic(client) == [0, 0, 1, 0, 1, 0, 0, 1, 0]  # between 1 and 2, people
    await car.clear()
    clock.advance(1.0 + 1.0)  # re-level half a floor, open
    assert await generic(client) == [0, 1, 1, 1, 0, 0, 0, 0, 0]  # passengers got out
    await car.door_open_while_moving()
    assert await generic(client) == [1, 0, 1, 1, 0, 0, 0, 3, 0]
    await car.clear()
    await car.overrun(top=True)
    assert await generic(client) == [0, 0, 10, 0, 0, 0, 0, 6, 0]
    await car.raise_fault("alarm_button")
    await car.raise_fault("emergency_power")
    assert (await generic(client))[7:] == [6, 0b101]  # bitmask faults stay in the bitmask
    await car.clear()
    clock.advance(10.0)
    assert await generic(client) == [0, 1, 10, 0, 0, 0, 0, 0, 0]


async def test_a_recall_write_brings_the_car_down_with_doors_open(
        sim: ElevatorSimulator, client: AsyncModbusTcpClient, clock: ManualClock) -> None:
    car = sim.box(GENERIC).car
    await car.call(4)
    clock.advance(20.0)  # at 4, doors closed again
    assert (await generic(client))[2:4] == [4, 0]
    r = await client.write_register(CONTROL, 1, device_id=GENERIC)
    assert not r.isError() and r.registers == [1]
    clock.advance(3 * 2.0 + 1.0 + 60.0)
    regs = await generic(client)
    assert regs[2:4] == [1, 1]  # at the main landing, doors still open a minute later
    assert regs[8] == 0b10  # fire return reported in the bitmask
    await client.write_register(CONTROL, 0, device_id=GENERIC)
    clock.advance(5.0)
    assert (await generic(client))[3] == 0
    refused = await client.write_register(0x0002, 7, device_id=GENERIC)
    assert refused.isError() and refused.exception_code == 2


async def test_inspection_ignores_a_recall(sim: ElevatorSimulator,
                                           client: AsyncModbusTcpClient,
                                           clock: ManualClock) -> None:
    car = sim.box(GENERIC).car
    await car.call(3)
    clock.advance(20.0)
    await car.set_inspection(True)
    await client.write_register(CONTROL, 1, device_id=GENERIC)
    clock.advance(30.0)
    assert car.floor == 3 and not car.recalled


async def test_wire_faults(sim: ElevatorSimulator, client: AsyncModbusTcpClient) -> None:
    sim.box(GENERIC).set_fault("exception", requests=1, exception_code=6)
    r = await client.read_holding_registers(0, count=9, device_id=GENERIC)
    assert r.isError() and r.exception_code == 6
    assert len(await generic(client)) == 9
    sim.box(VENDOR).set_fault("no_reply", requests=1)
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0x1000, count=4, device_id=VENDOR)
    r = await client.read_holding_registers(0x0100, count=1, device_id=GENERIC)
    assert r.isError() and r.exception_code == 2  # outside the map


def test_cli_serves_several_units() -> None:
    port = services.free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.elevator", "--port", str(port), "--units",
         "1,2=vendor", "--profile", "generic", "--no-traffic"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        line = ""
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "serving" in line, line
        assert "unit 1 (generic_gbt24476)" in line and "unit 2 (vendor_status_word)" in line
        async def read() -> tuple[list[int], list[int]]:
            c = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
            assert await c.connect()
            try:
                a = await c.read_holding_registers(0, count=4, device_id=1)
                b = await c.read_input_registers(0x1000, count=2, device_id=2)
                return list(a.registers), list(b.registers)
            finally:
                c.close()

        assert asyncio.run(read()) == ([0, 1, 1, 0], [0b100, 1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
