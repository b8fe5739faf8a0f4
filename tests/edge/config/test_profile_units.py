"""A register name means one thing in every profile (contract/registers.py): its unit is
checked when profiles load, each problem at FILE:LINE:COL; and the simulators serve what the
edge then reads, in those units."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract.registers import canonical_unit
from drivers.modbus.codec import decode
from edge.config import ConfigError, load_profile, load_profiles
from simulators.modbus import SimMeter

REAL_PROFILES = Path(__file__).resolve().parents[3] / "configs" / "profiles"

HEAD = """\
id: {id}
name: 测试表
kind: energy_meter
function_code: 3
registers:
  - {{name: voltage, address: 0x0000, unit: V}}
"""


def _profile(tmp_path: Path, body: str, pid: str = "meter_u") -> Path:
    path = tmp_path / f"{pid}.yaml"
    path.write_text(HEAD.format(id=pid) + body, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    return [str(p) for p in err.value.problems]


def test_a_known_name_in_another_unit_is_refused_with_the_scale_to_write(
        tmp_path: Path) -> None:
    path = _profile(tmp_path, "  - {name: power_w, address: 0x0004, unit: kW}\n")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:7:44: ")  # the unit's value on line 7
    assert '"power_w" must be in "W", not "kW"' in problem
    assert "unit: W, wire_unit: kW, scale: 1000" in problem


def test_a_scale_that_does_not_turn_the_wire_unit_into_the_name_unit_is_refused(
        tmp_path: Path) -> None:
    path = _profile(tmp_path,
                    "  - {name: power_w, address: 0x0004, wire_unit: kW, scale: 0.001, unit: W}\n"
                    "  - {name: energy_import_kwh, address: 0x0010, wire_unit: Wh, unit: kWh}\n"
                    "  - {name: water_forward_m3, address: 0x0020, wire_unit: kWh, unit: m3}\n")
    problems = _problems(path)
    assert len(problems) == 3, problems
    assert problems[0].startswith(f"{path}:7:") and "scale 0.001 does not turn kW into W" \
        in problems[0] and "write scale: 1000" in problems[0]
    assert ":7:60: " in problems[0]  # at the scale
    assert problems[1].startswith(f"{path}:8:") and "write scale: 0.001" in problems[1]
    assert ":8:59: " in problems[1]  # no scale written: at the wire unit
    assert problems[2].startswith(f"{path}:9:") and '"kWh" does not convert to "m3"' \
        in problems[2]


def test_units_implied_by_a_name_suffix_and_aliases(tmp_path: Path) -> None:
    path = _profile(tmp_path, "  - {name: line_ab_v, address: 0x0004, unit: A}\n"
                              "  - {name: water_forward_m3, address: 0x0010, unit: m³}\n")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:7:") and '"line_ab_v" must be in "V"' in problem
    regs = {r.name: r for r in load_profile(_profile(
        tmp_path, "  - {name: water_forward_m3, address: 0x0010, unit: m³}\n"
                  "  - {name: energy_import_kwh, address: 0x0020}\n", "meter_ok")).registers}
    assert regs["water_forward_m3"].unit == "m3"  # m³ is spelt m3
    assert regs["energy_import_kwh"].unit == "kWh"  # no unit written: the name's


def test_an_unknown_name_has_one_unit_across_profiles(tmp_path: Path) -> None:
    _profile(tmp_path, "  - {name: temperature, address: 0x0004, unit: °C}\n", "meter_a")
    second = _profile(tmp_path, "  - {name: temperature, address: 0x0004, unit: K}\n",
                      "meter_b")
    with pytest.raises(ConfigError) as err:
        load_profiles(tmp_path)
    [problem] = [str(p) for p in err.value.problems]
    assert problem.startswith(f"{second}:7:48: ")
    assert '"temperature" is in "K" here but in "°C" at' in problem
    assert "meter_a.yaml:7" in problem


def test_only_a_known_counter_may_be_billed(tmp_path: Path) -> None:
    path = _profile(tmp_path, "  - {name: water_m3, address: 0x0004, unit: m3, billing: true}\n")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:7:")
    assert '"water_m3" is not a billing counter' in problem and "water_forward_m3" in problem


def test_all_problems_of_a_file_come_together(tmp_path: Path) -> None:
    path = _profile(tmp_path, "  - {name: power_w, address: 0x0004, unit: kW}\n"
                              "  - {name: frequency_hz, address: 0x0010, unit: kHz}\n"
                              "  - {name: energy_import_kwh, address: 0x0020, unit: Wh}\n")
    problems = _problems(path)
    assert [p.split(": ")[0].split(":")[1] for p in problems] == ["7", "8", "9"]


@pytest.mark.parametrize("profile_id", sorted(p.stem for p in REAL_PROFILES.glob("*.yaml")))
def test_shipped_profiles_load_and_the_simulator_serves_the_named_units(
        profile_id: str) -> None:
    profile = load_profiles(REAL_PROFILES)[profile_id]
    t = datetime(2026, 11, 20, 11, 30, tzinfo=UTC).timestamp()  # 19:30 in Shanghai
    meter = SimMeter(1, REAL_PROFILES / f"{profile_id}.yaml", clock=lambda: t)
    served = meter.values()
    for reg in profile.registers:
        assert reg.unit == (canonical_unit(reg.name) or reg.unit), reg.name
        words = meter.read_registers(reg.function_code, reg.address, reg.width)
        assert isinstance(words, list)
        read = decode(words, reg.data_type, reg.order, reg.scale)
        assert read == pytest.approx(served[reg.name], rel=1e-5, abs=1e-6), reg.name
    if "power_w" in served:  # watts, whatever the meter holds: a flat's evening, not kW
        assert 50.0 < served["power_w"] < 40000.0
    if "frequency_hz" in served:
        assert 49.5 < served["frequency_hz"] < 50.5
