"""Start-up of Modbus buses: silent units must not hold the live ones back, and many buses must
not all poll at the same instant.

Both were measured against a peer gateway: five never-answering units behind a converter
configured with a 35 s timeout held every live meter's first reading back by ~170 s (each
silent unit's first poll waited the full timeout in turn), and 200 one-meter buses all polled
at the same instant (p99 latency ~200 ms).
"""

from __future__ import annotations

import asyncio
import itertools
from contextlib import AsyncExitStack

from contract import FakeClock, Kind, SystemClock
from drivers.base import DriverStats
from drivers.modbus import ModbusBusDriver
from drivers.modbus.model import MeterDevice, Profile, TcpBus
from edge.wires import bus_phases
from tests.drivers.harness import Recorder, running, wait_for
from tests.drivers.meter_bank import MeterBank, free_port, serve_tcp
from tests.drivers.profiles import load_profile

DDSU = load_profile("chint_ddsu666")
VALUES = {"voltage": 230.0, "current": 1.5, "power_w": 0.33, "frequency_hz": 50.0,
          "energy_import_kwh": 1000.25, "energy_export_kwh": 0.0}


def meter(bus: str, unit: int, interval: float, profile: Profile = DDSU) -> MeterDevice:
    return MeterDevice(id=f"m{unit}", bus=bus, profile=profile, address=unit,
                       poll_interval=interval)


async def test_silent_units_with_a_long_timeout_do_not_delay_live_first_readings() -> None:
    interval = 1.0
    silent, live = range(1, 6), range(6, 9)  # silent first: the worst order for the others
    bank = MeterBank()
    for u in [*silent, *live]:
        bank.add(u, DDSU, VALUES, fault="no_reply" if u in silent else "none")
    port = free_port()
    bus = TcpBus(id="dtu", host="127.0.0.1", port=port, timeout=35.0, retries=1)
    loop = asyncio.get_running_loop()
    async with serve_tcp(bank, port):
        started = loop.time()
        async with running(bus, [meter("dtu", u, interval) for u in [*silent, *live]]) as (
                driver, rec, stats):
            await wait_for(lambda: all(rec.readings()[f"m{u}"] for u in live), 15.0)
            first = loop.time() - started
            # A small bound: at most one short first contact per silent unit ahead of them,
            # never one 35 s timeout (before: 5 × 35 s before the last live reading).
            assert first < 5.0, first
            # The silent ones are reported offline, from their short first contacts.
            await wait_for(lambda: all(rec.transitions(f"m{u}") == [Kind.DEVICE_OFFLINE]
                                       for u in silent), 15.0)
            # Meanwhile and after, the live meters keep their interval.
            mark = len(rec.events)
            await wait_for(lambda: all(len([e for e in rec.events[mark:]
                                            if e.device == f"m{u}"
                                            and e.kind == Kind.METER_READING]) >= 4
                                       for u in live), 15.0)
            for u in live:
                assert rec.max_gap(f"m{u}") < 2.5 * interval, (u, rec.max_gap(f"m{u}"))
            # A silent unit that starts answering joins the live schedule.
            bank.set_fault(3, "none")
            await wait_for(lambda: bool(rec.readings()["m3"]), 20.0)
            assert rec.transitions("m3") == [Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE]
            assert driver.online()["m3"]
    # No request ever waited 35 s: the whole run is far shorter than one such timeout.
    assert loop.time() - started < 35.0
    assert stats.get("probes") >= len(silent)


def test_bus_start_phases_are_spread_across_the_interval() -> None:
    clock = FakeClock()
    interval, n_buses = 10.0, 8
    ids = [f"bus{k}" for k in range(n_buses)]
    phases = bus_phases(ids)
    firsts: list[float] = []
    for k, bid in enumerate(ids):
        bus = TcpBus(id=bid, host="127.0.0.1", port=1)
        driver = ModbusBusDriver(bus, [meter(bid, 1, interval)], Recorder(), clock,
                                 DriverStats(), phase=phases[bid])
        (due,) = driver.first_due().values()
        assert due == clock.monotonic() + k * interval / n_buses
        firsts.append(due)
    # One bus every interval/n: evenly spread, none at the same instant.
    gaps = [b - a for a, b in itertools.pairwise(sorted(firsts))]
    assert min(gaps) == max(gaps) == interval / n_buses
    # Within a bus the meters stay interleaved, shifted by the bus's phase.
    bus = TcpBus(id="many", host="127.0.0.1", port=1)
    driver = ModbusBusDriver(bus, [meter("many", u, interval) for u in (1, 2)], Recorder(),
                             clock, DriverStats(), phase=0.5)
    assert sorted(driver.first_due().values()) == [clock.monotonic() + 2.5,
                                                   clock.monotonic() + 7.5]


async def test_buses_first_polls_are_spread_on_the_wire() -> None:
    interval, n_buses = 2.0, 4
    banks, ports = [], [free_port() for _ in range(n_buses)]
    rec = Recorder()
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        for port in ports:
            bank = MeterBank()
            bank.add(1, DDSU, VALUES)
            banks.append(bank)
            await stack.enter_async_context(serve_tcp(bank, port))
        ids = [f"bus{k}" for k in range(n_buses)]
        phases = bus_phases(ids)
        tasks = []
        for bid, port in zip(ids, ports, strict=True):
            bus = TcpBus(id=bid, host="127.0.0.1", port=port, timeout=0.5)
            dev = MeterDevice(id=bid, bus=bid, profile=DDSU, address=1, poll_interval=interval)
            driver = ModbusBusDriver(bus, [dev], rec, SystemClock(), DriverStats(),
                                     phase=phases[bid])
            tasks.append(asyncio.create_task(driver.run()))
        started = loop.time()
        try:
            await wait_for(lambda: all(rec.readings()[b] for b in ids), 10.0)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    firsts = sorted(rec.readings()[b][0].ts.timestamp() for b in ids)
    # Expected: one bus every 0.5 s (span 1.5 s). Generous: they are not all at once.
    assert firsts[-1] - firsts[0] >= 0.75, firsts
    assert loop.time() - started < 10.0
