"""A monitoring box's register layout, read from the same profile files the edge uses.

The simulator has its own reader (simulators never import drivers/): it only needs where each
item goes and how it is numbered, to *encode* a car's state, the inverse of what the driver
does. Reading the shared file keeps a simulated box and the edge on the same map without
copying it; the tests pin both sides to hand-computed register values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import configs

PROFILES_DIR = configs.path("elevators")
#: GB/T 24476 numbering, when a profile gives no ``values`` of its own.
DEFAULT_VALUES = {"direction": {"stopped": 0, "up": 1, "down": 2},
                  "door": {"closed": 0, "open": 1, "closing": 2, "opening": 3}}


@dataclass(frozen=True, slots=True)
class Item:
    """Where one data item sits: a whole register, or ``width`` bits from ``bit``."""

    address: int
    bit: int | None = None
    width: int = 1
    signed: bool = False
    codes: dict[str, int] = field(default_factory=dict)  # name → raw (direction, door)

    def put(self, words: dict[int, int], raw: int) -> None:
        if self.bit is None:
            words[self.address] = raw & 0xFFFF  # two's complement for a negative floor
            return
        mask = ((1 << self.width) - 1) << self.bit
        words[self.address] = (words.get(self.address, 0) & ~mask) | ((raw << self.bit) & mask)


@dataclass(frozen=True, slots=True)
class Fault:
    key: str
    code: int
    bit: int | None
    trapped: bool


@dataclass(frozen=True, slots=True)
class Layout:
    id: str
    function_code: int
    items: dict[str, Item]
    faults: tuple[Fault, ...]
    control_address: int | None = None
    control_function_code: int = 6
    recall_value: int | None = None

    def fault(self, key: str) -> Fault | None:
        return next((f for f in self.faults if f.key == key), None)

    @property
    def span(self) -> tuple[int, int]:
        """First and last register of the map (reads inside it answer, reserved ones 0)."""
        addresses = [i.address for i in self.items.values()]
        if self.control_address is not None:
            addresses.append(self.control_address)
        return min(addresses), max(addresses)


def find_profile(name: str, directory: Path = PROFILES_DIR) -> Path:
    """A profile file by path, id, or unambiguous start of an id (``generic``)."""
    as_path = Path(name)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        return as_path
    exact = directory / f"{name}.yaml"
    if exact.is_file():
        return exact
    matches = sorted(p for p in directory.glob(f"{name}*.yaml"))
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(p.stem for p in sorted(directory.glob("*.yaml"))) or "none"
    raise ValueError(f"电梯型号 {name!r} 不存在或不唯一 / elevator profile {name!r} not found "
                     f"or ambiguous in {directory} (known: {known})")


def load_layout(path: Path) -> Layout:
    """Read what the simulator needs from a profile; ValueError naming the file if unusable."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return _layout(raw)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: 无法用作电梯模拟的型号 / not usable as an elevator layout: "
                         f"{type(exc).__name__}: {exc}") from exc


def _layout(raw: dict[str, Any]) -> Layout:
    items: dict[str, Item] = {}
    for name, spec in raw["registers"].items():
        values = spec.get("values")
        codes = ({str(v): int(k) for k, v in values.items()} if values
                 else dict(DEFAULT_VALUES.get(name, {})))
        items[name] = Item(address=int(spec["address"]), bit=spec.get("bit"),
                           width=int(spec.get("width", 1)), signed=bool(spec.get("signed")),
                           codes=codes)
    faults = tuple(Fault(key=str(f["key"]), code=int(f["code"]), bit=f.get("bit"),
                         trapped=bool(f.get("trapped", False))) for f in raw["faults"])
    control = raw.get("control") or {}
    return Layout(id=str(raw["id"]), function_code=int(raw.get("function_code", 3)),
                  items=items, faults=faults,
                  control_address=int(control["address"]) if control else None,
                  control_function_code=int(control.get("function_code", 6)),
                  recall_value=int(control["recall"]) if control else None)
