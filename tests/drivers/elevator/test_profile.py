"""Elevator box profiles: the shipped ones load and decode; broken ones say where and how."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.elevator.decode import BadReading, decode, plan
from drivers.elevator.model import Direction, Door
from drivers.elevator.profile import ProfileError, load_profile, load_profiles
from tests.drivers.elevator.conftest import GENERIC, PROFILES, VENDOR

GOOD = """\
id: {id}
name: 测试终端 / test box
function_code: 3
registers:
  direction: {{address: 0}}
  door_zone: {{address: 1}}
  floor: {{address: 2, signed: true}}
  door: {{address: 3}}
  fault_code: {{address: 4}}
faults:
  - {{code: 1, key: trapped_between_floors, zh: 非平层困人, en: trapped, severity: critical,
     trapped: true}}
"""


def write(tmp_path: Path, text: str, name: str = "box") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    return [str(p) for p in err.value.problems]


def test_the_shipped_profiles_load_and_one_has_no_control_register() -> None:
    profiles = load_profiles(PROFILES)
    assert {GENERIC, VENDOR} <= set(profiles)
    generic, vendor = profiles[GENERIC], profiles[VENDOR]
    assert generic.control is not None and generic.control.recall_value == 1
    assert vendor.control is None
    for p in (generic, vendor):
        keys = {f.key for f in p.faults if f.trapped}
        assert keys == {"trapped_between_floors", "trapped_at_landing"}
    assert [(r.function_code, r.address, r.count) for r in plan(generic)] == [(3, 0, 9)]
    assert [(r.function_code, r.address, r.count) for r in plan(vendor)] == [(4, 0x1000, 4)]


def test_vendor_status_word_decodes_by_its_own_bit_layout() -> None:
    vendor = load_profile(PROFILES / f"{VENDOR}.yaml")
    # down (2), door zone, door "open" (this vendor's 2), people; floor B2; two fault codes.
    status = 0b10 | 1 << 2 | 2 << 3 | 1 << 5
    r = decode(vendor, {0x1000: status, 0x1001: 0xFFFE, 0x1002: 0x0102, 0x1003: 0x0501})
    assert (r.direction, r.in_door_zone, r.door, r.people) == (Direction.DOWN, True, Door.OPEN,
                                                               True)
    assert r.floor == -2
    assert not r.inspection and not r.maintenance
    assert r.fault_codes == {0x0102, 0x0501}
    with pytest.raises(BadReading, match="direction = 3"):
        decode(vendor, {0x1000: 0b11, 0x1001: 1, 0x1002: 0, 0x1003: 0})


def test_generic_bitmask_and_undocumented_codes() -> None:
    generic = load_profile(PROFILES / f"{GENERIC}.yaml")
    words = dict.fromkeys(range(9), 0) | {2: 5, 7: 999, 8: 0b1000_0001}
    r = decode(generic, words)
    assert r.fault_codes == {999, 13, 0x10000 + 7}
    assert generic.fault(999).zh == "未知故障码 999" and generic.fault(999).severity == "major"
    assert generic.fault(0x10000 + 7).en == "undocumented fault bit 7"


def test_a_minimal_profile_takes_the_gb_t_24476_numbering(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD.format(id="box")))
    r = decode(profile, {0: 1, 1: 0, 2: 3, 3: 3, 4: 0})
    assert (r.direction, r.door, r.people) == (Direction.UP, Door.OPENING, None)


def test_every_problem_is_reported_with_file_line_and_fix(tmp_path: Path) -> None:
    text = GOOD.format(id="other").replace(
        "  door: {address: 3}", "  door: {address: 0, bit: 3, width: 2}\n  peeple: {address: 9}"
    ).replace("function_code: 3", "function_code: 6") + (
        "  - {code: 1, key: alarm_buton, zh: 报警, en: alarm, severity: loud, bit: 0}\n"
        "  - {code: 2, key: trapped_at_landing, zh: 平层困人, en: trapped, severity: critical}\n")
    path = write(tmp_path, text)
    found = problems(path)
    where = str(path)
    expect = [
        (1, 'id "other" differs from the file name box.yaml', "write id: box"),
        (3, "function_code must be 3 or 4", "3 for holding registers"),
        (8, "door overlaps direction (line 5)", "disjoint bits"),
        (9, 'unknown key "peeple"', 'did you mean "people"?'),
        (14, "faults[2].key 'alarm_buton' is not a known fault kind",
         'did you mean "alarm_button"?'),
        (14, "faults[2].severity must be one of", "critical for trapped"),
        (14, "faults[2].bit needs registers.fault_bits", "add fault_bits under registers"),
        (14, "faults[2].code 1 repeats line 12", "list each fault once"),
        (15, "faults[3] is a trapped-passenger code without trapped", "add trapped: true"),
    ]
    for line, what, fix in expect:
        hits = [p for p in found if p.startswith(f"{where}:{line}:") and what in p and fix in p]
        assert hits, f"no problem at line {line} saying {what!r}: {found}"
    assert all(" — " in p and " / " in p for p in found), "zh / en, then how to fix"
    assert len(found) == len(expect)


def test_yaml_syntax_errors_and_duplicate_keys_point_at_the_line(tmp_path: Path) -> None:
    broken = write(tmp_path, GOOD.format(id="box").replace("  floor: {address: 2, signed: true}",
                                                           "  floor: {address: 2, signed: true"))
    (problem,) = problems(broken)
    assert problem.startswith(f"{broken}:") and "YAML syntax error" in problem
    twice = write(tmp_path, GOOD.format(id="box") + "id: box\n")
    assert any('duplicate key "id"' in p and p.startswith(f"{twice}:13:1:")
               for p in problems(twice))


def test_load_profiles_reports_all_files_and_a_missing_directory(tmp_path: Path) -> None:
    write(tmp_path, GOOD.format(id="a"), "a")
    write(tmp_path, GOOD.format(id="b").replace("  fault_code: {address: 4}\n", ""), "b")
    write(tmp_path, GOOD.format(id="x"), "c")
    with pytest.raises(ProfileError) as err:
        load_profiles(tmp_path)
    text = str(err.value)
    assert "b.yaml:4:1: registers 缺少 fault_code / registers has no fault_code" in text
    assert 'c.yaml:1:1: id "x" 与文件名 c.yaml 不一致' in text
    assert "a.yaml" not in text
    with pytest.raises(ProfileError, match="elevator profiles directory not found"):
        load_profiles(tmp_path / "nowhere")
