"""Simulated meter behaviour a user would notice: the day's rhythm, totals, units, seeds."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simulators.modbus import SimMeter
from tests.simulators.conftest import ManualClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI).timestamp()


def at(hour: float) -> float:
    return MIDNIGHT + hour * 3600.0


def test_energy_never_decreases_and_peaks_in_the_evening(profiles: Path) -> None:
    clock = ManualClock(MIDNIGHT)
    m = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock, seed=7)
    last = m.value("energy_import_kwh")
    per_hour: list[float] = []
    for _hour in range(48):
        start = m.value("energy_import_kwh")
        for _ in range(12):
            clock.advance(300)
            now = m.value("energy_import_kwh")
            assert now >= last
            last = now
        per_hour.append(now - start)
    night = per_hour[2] + per_hour[26]        # 02:00–03:00 both days
    evening = per_hour[19] + per_hour[43]     # 19:00–20:00 both days
    morning = per_hour[7] + per_hour[31]
    assert evening > 5 * night
    assert morning > 3 * night
    assert sum(per_hour[:24]) == pytest.approx(sum(per_hour[24:]), rel=1e-6)  # same day twice
    assert 3.0 < sum(per_hour[:24]) < 60.0  # kWh a flat uses in a day


def test_power_follows_the_site_time_zone(profiles: Path) -> None:
    clock = ManualClock(at(19.5))  # 19:30 in Shanghai is 11:30 UTC
    sh = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock, seed=3)
    utc = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock, seed=3, timezone="UTC")
    assert sh.value("power_w") > 2 * utc.value("power_w")
    clock.t = at(3.0)
    assert sh.value("power_w") < 400.0


def test_instant_values_are_plausible(profiles: Path) -> None:
    clock = ManualClock(at(8.0))
    m = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock)
    for _ in range(50):
        clock.advance(600)
        v = m.values()
        assert 220.0 <= v["voltage"] <= 235.0
        assert 49.9 <= v["frequency_hz"] <= 50.1
        assert 0.8 <= v["power_factor"] <= 1.0
        assert v["power_w"] >= 0.0
        assert v["current"] * v["voltage"] * v["power_factor"] == pytest.approx(v["power_w"])
        assert v["energy_total_kwh"] == pytest.approx(
            v["energy_import_kwh"] + v["energy_export_kwh"])


def test_three_phase_currents_add_up_to_power(profiles: Path) -> None:
    m = SimMeter(3, profiles / "chint_dtsu666.yaml", clock=ManualClock(at(19.0)))
    v = {k: m.value(k) for k in ("voltage_l1", "voltage_l2", "voltage_l3", "current_l1",
                                 "current_l2", "current_l3", "power_w", "power_factor")}
    apparent = sum(v[f"voltage_l{i}"] * v[f"current_l{i}"] for i in (1, 2, 3))
    assert apparent * v["power_factor"] == pytest.approx(v["power_w"])
    assert len({round(v[f"current_l{i}"], 3) for i in (1, 2, 3)}) == 3  # phases not identical


def test_kw_meter_serves_kilowatts_on_the_wire_and_watts_by_name(profiles: Path) -> None:
    m = SimMeter(2, profiles / "chint_ddsu666.yaml", clock=ManualClock(at(19.5)))
    w = m.value("power_w")  # power_w is W in every profile (contract/registers.py)
    volt_amps = m.value("voltage") * m.value("current")
    assert 100.0 < w < 20000.0
    assert w <= volt_amps * 1.0001  # P ≤ V·I
    reg = m.profile.register("power_w")
    words = m.read_registers(3, reg.address, 2)
    assert isinstance(words, list)
    kw = struct.unpack(">f", struct.pack(">HH", *words))[0]
    assert kw == pytest.approx(w / 1000.0, rel=1e-6)  # DDSU666 holds kW: scale 1000


def test_same_seed_same_meter_other_seed_other_meter(profiles: Path) -> None:
    clock = ManualClock(at(12.0))
    p = profiles / "eastron_sdm120.yaml"
    a, b, c = (SimMeter(1, p, clock=clock, seed=s) for s in (11, 11, 12))
    clock.advance(7200)
    assert a.values() == b.values()
    assert a.values() != c.values()


def test_totals_do_not_depend_on_how_often_the_meter_is_read(profiles: Path) -> None:
    clock = ManualClock(at(6.0))
    p = profiles / "eastron_sdm120.yaml"
    often, rarely = SimMeter(1, p, clock=clock), SimMeter(1, p, clock=clock)
    for _ in range(600):
        clock.advance(37)
        often.value("energy_import_kwh")
    assert often.value("energy_import_kwh") == pytest.approx(
        rarely.value("energy_import_kwh"), rel=1e-6)


def test_speedup_makes_a_minute_an_hour(profiles: Path) -> None:
    real = ManualClock(at(18.0))
    fast = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=real, speedup=60.0)
    slow_clock = ManualClock(at(18.0))
    slow = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=slow_clock)
    e_fast, e_slow = fast.value("energy_import_kwh"), slow.value("energy_import_kwh")
    real.advance(60)
    slow_clock.advance(3600)
    gained = fast.value("energy_import_kwh") - e_fast
    assert gained > 0.1
    assert gained == pytest.approx(slow.value("energy_import_kwh") - e_slow, rel=1e-6)


def test_clock_going_back_never_lowers_a_total(profiles: Path) -> None:
    clock = ManualClock(at(20.0))
    m = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock)
    clock.advance(3600)
    high = m.value("energy_import_kwh")
    clock.advance(-1800)
    assert m.value("energy_import_kwh") == high


def test_set_value_pins_instants_and_moves_totals(profiles: Path) -> None:
    clock = ManualClock(at(9.0))
    m = SimMeter(1, profiles / "eastron_sdm120.yaml", clock=clock)
    m.set_value("voltage", 230.0)
    m.set_value("energy_import_kwh", 1000.0)
    clock.advance(3600)
    assert m.value("voltage") == 230.0
    assert m.value("energy_import_kwh") > 1000.0
    m.set_value("voltage", None)
    assert m.value("voltage") != 230.0
    with pytest.raises(KeyError):
        m.set_value("flow_m3h", 1.0)


def test_water_meter_flows_until_the_valve_closes(profiles: Path) -> None:
    clock = ManualClock(at(7.0))
    w = SimMeter(4, profiles / "xintai_water.yaml", clock=clock)
    start = w.value("water_forward_m3")
    clock.advance(1800)
    assert w.value("flow_m3h") > 0.0
    after_shower = w.value("water_forward_m3")
    assert after_shower > start
    w.set_value("valve_state", 2)
    clock.advance(1800)
    assert w.value("flow_m3h") == 0.0
    assert w.value("water_forward_m3") == after_shower
