"""Group a profile's registers into the fewest Modbus read requests.

On a 9600-baud RS-485 line each request costs a round trip of tens of milliseconds, so reading
a few unused registers between two wanted ones is cheaper than a second request. ``max_gap``
bounds how many unused registers are read through (some meters answer an exception when a read
touches reserved addresses, so the profile keeps the choice); 125 is the protocol's ceiling
for one read of holding/input registers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.modbus.model import RegisterSpec

MAX_REGISTERS_PER_READ = 125
ADDRESS_SPACE = 0x10000


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read on the wire and the registers it answers."""

    function_code: int
    address: int
    count: int
    registers: tuple[RegisterSpec, ...]

    def slice_for(self, spec: RegisterSpec, words: Sequence[int]) -> list[int]:
        """The words of ``spec`` within the reply ``words`` of this request."""
        start = spec.address - self.address
        return list(words[start : start + spec.width])


class PlanError(ValueError):
    """A profile whose registers cannot be read (bad address or duplicate name)."""


def _validate(registers: Iterable[RegisterSpec]) -> list[RegisterSpec]:
    seen: set[str] = set()
    out: list[RegisterSpec] = []
    for spec in registers:
        if spec.name in seen:
            raise PlanError(f"register name {spec.name!r} appears twice")
        seen.add(spec.name)
        if not (0 <= spec.address and spec.address + spec.width <= ADDRESS_SPACE):
            raise PlanError(f"register {spec.name!r} at {spec.address:#06x} is outside 0..0xFFFF")
        if spec.function_code not in (3, 4):
            raise PlanError(f"register {spec.name!r}: function code must be 3 or 4")
        out.append(spec)
    return out


def plan_reads(registers: Iterable[RegisterSpec], max_gap: int = 10) -> list[ReadRequest]:
    """Fewest requests covering ``registers``: same function code, gaps ≤ ``max_gap``, ≤ 125.

    Greedy extension over address-sorted registers is optimal here: a block only ever grows to
    the right, and closing a block later never costs an extra request.
    """
    if max_gap < 0:
        raise PlanError("max_gap must be ≥ 0")
    specs = _validate(registers)
    requests: list[ReadRequest] = []
    for fc in sorted({s.function_code for s in specs}):
        ordered = sorted((s for s in specs if s.function_code == fc),
                         key=lambda s: (s.address, s.width))
        block: list[RegisterSpec] = []
        start = end = 0
        for spec in ordered:
            spec_end = spec.address + spec.width
            if block and spec.address - end <= max_gap and \
                    max(end, spec_end) - start <= MAX_REGISTERS_PER_READ:
                block.append(spec)
                end = max(end, spec_end)
                continue
            if block:
                requests.append(ReadRequest(fc, start, end - start, tuple(block)))
            block, start, end = [spec], spec.address, spec_end
        if block:
            requests.append(ReadRequest(fc, start, end - start, tuple(block)))
    return requests
