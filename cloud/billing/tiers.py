"""Tiered prices (阶梯价): consumption split over bands, each band at its own price.

Band limits are per month of consumption and scale with the months in the cycle (a quarterly
bill's first band is three times the monthly one). One bill line per band used, each rounded
to the fen on its own (``cloud.billing.money``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Tier:
    upto: Decimal | None  # per month; None: no upper limit (the last band)
    price: Decimal


@dataclass(frozen=True, slots=True)
class Band:
    index: int  # 1-based
    lower: Decimal
    upper: Decimal | None
    quantity: Decimal
    price: Decimal


def split(consumption: Decimal, tiers: list[Tier], months: int = 1) -> list[Band]:
    """The bands ``consumption`` falls into, in order; nothing for zero or less."""
    out: list[Band] = []
    lower = Decimal(0)
    left = consumption
    for i, tier in enumerate(tiers, 1):
        if left <= 0:
            break
        upper = None if tier.upto is None else tier.upto * months
        width = left if upper is None else min(left, upper - lower)
        if width > 0:
            out.append(Band(i, lower, upper, width, tier.price))
            left -= width
        if upper is None:
            break
        lower = upper
    return out
