"""The barrier simulator seen from a plain pymodbus client: relays, arm physics, faults."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.gate import BarrierSimulator
from tests.simulators.conftest import ManualClock
from tests.support import services

OPEN, CLOSE, STOP = 0, 1, 2
OPEN_LIMIT, CLOSED_LIMIT, LOOP = 0, 1, 2


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[BarrierSimulator]:
    async with BarrierSimulator(tcp=("127.0.0.1", services.free_port()), unit=3, travel_s=2.0,
                                clock=clock) as s:
        yield s


@pytest.fixture
async def client(sim: BarrierSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    assert sim.tcp is not None
    c = AsyncModbusTcpClient(sim.tcp[0], port=sim.tcp[1], timeout=0.3, retries=0)
    assert await c.connect()
    yield c
    c.close()


async def inputs(client: AsyncModbusTcpClient, unit: int = 3) -> list[bool]:
    r = await client.read_discrete_inputs(0, count=3, device_id=unit)
    assert not r.isError()
    return list(r.bits[:3])


async def press(client: AsyncModbusTcpClient, coil: int, unit: int = 3) -> None:
    for value in (True, False):
        r = await client.write_coil(coil, value, device_id=unit)
        assert not r.isError()


async def test_open_and_close_take_the_travel_time_and_drive_the_limits(
        sim: BarrierSimulator, client: AsyncModbusTcpClient, clock: ManualClock) -> None:
    assert await inputs(client) == [False, True, False]
    await press(client, OPEN)
    clock.advance(1.0)
    assert sim.arm_position == pytest.approx(0.5)
    assert await inputs(client) == [False, False, False]
    clock.advance(1.5)
    assert sim.arm_position == 1.0
    assert await inputs(client) == [True, False, False]
    assert sim.moving == 0
    await press(client, CLOSE)
    clock.advance(0.5)
    assert sim.moving == -1
    await press(client, STOP)
    clock.advance(5.0)
    assert sim.arm_position == pytest.approx(0.75)
    await press(client, CLOSE)
    clock.advance(2.0)
    assert await inputs(client) == [False, True, False]
    assert [c.command for c in sim.commands] == ["open", "close", "stop", "close"]
    assert sim.coils == [False] * 8
    assert sim.relay_conflicts == 0


async def test_holding_a_relay_is_one_press_and_two_relays_at_once_are_recorded(
        sim: BarrierSimulator, client: AsyncModbusTcpClient) -> None:
    await client.write_coil(OPEN, True, device_id=3)
    await client.write_coil(OPEN, True, device_id=3)
    r = await client.read_coils(0, count=3, device_id=3)
    assert r.bits[:3] == [True, False, False]
    assert len(sim.presses("open")) == 1
    await client.write_coil(CLOSE, True, device_id=3)
    assert sim.relay_conflicts == 1


async def test_loop_input_and_inverted_polarity(clock: ManualClock) -> None:
    async with BarrierSimulator(tcp=("127.0.0.1", services.free_port()), unit=1,
                                active_low=True, clock=clock) as sim:
        assert sim.tcp is not None
        c = AsyncModbusTcpClient(sim.tcp[0], port=sim.tcp[1], timeout=0.3, retries=0)
        assert await c.connect()
        try:
            assert await inputs(c, unit=1) == [True, False, True]  # closed limit active = 0
            await sim.vehicle_enters_loop()
            assert await inputs(c, unit=1) == [True, False, False]
            await sim.vehicle_leaves_loop()
            assert await inputs(c, unit=1) == [True, False, True]
        finally:
            c.close()


async def test_closing_onto_an_occupied_loop_is_recorded_as_a_crush(
        sim: BarrierSimulator, client: AsyncModbusTcpClient, clock: ManualClock) -> None:
    await press(client, OPEN)
    clock.advance(2.0)
    await sim.vehicle_enters_loop()
    await press(client, CLOSE)
    (close,) = sim.presses("close")
    assert close.loop_occupied is True
    clock.advance(1.0)
    assert sim.crushes == []  # still above the vehicle
    clock.advance(0.5)
    assert len(sim.crushes) == 1
    assert sim.crushes[0].position <= 0.35


async def test_jam_stops_the_arm_until_freed(sim: BarrierSimulator,
                                             client: AsyncModbusTcpClient,
                                             clock: ManualClock) -> None:
    await press(client, OPEN)
    clock.advance(0.6)
    await sim.jam()
    clock.advance(10.0)
    assert sim.arm_position == pytest.approx(0.3)
    assert await inputs(client) == [False, False, False]
    await sim.free()
    clock.advance(1.4)
    assert await inputs(client) == [True, False, False]


async def test_broken_limit_switch_reports_its_stuck_value(
        sim: BarrierSimulator, client: AsyncModbusTcpClient, clock: ManualClock) -> None:
    await sim.break_limit("open", stuck_at=False)
    await press(client, OPEN)
    clock.advance(3.0)
    assert sim.arm_position == 1.0
    assert await inputs(client) == [False, False, False]
    await sim.break_limit("closed", stuck_at=True)
    assert await inputs(client) == [False, True, False]
    await sim.repair_limit("open")
    await sim.repair_limit("closed")
    assert await inputs(client) == [True, False, False]


async def test_silent_exception_and_garbage_faults(sim: BarrierSimulator,
                                                   client: AsyncModbusTcpClient) -> None:
    sim.set_fault("no_reply")
    with pytest.raises(ModbusIOException):
        await client.read_discrete_inputs(0, count=3, device_id=3)
    sim.set_fault("exception", requests=2, exception_code=6)
    for _ in range(2):
        r = await client.read_discrete_inputs(0, count=3, device_id=3)
        assert r.isError()
        assert r.exception_code == 6
    assert sim.fault == "none"
    assert await inputs(client) == [False, True, False]
    sim.set_fault("exception", requests=1)
    r = await client.write_coil(OPEN, True, device_id=3)
    assert r.isError()
    assert sim.commands == []  # a refused write presses nothing


async def test_garbage_reply_is_not_a_frame(sim: BarrierSimulator) -> None:
    assert sim.tcp is not None
    sim.set_fault("garbage", requests=1)
    reader, writer = await asyncio.open_connection(*sim.tcp)
    try:
        writer.write(bytes.fromhex("0001 0000 0006 03 02 0000 0003"))
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(256), 2.0)
    finally:
        writer.close()
    assert reply[:2] == b"\x00\x01"
    assert reply[2:4] != b"\x00\x00"  # the protocol id is broken


async def test_other_unit_ids_and_addresses(sim: BarrierSimulator,
                                            client: AsyncModbusTcpClient) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_discrete_inputs(0, count=3, device_id=4)
    r = await client.read_discrete_inputs(6, count=4, device_id=3)
    assert r.isError()
    assert r.exception_code == 2
    r = await client.read_holding_registers(0, count=1, device_id=3)
    assert r.isError()


async def test_rtu_on_a_virtual_serial_line(rtu_line: tuple[str, str],
                                            clock: ManualClock) -> None:
    edge_end, sim_end = rtu_line
    async with BarrierSimulator(serial_port=sim_end, unit=5, travel_s=1.0, clock=clock) as sim:
        c = AsyncModbusSerialClient(edge_end, framer=FramerType.RTU, baudrate=9600,
                                    timeout=0.5, retries=0)
        assert await c.connect()
        try:
            r = await c.write_coil(OPEN, True, device_id=5)
            assert not r.isError()
            clock.advance(1.0)
            r = await c.read_discrete_inputs(0, count=3, device_id=5)
            assert r.bits[:3] == [True, False, False]
        finally:
            c.close()
        assert sim.presses("open")


def test_command_line_entry_serves_until_stopped() -> None:
    port = services.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulators.gate.barrier", "--port",
                             str(port), "--travel", "0.2"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = b""
    try:
        services.wait_port("127.0.0.1", port, timeout=10.0)
        assert proc.stdout is not None
        while b"unit 1" not in seen:  # it says what it serves once it is up
            line = proc.stdout.readline()
            assert line, seen
            seen += line
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert b"unit 1" in seen + out
