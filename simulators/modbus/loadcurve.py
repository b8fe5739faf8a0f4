"""A household's daily rhythm: low at night, a morning peak, an evening peak.

The curves are smooth functions of the local hour so that readings at the same local time look
alike day after day, which is what a property manager expects to see on a chart.
"""

from __future__ import annotations

import math
import random


def _bump(hour: float, centre: float, width: float) -> float:
    """Gaussian bump on a 24-hour circle (so 23:30 and 00:30 are close)."""
    d = abs(hour - centre) % 24.0
    d = min(d, 24.0 - d)
    return math.exp(-0.5 * (d / width) ** 2)


def electric_load_w(hour: float) -> float:
    """Typical active power of one flat in W at local ``hour`` (0–24).

    Night ≈ 150 W (fridge, standby), morning ≈ 1.2 kW around 07:30, midday ≈ 0.5 kW,
    evening ≈ 2.3 kW around 19:30 (cooking, air conditioning, television).
    """
    return (150.0 + 1100.0 * _bump(hour, 7.5, 0.9) + 350.0 * _bump(hour, 12.3, 1.3)
            + 2150.0 * _bump(hour, 19.5, 1.7))


def water_flow_m3h(hour: float) -> float:
    """Typical water flow of one flat in m³/h: showers and cooking, nothing at night."""
    return (0.005 + 0.45 * _bump(hour, 7.2, 0.6) + 0.15 * _bump(hour, 12.0, 0.8)
            + 0.55 * _bump(hour, 20.5, 1.0))


def noise(seed: int, channel: str, bucket: int, spread: float) -> float:
    """Deterministic noise in [-spread, spread] for one time bucket of one channel.

    Tied to (seed, channel, bucket) rather than a running generator so that a value does not
    depend on how often it was polled.
    """
    rng = random.Random(f"{seed}:{channel}:{bucket}")
    return rng.uniform(-spread, spread)
