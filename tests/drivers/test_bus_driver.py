"""The driver against a real pymodbus server over real TCP and a real RTU pty pair."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path

import pytest

from contract import Kind, SystemClock
from drivers.base import DriverStats
from drivers.modbus import ModbusBusDriver
from drivers.modbus.model import MeterDevice, Profile, RtuBus, TcpBus
from tests.drivers.harness import Recorder, running, wait_for
from tests.drivers.meter_bank import MeterBank, free_port, pty_pair, serve_rtu, serve_tcp
from tests.drivers.profiles import load_profile

DDSU = load_profile("chint_ddsu666")
SDM120 = load_profile("eastron_sdm120")


def meters(bus: str, profile: Profile, units: range, interval: float,
           **kw: object) -> list[MeterDevice]:
    return [MeterDevice(id=f"m{u}", bus=bus, profile=profile, address=u,
                        poll_interval=interval, unit=f"1-{100 + u}", **kw)  # type: ignore[arg-type]
            for u in units]


def bank_of(profile: Profile, units: range, faults: dict[int, str]) -> MeterBank:
    bank = MeterBank()
    for u in units:
        bank.add(u, profile, {"voltage": 220.0 + u, "current": 1.5, "power_w": 0.33,
                              "frequency_hz": 50.0, "energy_import_kwh": 1000.25 + u,
                              "energy_export_kwh": 0.0}, fault=faults.get(u, "none"))
    return bank


async def test_dead_meter_on_rtu_bus_does_not_delay_the_live_ones(tmp_path: Path) -> None:
    interval = 0.5
    units = range(1, 11)
    bank = bank_of(DDSU, units, {4: "no_reply"})
    with pty_pair(tmp_path) as (server_port, client_port):
        bus = RtuBus(id="rtu1", port=client_port, timeout=0.25, retries=1)
        async with serve_rtu(bank, server_port), \
                running(bus, meters("rtu1", DDSU, units, interval)) as (driver, rec, stats):
            await asyncio.sleep(4.5)
            readings = rec.readings()
            assert rec.transitions("m4") == [Kind.DEVICE_OFFLINE]
            assert "m4" not in readings
            for u in units:
                if u == 4:
                    continue
                dev = f"m{u}"
                assert len(readings[dev]) >= 7, (dev, len(readings[dev]))
                # polled on time: a dead meter timed out every cycle would add 0.5 s to each
                assert rec.median_gap(dev) < 1.5 * interval, (dev, rec.median_gap(dev))
            online = driver.online()
    assert online == {f"m{u}": u != 4 for u in units}
    assert stats.get("poll_timeouts") >= 1
    assert stats.get("probes") >= 1, "the dead meter is still probed now and then"
    # A dead meter on a probe schedule costs far fewer requests than polling it every time.
    assert bank.requests[4] < bank.requests[1]


async def test_silent_unit_ids_behind_one_tcp_port_never_starve_live_units() -> None:
    interval = 1.0
    units = range(1, 21)
    silent = {3, 7, 11, 15, 19}
    port = free_port()
    bank = bank_of(DDSU, units, {u: "no_reply" for u in silent})
    bus = TcpBus(id="tcp1", host="127.0.0.1", port=port, timeout=0.2, retries=1)
    async with serve_tcp(bank, port), \
            running(bus, meters("tcp1", DDSU, units, interval)) as (driver, rec, stats):
        await asyncio.sleep(6.0)
        readings = rec.readings()
        for u in units:
            dev = f"m{u}"
            if u in silent:
                assert dev not in readings
                assert rec.transitions(dev) == [Kind.DEVICE_OFFLINE]
                continue
            assert len(readings[dev]) >= 5, (dev, len(readings[dev]))
            assert rec.max_gap(dev) < 1.5 * interval, (dev, rec.max_gap(dev))
        assert sum(driver.online().values()) == 15
    # Silent units were asked many times, yet the shared connection was never dropped.
    assert sum(bank.requests[u] for u in silent) >= 15
    assert stats.get("connects") == 1
    assert stats.get("reconnects") == 0


async def test_exception_replies_and_garbage_are_counted_and_do_not_stop_others() -> None:
    interval = 0.5
    units = range(1, 9)
    faults = {2: "exception", 4: "garbage_nan", 6: "garbage_short"}
    port = free_port()
    bank = bank_of(SDM120, units, faults)
    bus = TcpBus(id="tcp1", host="127.0.0.1", port=port, timeout=0.3, retries=1)
    async with serve_tcp(bank, port), \
            running(bus, meters("tcp1", SDM120, units, interval)) as (driver, rec, stats):
        await wait_for(lambda: all(len(rec.transitions(f"m{u}")) == 1 for u in units), 8.0)
        await asyncio.sleep(1.0)
        readings = rec.readings()
        online = driver.online()
    for unit, fault in faults.items():
        dev = f"m{unit}"
        assert dev not in readings, f"{fault} must never become a reading"
        (offline,) = rec.of(dev, Kind.DEVICE_OFFLINE)
        assert offline.data["reason"] == ("exception" if fault == "exception" else "garbage")
        assert offline.data["message"].startswith("表计离线")
        assert not online[dev]
    for u in set(units) - set(faults):
        assert len(readings[f"m{u}"]) >= 4
        assert rec.max_gap(f"m{u}") < 1.5 * interval
    assert stats.get("poll_exceptions") >= 3 * 4  # 3 polls × 4 reads of the SDM120 profile
    assert stats.get("poll_garbage") >= 6
    assert stats.get("poll_errors") == 0


async def test_offline_and_online_are_each_emitted_once_per_transition() -> None:
    interval = 0.3
    port = free_port()
    bank = bank_of(DDSU, range(1, 3), {2: "no_reply"})
    bus = TcpBus(id="tcp1", host="127.0.0.1", port=port, timeout=0.15, retries=0)
    async with serve_tcp(bank, port), \
            running(bus, meters("tcp1", DDSU, range(1, 3), interval)) as (driver, rec, _):
        await wait_for(lambda: len(rec.readings()["m1"]) >= 2, 3.0)
        await wait_for(lambda: rec.transitions("m2") == [Kind.DEVICE_OFFLINE], 3.0)
        # Meter 1 stops answering: offline exactly once, however long it stays silent.
        bank.set_fault(1, "no_reply")
        await wait_for(lambda: not driver.online()["m1"], 3.0)
        await asyncio.sleep(1.5)
        assert rec.transitions("m1") == [Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE]
        # Both come back: a probe notices, and online is emitted once each.
        bank.set_fault(1, "none")
        bank.set_fault(2, "none")
        await wait_for(lambda: all(driver.online().values()), 6.0)
        await asyncio.sleep(1.0)
        n_before = len(rec.readings()["m2"])
        await asyncio.sleep(0.7)
        assert len(rec.readings()["m2"]) > n_before, "m2 is back on its live schedule"
    assert rec.transitions("m1") == [Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE,
                                     Kind.DEVICE_ONLINE]
    assert rec.transitions("m2") == [Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE]
    assert rec.of("m1", Kind.DEVICE_OFFLINE)[0].data["reason"] == "timeout"


async def test_reading_format_and_deadband() -> None:
    port = free_port()
    bank = bank_of(SDM120, range(1, 2), {})
    bus = TcpBus(id="tcp1", host="127.0.0.1", port=port, timeout=0.3)
    dev = meters("tcp1", SDM120, range(1, 2), 0.2, deadband={"voltage": 2.0, "power_w": 0.5})
    async with serve_tcp(bank, port), running(bus, dev) as (_, rec, _):
        await wait_for(lambda: len(rec.readings()["m1"]) >= 2, 3.0)
        bank.set_value(1, SDM120, "voltage", 221.5)   # inside the 2 V band: left out
        bank.set_value(1, SDM120, "energy_import_kwh", 1001.5)
        await asyncio.sleep(0.5)
        bank.set_value(1, SDM120, "voltage", 224.0)   # 3 V from the last sent: reported
        await asyncio.sleep(0.5)
    first, second, *rest = rec.readings()["m1"]
    assert first.data["v"] == 1
    assert first.data["profile"] == "eastron_sdm120"
    assert first.data["unit"] == "1-101"
    assert first.data["values"] == {
        "voltage": 221.0, "current": 1.5, "power_w": 0.33, "power_factor": 0.0,
        "frequency_hz": 50.0, "energy_import_kwh": 1001.25, "energy_export_kwh": 0.0,
        "energy_total_kwh": 0.0}
    assert first.data["units"]["voltage"] == "V"
    assert first.data["units"]["energy_import_kwh"] == "kWh"
    assert first.data["latency_ms"] > 0
    assert first.ts.tzinfo is UTC or first.ts.utcoffset() == UTC.utcoffset(None)
    # Unchanged values inside their band are left out; billing totals never are.
    assert "voltage" not in second.data["values"]
    assert "power_w" not in second.data["values"]
    assert second.data["values"]["energy_import_kwh"] == 1001.25
    voltages = [r.data["values"].get("voltage") for r in rest]
    assert 224.0 in voltages
    assert 221.5 not in voltages
    assert all(r.data["values"]["energy_import_kwh"] in (1001.25, 1001.5) for r in rest)
    assert rest[-1].data["values"]["energy_import_kwh"] == 1001.5


async def test_bus_down_marks_meters_offline_and_recovers_when_the_port_opens() -> None:
    port = free_port()
    bank = bank_of(DDSU, range(1, 3), {})
    bus = TcpBus(id="tcp1", host="127.0.0.1", port=port, timeout=0.2)
    async with running(bus, meters("tcp1", DDSU, range(1, 3), 0.3)) as (driver, rec, stats):
        await wait_for(lambda: len(rec.of("m1", Kind.DEVICE_OFFLINE)) == 1, 5.0)
        assert rec.of("m1", Kind.DEVICE_OFFLINE)[0].data["reason"] == "bus_down"
        assert stats.get("connect_failures") >= 1
        async with serve_tcp(bank, port):
            await wait_for(lambda: all(driver.online().values()), 8.0)
            await wait_for(lambda: len(rec.readings()["m2"]) >= 1, 2.0)
    assert rec.transitions("m1") == [Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE]


def test_devices_of_another_bus_are_refused() -> None:
    bus = TcpBus(id="tcp1", host="127.0.0.1")
    with pytest.raises(ValueError, match="not on bus"):
        ModbusBusDriver(bus, meters("tcp2", DDSU, range(1, 2), 1.0), Recorder(),
                        SystemClock(), DriverStats())
