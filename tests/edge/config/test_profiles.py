"""Profile files: hex addresses, per-register overrides, and register maps that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_profile, load_profiles
from tests.edge.config.conftest import DATA, FIXTURE_PROFILES

REAL_PROFILES = Path(__file__).resolve().parents[3] / "configs" / "profiles"

GOOD = """\
id: meter_x
name: 测试表 Meter X
kind: energy_meter
function_code: 4
data_type: float32
order: CDAB
max_gap: 4
registers:
  - {name: voltage, address: 0x0000, unit: V}
  - {name: energy_import_kwh, address: 0x0048, unit: kWh, billing: true}
  - {name: valve_state, address: 0x001C, data_type: uint16, function_code: 3}
  - {name: energy_total_kwh, address: 342, scale: 0.01, order: ABCD}
"""


def _write(tmp_path: Path, text: str, name: str = "meter_x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    return [str(p) for p in err.value.problems]


def test_hex_addresses_defaults_and_overrides(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, GOOD))
    regs = {r.name: r for r in profile.registers}
    assert (profile.id, profile.kind, profile.max_gap) == ("meter_x", "energy_meter", 4)
    assert regs["energy_import_kwh"].address == 0x48 == 72
    assert regs["energy_import_kwh"].billing and not regs["voltage"].billing
    assert regs["voltage"].order == "CDAB" and regs["voltage"].function_code == 4
    assert regs["valve_state"].data_type == "uint16" and regs["valve_state"].function_code == 3
    assert regs["valve_state"].width == 1
    assert regs["energy_total_kwh"].order == "ABCD" and regs["energy_total_kwh"].scale == 0.01


def test_overlapping_registers_of_one_function_code_are_refused() -> None:
    problems = _problems(DATA / "overlapping_profile.yaml")
    assert len(problems) == 1, problems  # "frequency" is FC 3: a different register table
    assert ":8:" in problems[0] and '"current"' in problems[0] and '"voltage"' in problems[0]
    assert "line 7" in problems[0]


def test_register_map_mistakes_are_all_reported(tmp_path: Path) -> None:
    text = GOOD.replace("max_gap: 4", "max_gap: 101").replace(
        "name: valve_state, address: 0x001C", "name: voltage, address: 0x001C").replace(
        "address: 342", "address: 0xFFFF") + "  - {name: bad, adress: 3}\n"
    problems = _problems(_write(tmp_path, text))
    assert len(problems) == 4, problems
    assert ":7:" in problems[0] and "max_gap" in problems[0]
    assert ":11:" in problems[1] and 'register "voltage" repeats line 9' in problems[1]
    assert ":12:" in problems[2] and "runs past 0xFFFF" in problems[2]
    assert ":13:" in problems[3] and 'did you mean "address"' in problems[3]


def test_profile_id_must_match_file_name(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, GOOD, name="meter_y.yaml"))
    assert len(problems) == 1 and ":1:5:" in problems[0] and "id: meter_y" in problems[0]


def test_wrong_kind_and_order_suggest_the_closest(tmp_path: Path) -> None:
    text = GOOD.replace("kind: energy_meter", "kind: energy_metre").replace("CDAB", "CDBA")
    problems = _problems(_write(tmp_path, text))
    assert len(problems) == 2
    assert 'did you mean "energy_meter"' in problems[0]
    assert "one of: ABCD | CDAB | BADC | DCBA" in problems[1]


def test_load_profiles_collects_problems_across_files(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    _write(tmp_path, GOOD.replace("meter_x", "meter_z").replace("0x0048", "0x0001"),
           name="meter_z.yaml")
    with pytest.raises(ConfigError) as err:
        load_profiles(tmp_path)
    assert [Path(p.file).name for p in err.value.problems] == ["meter_z.yaml"]
    assert set(load_profiles(FIXTURE_PROFILES)) == {
        "eastron_sdm120", "eastron_sdm630", "chint_ddsu666", "chint_dtsu666", "xintai_water"}


@pytest.mark.skipif(not REAL_PROFILES.is_dir(), reason="configs/profiles not in this checkout")
def test_real_profiles_load_clean() -> None:
    profiles = load_profiles(REAL_PROFILES)
    assert profiles, "configs/profiles holds no profile"
    for profile in profiles.values():
        assert profile.registers and any(r.billing for r in profile.registers), profile.id
