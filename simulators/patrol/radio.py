"""How well a receiver hears a tag: log-distance path loss with Gaussian shadowing, lost
packets, and a sensitivity floor. Seeded, so a scenario replays the same adverts."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

PATH_LOSS_N = 2.2  # indoor-ish corridors; 2.0 is free space
SIGMA_DB = 3.0
DROP = 0.10
FLOOR_DBM = -100
MIN_DISTANCE_M = 0.1  # a tag held against the receiver: no log(0)


@dataclass
class RadioModel:
    """``rssi = rssi_at_1m − 10·n·log10(d) + N(0, σ)``; None when the packet is lost or the
    result is under the floor (the receiver hears nothing)."""

    rng: random.Random = field(default_factory=lambda: random.Random(14))
    path_loss_n: float = PATH_LOSS_N
    sigma_db: float = SIGMA_DB
    drop: float = DROP
    floor_dbm: int = FLOOR_DBM

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop < 1.0 or self.sigma_db < 0 or self.path_loss_n <= 0:
            raise ValueError("drop 应在 [0, 1)，sigma ≥ 0，n > 0 / drop in [0, 1), sigma ≥ 0, "
                             "n > 0")

    def mean_rssi(self, rssi_at_1m: float, distance_m: float) -> float:
        d = max(distance_m, MIN_DISTANCE_M)
        return rssi_at_1m - 10.0 * self.path_loss_n * math.log10(d)

    def hear(self, rssi_at_1m: float, distance_m: float) -> int | None:
        if self.drop and self.rng.random() < self.drop:
            return None
        rssi = round(self.mean_rssi(rssi_at_1m, distance_m) + self.rng.gauss(0.0, self.sigma_db))
        return None if rssi < self.floor_dbm else rssi
