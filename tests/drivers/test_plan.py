"""Read planning: fewest requests within the gap and 125-register limits."""

from __future__ import annotations

import pytest

from drivers.modbus.model import RegisterSpec
from drivers.modbus.plan import PlanError, plan_reads
from tests.drivers.profiles import PROFILE_IDS, load_profile


def reg(name: str, address: int, fc: int = 4, data_type: str = "float32") -> RegisterSpec:
    return RegisterSpec(name=name, address=address, function_code=fc,  # type: ignore[arg-type]
                        data_type=data_type)  # type: ignore[arg-type]


def shape(reqs: list) -> list[tuple[int, int, int]]:
    return [(r.function_code, r.address, r.count) for r in reqs]


def test_contiguous_registers_are_one_read() -> None:
    reqs = plan_reads([reg("a", 0), reg("b", 2), reg("c", 4)])
    assert shape(reqs) == [(4, 0, 6)]
    assert [s.name for s in reqs[0].registers] == ["a", "b", "c"]


def test_gap_at_the_limit_merges_and_one_beyond_splits() -> None:
    # a ends at 2; b starts at 12 → gap of 10 registers.
    assert shape(plan_reads([reg("a", 0), reg("b", 12)], max_gap=10)) == [(4, 0, 14)]
    assert shape(plan_reads([reg("a", 0), reg("b", 13)], max_gap=10)) == [(4, 0, 2), (4, 13, 2)]
    assert shape(plan_reads([reg("a", 0), reg("b", 2)], max_gap=0)) == [(4, 0, 4)]


def test_function_codes_never_share_a_read() -> None:
    reqs = plan_reads([reg("a", 0, fc=3), reg("b", 2, fc=4), reg("c", 4, fc=3)])
    assert shape(reqs) == [(3, 0, 6), (4, 2, 2)]


def test_a_read_never_exceeds_125_registers() -> None:
    specs = [reg(f"r{i}", i * 2) for i in range(100)]  # 200 contiguous registers
    reqs = plan_reads(specs)
    assert all(r.count <= 125 for r in reqs)
    assert len(reqs) == 2
    assert sum(len(r.registers) for r in reqs) == 100
    # A 32-bit value is never split across two reads.
    assert reqs[0].address + reqs[0].count == reqs[1].address


def test_unsorted_input_and_16_bit_values() -> None:
    reqs = plan_reads([reg("v", 0x1C, fc=3, data_type="uint16"), reg("f", 1, fc=3),
                       reg("r", 3, fc=3)], max_gap=10)
    assert shape(reqs) == [(3, 1, 4), (3, 0x1C, 1)]


def test_slice_for_picks_the_words_of_one_register() -> None:
    (req,) = plan_reads([reg("a", 10), reg("b", 14)], max_gap=10)
    words = [10, 11, 12, 13, 14, 15]
    assert req.slice_for(req.registers[1], words) == [14, 15]


@pytest.mark.parametrize(
    "specs",
    [[reg("a", 0), reg("a", 2)], [reg("a", 0xFFFF)], [reg("a", -1)], [reg("a", 0, fc=1)]],
)
def test_bad_profiles_are_refused(specs: list[RegisterSpec]) -> None:
    with pytest.raises(PlanError):
        plan_reads(specs)


def test_shipped_profiles_plan_into_few_reads() -> None:
    plans = {pid: shape(plan_reads(load_profile(pid).registers, load_profile(pid).max_gap))
             for pid in PROFILE_IDS}
    assert plans["eastron_sdm120"] == [(4, 0x00, 0x0E), (4, 0x1E, 2), (4, 0x46, 6),
                                       (4, 0x156, 2)]
    assert plans["chint_dtsu666"] == [(3, 0x2006, 14), (3, 0x202A, 2), (3, 0x2044, 2),
                                      (3, 0x4000, 2)]
    assert plans["xintai_water"] == [(3, 0x01, 6), (3, 0x1C, 1)]
    for pid in PROFILE_IDS:
        profile = load_profile(pid)
        covered = {s.name for r in plan_reads(profile.registers) for s in r.registers}
        assert covered == {s.name for s in profile.registers}
