"""Whole RTU frames over a pty, byte for byte (the RTU test vectors of docs/protocols.md §1)."""

from __future__ import annotations

from pathlib import Path

from simulators.modbus import MeterBusSimulator, SimMeter, crc16_modbus
from tests.simulators.wire import exchange, two_requests


async def test_sdm120_voltage_frame_is_exact(profiles: Path, rtu_line: tuple[str, str]) -> None:
    edge, sim_end = rtu_line
    meter = SimMeter(1, profiles / "eastron_sdm120.yaml")
    meter.set_value("voltage", 230.0)
    async with MeterBusSimulator([meter], serial_port=sim_end):
        reply = await exchange(edge, bytes.fromhex("01 04 00 00 00 02 71 CB"), want=9)
    assert reply == bytes.fromhex("01 04 04 43 66 00 00 0E 1F")


async def test_dtsu666_ua_frame_is_exact(profiles: Path, rtu_line: tuple[str, str]) -> None:
    edge, sim_end = rtu_line
    sdm = SimMeter(3, profiles / "eastron_sdm120.yaml")
    dtsu = SimMeter(1, profiles / "chint_dtsu666.yaml")
    dtsu.set_value("voltage_l1", 220.0)
    async with MeterBusSimulator([sdm, dtsu], serial_port=sim_end):
        reply = await exchange(edge, bytes.fromhex("01 03 20 06 00 02 2F CA"), want=9)
    assert reply == bytes.fromhex("01 03 04 45 09 80 00 5E FD")


async def test_unit_not_on_the_line_stays_silent(profiles: Path,
                                                 rtu_line: tuple[str, str]) -> None:
    edge, sim_end = rtu_line
    async with MeterBusSimulator([SimMeter(1, profiles / "eastron_sdm120.yaml")],
                                 serial_port=sim_end):
        req = bytes.fromhex("05 04 00 00 00 02")
        reply = await exchange(edge, req + crc16_modbus(req), quiet_s=0.4)
    assert reply == b""


async def test_undefined_range_gets_illegal_address(profiles: Path,
                                                    rtu_line: tuple[str, str]) -> None:
    edge, sim_end = rtu_line
    async with MeterBusSimulator([SimMeter(1, profiles / "eastron_sdm120.yaml")],
                                 serial_port=sim_end):
        req = bytes.fromhex("01 04 01 00 00 02")  # 0x0100 is not in the SDM120 table
        reply = await exchange(edge, req + crc16_modbus(req), want=5)
    body = bytes.fromhex("01 84 02")
    assert reply == body + crc16_modbus(body)


async def test_garbage_fault_breaks_the_crc(profiles: Path, rtu_line: tuple[str, str]) -> None:
    edge, sim_end = rtu_line
    meter = SimMeter(1, profiles / "eastron_sdm120.yaml", fault="garbage")
    async with MeterBusSimulator([meter], serial_port=sim_end):
        reply = await exchange(edge, bytes.fromhex("01 04 00 00 00 02 71 CB"), quiet_s=0.4)
    assert len(reply) >= 4
    assert crc16_modbus(reply[:-2]) != reply[-2:]


async def test_late_reply_of_a_slow_unit_keeps_its_own_unit_id(
        profiles: Path, rtu_line: tuple[str, str]) -> None:
    edge, sim_end = rtu_line
    slow = SimMeter(1, profiles / "eastron_sdm120.yaml", fault="slow", slow_ms=500)
    fast = SimMeter(2, profiles / "eastron_sdm120.yaml")
    slow.set_value("voltage", 230.0)
    fast.set_value("voltage", 220.0)
    req1 = bytes.fromhex("01 04 00 00 00 02 71 CB")
    req2 = bytes.fromhex("02 04 00 00 00 02")
    async with MeterBusSimulator([slow, fast], serial_port=sim_end):
        replies = await two_requests(edge, req1, req2 + crc16_modbus(req2), gap_s=0.15,
                                     listen_s=1.0)
    fast_reply = bytes.fromhex("02 04 04 43 5C 00 00")
    assert replies == fast_reply + crc16_modbus(fast_reply) + bytes.fromhex(
        "01 04 04 43 66 00 00 0E 1F")
