"""Several meters behind one TCP port, read and broken from a plain pymodbus client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.modbus import MeterBusSimulator, SimMeter
from tests.simulators.conftest import ManualClock
from tests.simulators.wire import f32
from tests.support import services

T0 = 1_795_000_000.0  # a fixed instant, so values do not move while a test reads them


@pytest.fixture
async def bus(profiles: Path) -> AsyncIterator[MeterBusSimulator]:
    clock = ManualClock(T0)
    meters = [SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock),
              SimMeter(2, profiles / "chint_ddsu666.yaml", clock=clock),
              SimMeter(3, profiles / "eastron_sdm630.yaml", clock=clock),
              SimMeter(4, profiles / "xintai_water.yaml", clock=clock)]
    async with MeterBusSimulator(meters, tcp=("127.0.0.1", services.free_port())) as sim:
        yield sim


@pytest.fixture
async def client(bus: MeterBusSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    assert bus.tcp is not None
    c = AsyncModbusTcpClient(bus.tcp[0], port=bus.tcp[1], timeout=0.5, retries=0)
    assert await c.connect()
    yield c
    c.close()


async def test_each_unit_answers_with_its_own_profile(bus: MeterBusSimulator,
                                                      client: AsyncModbusTcpClient) -> None:
    r = await client.read_input_registers(0x0000, count=2, device_id=1)
    assert f32(r.registers) == pytest.approx(bus.value(1, "voltage"), abs=1e-4)
    assert 220.0 <= f32(r.registers) <= 235.0

    r = await client.read_holding_registers(0x4000, count=2, device_id=2)
    assert f32(r.registers) == pytest.approx(bus.value(2, "energy_import_kwh"), rel=1e-6)
    r = await client.read_holding_registers(0x2004, count=2, device_id=2)
    # DDSU666 reports kW: a household's power is well under 20 kW, never thousands.
    assert 0.0 < f32(r.registers) < 20.0

    r = await client.read_input_registers(0x0000, count=6, device_id=3)
    phases = [f32(r.registers[i:i + 2]) for i in (0, 2, 4)]
    assert phases == pytest.approx([bus.value(3, f"voltage_l{i}") for i in (1, 2, 3)], abs=1e-4)

    r = await client.read_holding_registers(0x0001, count=2, device_id=4)
    forward = f32(r.registers, little=True)  # Xintai: DCBA, least significant byte first
    assert forward == pytest.approx(bus.value(4, "water_forward_m3"), rel=1e-6)
    r = await client.read_holding_registers(0x001C, count=1, device_id=4)
    assert r.registers == [1]  # valve open


async def test_batched_read_across_gaps_returns_zeros_there(
        bus: MeterBusSimulator, client: AsyncModbusTcpClient) -> None:
    r = await client.read_input_registers(0x0000, count=14, device_id=1)  # V … gap … I … gap … P
    assert not r.isError()
    regs = r.registers
    assert f32(regs[0:2]) == pytest.approx(bus.value(1, "voltage"), abs=1e-4)
    assert regs[2:6] == [0, 0, 0, 0]
    assert f32(regs[6:8]) == pytest.approx(bus.value(1, "current"), rel=1e-6)
    assert f32(regs[12:14]) == pytest.approx(bus.value(1, "power_w"), rel=1e-6)


@pytest.mark.parametrize(("fc", "address", "count"), [
    (4, 0x0100, 2),   # nothing defined there
    (4, 0x0002, 2),   # starts in a gap
    (4, 0x0000, 4),   # ends in a gap
    (3, 0x0000, 2),   # SDM120 values are input registers, not holding registers
])
async def test_undefined_ranges_get_illegal_address(client: AsyncModbusTcpClient, fc: int,
                                                    address: int, count: int) -> None:
    read = client.read_input_registers if fc == 4 else client.read_holding_registers
    r = await read(address, count=count, device_id=1)
    assert r.isError()
    assert r.exception_code == 2


async def test_no_reply_times_out_and_others_still_answer(
        bus: MeterBusSimulator, client: AsyncModbusTcpClient) -> None:
    bus.set_fault(1, "no_reply")
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0x0000, count=2, device_id=1)
    r = await client.read_holding_registers(0x2000, count=2, device_id=2)
    assert not r.isError()
    bus.set_fault(1, "none")
    r = await client.read_input_registers(0x0000, count=2, device_id=1)
    assert not r.isError()


async def test_unknown_unit_is_silent(client: AsyncModbusTcpClient) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0x0000, count=2, device_id=9)


@pytest.mark.parametrize(("kw", "code"), [({}, 4), ({"exception_code": 6}, 6)])
async def test_exception_fault_replies_with_the_code(bus: MeterBusSimulator,
                                                     client: AsyncModbusTcpClient,
                                                     kw: dict[str, int], code: int) -> None:
    bus.set_fault(1, "exception", **kw)
    r = await client.read_input_registers(0x0000, count=2, device_id=1)
    assert r.isError()
    assert r.exception_code == code


async def test_slow_fault_delays_the_reply(bus: MeterBusSimulator,
                                           client: AsyncModbusTcpClient) -> None:
    bus.set_fault(3, "slow", slow_ms=250)
    started = time.monotonic()
    r = await client.read_input_registers(0x0000, count=2, device_id=3)
    elapsed = time.monotonic() - started
    assert not r.isError()
    assert 220.0 <= f32(r.registers) <= 235.0
    assert elapsed >= 0.25


async def test_garbage_fault_cannot_be_decoded(bus: MeterBusSimulator,
                                               client: AsyncModbusTcpClient) -> None:
    bus.set_fault(2, "garbage")
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0x2000, count=2, device_id=2)


async def test_valve_write_closes_the_water_meter(bus: MeterBusSimulator,
                                                  client: AsyncModbusTcpClient) -> None:
    r = await client.write_register(0x001C, 2, device_id=4)
    assert not r.isError()
    assert bus.value(4, "valve_state") == 2
    assert bus.value(4, "flow_m3h") == 0.0
    r = await client.write_register(0x001C, 7, device_id=4)
    assert r.isError() and r.exception_code == 3
    r = await client.write_register(0x0001, 1, device_id=4)
    assert r.isError() and r.exception_code == 2


def test_bus_refuses_duplicate_unit_ids(profiles: Path) -> None:
    m = profiles / "eastron_sdm120.yaml"
    with pytest.raises(ValueError):
        MeterBusSimulator([SimMeter(1, m), SimMeter(1, m)], tcp=("127.0.0.1", 1502))
    with pytest.raises(ValueError):
        SimMeter(1, m).set_fault("on_fire")
