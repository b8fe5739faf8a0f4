"""Assets (the equipment ledger) and the maintenance plans that apply to a kind of asset.

Cadences are written as text (``15d``, ``1m``, ``3m``, ``6m``, ``1y``) because that is how
maintenance contracts and TSG T5002 name them; ``cadence_units`` turns them into half-months,
the one unit every cadence here is a whole multiple of (see ``schedule`` for why ``15d`` means
"half a month" rather than fifteen calendar days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

#: Asset kinds the drivers know; a plan file may name others (a site has pumps, too).
KNOWN_KINDS = ("elevator", "fire_system", "meter", "gate", "camera", "pump", "generator")

#: A half-month visit ("半月保养"): twice per calendar month.
HALF_MONTH = "15d"

_CADENCE = re.compile(r"^(?:(15)d|([1-9][0-9]?)m|([1-9])y)$")


def cadence_units(every: str) -> int:
    """Length of a cadence in half-months: 15d → 1, 1m → 2, 3m → 6, 6m → 12, 1y → 24.

    Raises ValueError (zh / en) for anything else: plain day counts other than 15 would not
    line up with the monthly tiers, so they are refused rather than drift.
    """
    m = _CADENCE.match(every.strip())
    if m is None:
        raise ValueError(
            f'无法识别的周期 "{every}"，可用 15d、Nm（月）、Ny（年） / '
            f'unknown cadence "{every}"; use 15d, Nm (months) or Ny (years)')
    half, months, years = m.groups()
    if half:
        return 1
    if months:
        return 2 * int(months)
    return 24 * int(years)


@dataclass(frozen=True, slots=True)
class Asset:
    """One piece of equipment in the ledger (设备台账)."""

    id: str
    site: str
    kind: str
    make: str
    model: str
    serial: str
    install_date: date
    warranty_until: date | None = None
    contract: str | None = None  # the maintenance contract it is serviced under
    building: str | None = None

    def under_warranty(self, on: date) -> bool:
        return self.warranty_until is not None and on <= self.warranty_until


@dataclass(frozen=True, slots=True)
class Tier:
    """A level of maintenance (half-month, quarterly…) with what the technician checks."""

    name: str
    zh: str
    en: str
    every: str
    checklist: tuple[str, ...]

    @property
    def units(self) -> int:
        return cadence_units(self.every)


@dataclass(frozen=True, slots=True)
class Plan:
    """A maintenance plan for every asset of ``asset_kind``.

    ``tiers`` are kept sorted shortest cadence first; the shortest is the visit cadence and
    each longer one must be a whole multiple of it (checked in ``__post_init__``), so a
    bigger tier always lands on a visit instead of adding one.
    """

    id: str
    asset_kind: str
    tiers: tuple[Tier, ...]
    release_days_ahead: int
    skill: str
    category: str
    sla_resolve_s: int
    start: date

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError(f"计划 {self.id} 没有保养级别 / plan {self.id} has no tiers")
        ordered = tuple(sorted(self.tiers, key=lambda t: t.units))
        object.__setattr__(self, "tiers", ordered)
        base = ordered[0].units
        seen: set[int] = set()
        for t in ordered:
            if t.units % base:
                raise ValueError(
                    f"计划 {self.id} 的级别 {t.name}（{t.every}）"
                    f"不是 {ordered[0].every} 的整数倍 / "
                    f"plan {self.id}: tier {t.name} ({t.every}) is not a whole multiple of "
                    f"{ordered[0].every}")
            if t.units in seen:
                raise ValueError(
                    f"计划 {self.id} 有两个周期相同的级别（{t.every}） / "
                    f"plan {self.id} has two tiers with the same cadence ({t.every})")
            seen.add(t.units)
        if self.release_days_ahead < 0:
            raise ValueError(f"计划 {self.id} 的提前下发天数不能为负 / "
                             f"plan {self.id}: release_days_ahead must not be negative")
        if self.sla_resolve_s <= 0:
            raise ValueError(f"计划 {self.id} 的完成时限必须为正 / "
                             f"plan {self.id}: sla_resolve_s must be positive")

    @property
    def base(self) -> Tier:
        """The visit cadence: the tier every visit does at least."""
        return self.tiers[0]

    def tier(self, name: str) -> Tier:
        for t in self.tiers:
            if t.name == name:
                return t
        raise KeyError(name)
