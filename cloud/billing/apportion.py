"""Shared consumption (公摊) apportioned to units by area or by usage, exact to the fen.

Largest-remainder: each unit gets the floor of its exact share in fen, and the fen left over
go one each to the units with the largest remainders (ties: lower unit id first), so the parts
always add up to the pool's amount exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from cloud.billing.money import from_fen_int, to_fen_int

_SCALE = 10**6


def largest_remainder(amount: Decimal, weights: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """``amount`` (yuan, fen-exact, ≥ 0) split over ``weights`` (key → weight ≥ 0).

    All weights zero: nobody is charged (an empty dict), the caller decides what then.
    """
    total_fen = to_fen_int(amount)
    ints = {k: int(w * _SCALE) for k, w in weights.items() if w > 0}
    total_w = sum(ints.values())
    if total_w == 0 or total_fen <= 0:
        return {}
    floors: dict[int, int] = {}
    rests: list[tuple[int, int]] = []
    for k, w in ints.items():
        q, r = divmod(total_fen * w, total_w)
        floors[k] = q
        rests.append((r, k))
    left = total_fen - sum(floors.values())
    for _r, k in sorted(rests, key=lambda rk: (-rk[0], rk[1]))[:left]:
        floors[k] += 1
    return {k: from_fen_int(v) for k, v in floors.items()}
