"""The driver against the project's meter simulator (its fault modes, its line noise)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from contract import Kind, SystemClock
from drivers.base import DriverStats
from drivers.modbus import ModbusBusDriver, link
from drivers.modbus.model import MeterDevice, RtuBus, TcpBus
from simulators.modbus import MeterBusSimulator, SimMeter
from simulators.pty import pty_pair
from tests.drivers.harness import Recorder, running, wait_for
from tests.drivers.meter_bank import free_port
from tests.drivers.profiles import load_profile, profile_path

FAULTY = {2: "garbage", 4: "exception", 6: "no_reply"}
UNITS = range(1, 9)
INTERVAL = 0.5


@asynccontextmanager
async def simulated_bus(kind: str, tmp: Path) -> AsyncIterator[TcpBus | RtuBus]:
    sims = [SimMeter(u, profile_path("eastron_sdm120"), fault=FAULTY.get(u, "none"))
            for u in UNITS]
    if kind == "tcp":
        port = free_port()
        async with MeterBusSimulator(sims, tcp=("127.0.0.1", port)):
            yield TcpBus(id="bus1", host="127.0.0.1", port=port, timeout=0.25, retries=1)
        return
    async with pty_pair(tmp / "sim", tmp / "drv") as (sim_port, drv_port), \
            MeterBusSimulator(sims, serial_port=str(sim_port)):
        yield RtuBus(id="bus1", port=str(drv_port), timeout=0.25, retries=1)


@pytest.mark.parametrize("kind", ["tcp", "rtu"])
async def test_simulated_faults_are_classified_and_live_meters_keep_their_rate(
        kind: str, tmp_path: Path) -> None:
    profile = load_profile("eastron_sdm120")
    devices = [MeterDevice(id=f"m{u}", bus="bus1", profile=profile, address=u,
                           poll_interval=INTERVAL) for u in UNITS]
    async with simulated_bus(kind, tmp_path) as bus, \
            running(bus, devices) as (driver, rec, stats):
        await wait_for(lambda: all(rec.transitions(f"m{u}") for u in UNITS), 8.0)
        await asyncio.sleep(2.0)
        readings = rec.readings()
        online = driver.online()
    reasons = {u: rec.of(f"m{u}", Kind.DEVICE_OFFLINE)[0].data["reason"] for u in FAULTY}
    assert reasons == {2: "garbage", 4: "exception", 6: "timeout"}
    for u in UNITS:
        dev = f"m{u}"
        if u in FAULTY:
            assert dev not in readings
            assert online[dev] is False
            continue
        assert online[dev] is True
        assert rec.transitions(dev) == [Kind.DEVICE_ONLINE]
        assert len(readings[dev]) >= 5
        assert rec.max_gap(dev) < 1.5 * INTERVAL, (dev, rec.max_gap(dev))
        values = readings[dev][-1].data["values"]
        assert 180.0 < values["voltage"] < 260.0
        assert values["energy_import_kwh"] >= 0.0
    assert stats.get("poll_garbage") >= 3
    assert stats.get("poll_exceptions") >= 3
    assert stats.get("poll_errors") == 0


async def test_a_cancel_the_modbus_stack_swallows_still_stops_the_driver(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pymodbus awaits ``asyncio.wait_for``, which on 3.11 can swallow a cancel that lands as
    a reply arrives (or turn it into its own error). The edge must still shut down."""
    original = link.Wire._send_once
    swallowed: list[bool] = []

    async def swallowing(self: link.Wire, *args: Any, **kw: Any) -> Any:
        try:
            return await original(self, *args, **kw)
        except asyncio.CancelledError:
            swallowed.append(True)
            raise link.NoReply("request cancelled outside pymodbus") from None

    monkeypatch.setattr(link.Wire, "_send_once", swallowing)
    profile = load_profile("eastron_sdm120")
    devices = [MeterDevice(id=f"m{u}", bus="bus1", profile=profile, address=u,
                           poll_interval=0.05) for u in UNITS if u not in FAULTY]
    async with simulated_bus("tcp", tmp_path) as bus:
        for _ in range(50):  # until one cancel has landed inside a request (the case that hung)
            recorder = Recorder()
            driver = ModbusBusDriver(bus, devices, recorder, SystemClock(), DriverStats())
            task = asyncio.create_task(driver.run())
            await wait_for(lambda: bool(recorder.readings()), 8.0)  # noqa: B023
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=30)
            assert done, "the driver kept running after it was cancelled"
            assert task.cancelled()
            if swallowed:
                break
        assert swallowed, "no cancel landed inside a request: the test proved nothing"
