"""Device profiles (configs/profiles/*.yaml) read as plain data, and the register map they imply.

The simulator reads the same YAML files the edge does, but with its own small reader: it must
not import the edge or the drivers (see docs/architecture.md, import rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulators.modbus.encode import DATA_TYPES, ORDERS, word_count

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3


@dataclass(frozen=True)
class SimRegister:
    """One named value of a profile and where it lives on the wire."""

    name: str
    address: int
    function_code: int
    data_type: str
    order: str
    scale: float
    unit: str

    @property
    def words(self) -> int:
        return word_count(self.data_type)


@dataclass(frozen=True)
class SimProfile:
    id: str
    name: str
    kind: str
    registers: tuple[SimRegister, ...]

    def register(self, name: str) -> SimRegister:
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise KeyError(f"profile {self.id} has no register {name!r}")

    def names(self) -> set[str]:
        return {r.name for r in self.registers}


def load_profile(profile: Path | dict[str, Any]) -> SimProfile:
    """Read a profile file (or an already parsed mapping) and check what the simulator needs."""
    raw: Any = profile
    if isinstance(profile, Path):
        raw = yaml.safe_load(profile.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("registers"), list):
        raise ValueError(f"not a device profile: {profile!r}")
    fc_default = int(raw.get("function_code", 3))
    dt_default = str(raw.get("data_type", "float32"))
    order_default = str(raw.get("order", "ABCD"))
    regs: list[SimRegister] = []
    for entry in raw["registers"]:
        reg = SimRegister(
            name=str(entry["name"]),
            address=int(entry["address"]),
            function_code=int(entry.get("function_code", fc_default)),
            data_type=str(entry.get("data_type", dt_default)),
            order=str(entry.get("order", order_default)),
            scale=float(entry.get("scale", 1.0)),
            unit=str(entry.get("unit", "")),
        )
        if reg.function_code not in (3, 4):
            raise ValueError(f"{reg.name}: function_code must be 3 or 4")
        if reg.data_type not in DATA_TYPES or reg.order not in ORDERS:
            raise ValueError(f"{reg.name}: bad data_type/order {reg.data_type}/{reg.order}")
        regs.append(reg)
    return SimProfile(id=str(raw.get("id", "?")), name=str(raw.get("name", "")),
                      kind=str(raw.get("kind", "energy_meter")), registers=tuple(regs))


class RegisterMap:
    """Which words a meter answers for, per function code.

    A real meter refuses a read that starts or ends outside its register table (exception 2),
    but a batched read across small holes between defined registers is answered with zeros
    there; the driver relies on that when it merges nearby registers into one request.
    """

    def __init__(self, profile: SimProfile) -> None:
        self._owner: dict[tuple[int, int], tuple[SimRegister, int]] = {}
        for reg in profile.registers:
            for i in range(reg.words):
                self._owner[(reg.function_code, reg.address + i)] = (reg, i)

    def plan(self, function_code: int, address: int, count: int
             ) -> list[tuple[SimRegister, int] | None] | int:
        """For each requested word: (register, word index) or None for a gap; or an error code."""
        if not 1 <= count <= 125:
            return ILLEGAL_VALUE
        first = self._owner.get((function_code, address))
        last = self._owner.get((function_code, address + count - 1))
        if first is None or last is None:
            return ILLEGAL_ADDRESS
        return [self._owner.get((function_code, a)) for a in range(address, address + count)]
