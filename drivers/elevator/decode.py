"""Registers of a monitoring box → one ``Reading``, by the box's profile.

The reads are planned once per profile (the fewest requests covering every item, as for
meters). A value the profile has no name for (direction 7, a door state 9) means the box or
the line is talking nonsense: the whole reading is refused as garbage rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.elevator.model import Direction, Door, ElevatorProfile, FieldSpec, Reading
from drivers.modbus.model import RegisterSpec
from drivers.modbus.plan import ReadRequest, plan_reads


class BadReading(ValueError):
    """Registers that do not decode to a state (a value outside the profile's table)."""


def plan(profile: ElevatorProfile) -> list[ReadRequest]:
    """Requests covering every register the profile uses (one spec per distinct address)."""
    addresses = sorted({f.address for f in profile.fields})
    specs = [RegisterSpec(name=f"r{a:04x}", address=a, function_code=profile.function_code,
                          data_type="uint16") for a in addresses]
    return plan_reads(specs, profile.max_gap)


def words_by_address(requests: list[ReadRequest],
                     replies: list[list[int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for req, words in zip(requests, replies, strict=True):
        for i, word in enumerate(words):
            out[req.address + i] = word
    return out


def decode(profile: ElevatorProfile, words: Mapping[int, int]) -> Reading:
    """The box's state from ``words`` (address → 16-bit register), or BadReading."""

    def raw(name: str) -> int | None:
        spec = profile.field_spec(name)
        if spec is None:
            return None
        return spec.raw(words[spec.address])

    def named(name: str) -> str:
        spec = profile.field_spec(name)
        assert spec is not None  # required by the profile checker
        value = spec.raw(words[spec.address])
        label = spec.name_of(value)
        if label is None:
            raise BadReading(f"{name} = {value} is not in the profile's table "
                             f"({_table(spec)})")
        return label

    def flag(name: str) -> bool | None:
        value = raw(name)
        return None if value is None else value != 0

    codes: set[int] = set()
    for name in ("fault_code", "fault_code_2"):
        value = raw(name)
        if value:
            codes.add(value)
    bits = raw("fault_bits")
    if bits:
        codes.update(profile.code_for_bit(n) for n in range(16) if bits >> n & 1)
    floor = raw("floor")
    assert floor is not None
    return Reading(direction=Direction(named("direction")),
                   in_door_zone=bool(flag("door_zone")), floor=floor,
                   door=Door(named("door")), people=flag("people"),
                   inspection=bool(flag("inspection")), maintenance=bool(flag("maintenance")),
                   fault_codes=frozenset(codes))


def _table(spec: FieldSpec) -> str:
    return ", ".join(f"{raw}={name}" for raw, name in spec.values)
