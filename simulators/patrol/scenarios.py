"""Patrol scenarios, composable: ``perfect``, ``skip:<receiver>``, ``late:<seconds>``,
``cloned[:<receiver>]``, ``battery[:<seconds>]``, ``silent:<receiver>[@<seconds>]``, given as
a comma-separated list (``skip:esp-b1,late:120``) or repeated options.

- skip: the guard leaves that checkpoint out, detouring around it (walking past a receiver
  for the dwell time would count as a visit);
- late: every guard starts that many seconds later;
- cloned: a second transmitter with the guard's tag id stands at a far receiver (the one
  farthest from the guard's first checkpoint unless named) while the guard is at his first;
- battery: the guard's Eddystone tag reports a battery falling from 2900 mV to under 2500 mV
  after that many seconds (default 30);
- silent: that receiver stops publishing after that many seconds (default 30).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

NAMES: Final = ("perfect", "skip", "late", "cloned", "battery", "silent")
SILENT_AFTER_S: Final = 30.0
BATTERY_LOW_AFTER_S: Final = 30.0
BATTERY_START_MV: Final = 2900
BATTERY_END_MV: Final = 2400
BATTERY_THRESHOLD_MV: Final = 2500  # the edge's default battery_low_mv
FRESH_BATTERY_MV: Final = 3000


@dataclass(frozen=True)
class Scenario:
    skip: tuple[str, ...] = ()  # "" : the route's second checkpoint
    late_s: float = 0.0
    cloned: bool = False
    cloned_at: str | None = None  # None: the receiver farthest from the first checkpoint
    battery_after_s: float | None = None
    silent: dict[str, float] = field(default_factory=dict)  # receiver ("" : last) → after s

    @property
    def names(self) -> list[str]:
        out = [n for n, on in (("skip", self.skip), ("late", self.late_s),
                               ("cloned", self.cloned),
                               ("battery", self.battery_after_s is not None),
                               ("silent", self.silent)) if on]
        return out or ["perfect"]

    def battery_mv(self, t: float) -> int:
        """The TLM battery at simulated second ``t``: fresh, or falling under the threshold
        ``battery_after_s`` into the run."""
        if self.battery_after_s is None:
            return FRESH_BATTERY_MV
        after = max(self.battery_after_s, 1e-9)
        drop = (BATTERY_START_MV - BATTERY_THRESHOLD_MV) * max(0.0, t) / after
        return max(BATTERY_END_MV, round(BATTERY_START_MV - drop))


def _seconds(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} 应为秒数 / must be seconds, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{what} 不能为负 / must be ≥ 0, got {text!r}")
    return value


def parse_scenario(texts: str | list[str]) -> Scenario:
    """``perfect`` or a composition of the other scenarios (see the module docstring)."""
    items = [texts] if isinstance(texts, str) else texts
    sc = Scenario()
    for item in (p.strip() for t in items for p in t.split(",")):
        if not item:
            continue
        name, _, arg = item.partition(":")
        name = name.strip().lower()
        if name == "perfect":
            continue
        if name == "skip":
            sc = replace(sc, skip=(*sc.skip, arg.strip()))
        elif name == "late":
            if not arg:
                raise ValueError("late 需要秒数，如 late:120 / late needs seconds, e.g. late:120")
            sc = replace(sc, late_s=sc.late_s + _seconds(arg, "late"))
        elif name == "cloned":
            sc = replace(sc, cloned=True, cloned_at=arg.strip() or None)
        elif name == "battery":
            sc = replace(sc, battery_after_s=_seconds(arg, "battery") if arg
                         else BATTERY_LOW_AFTER_S)
        elif name == "silent":
            rid, _, after = arg.partition("@")
            after_s = _seconds(after, "silent") if after else SILENT_AFTER_S
            sc = replace(sc, silent={**sc.silent, rid.strip(): after_s})
        else:
            raise ValueError(f"未知巡更场景 / unknown patrol scenario {name!r} "
                             f"(known: {', '.join(NAMES)})")
    return sc
