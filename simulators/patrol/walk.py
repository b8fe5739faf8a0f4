"""Where a guard is at a given simulated second: a timeline of stays (about a metre from a
receiver) and straight walks between them. Pure, so the scenarios are tested without time."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

WALK_MPS = 1.2
STAY_S = 8.0
STAND_OFF_M = 1.0  # a guard stands about a metre from the receiver he checks in at


@dataclass(frozen=True, slots=True)
class Stop:
    """A point of the route: a receiver to stay at, or (``receiver`` None, no stay) a waypoint
    the guard only walks through, e.g. around a checkpoint he skips."""

    x: float
    y: float
    stay_s: float = STAY_S
    receiver: str | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    t0: float  # seconds after the walk starts
    t1: float
    x0: float
    y0: float
    x1: float
    y1: float
    receiver: str | None  # set on a stay at a receiver


class Walk:
    """A route walked once (or on a loop, back to the first stop), starting ``start_after_s``
    into the simulation; before the start and after the end the tag is off site (heard by
    nobody)."""

    def __init__(self, stops: Sequence[Stop], *, speed_mps: float = WALK_MPS,
                 start_after_s: float = 0.0, loop: bool = False,
                 rng: random.Random | None = None) -> None:
        if not stops:
            raise ValueError("路线为空 / the route is empty")
        if speed_mps <= 0 or start_after_s < 0 or any(s.stay_s < 0 for s in stops):
            raise ValueError("speed > 0, start_after_s ≥ 0, stay_s ≥ 0")
        rng = rng or random.Random(0)
        self.start_after_s = start_after_s
        self.loop = loop
        points = []
        for s in stops:  # where the guard stands: about STAND_OFF_M from the receiver
            if s.receiver is None:
                points.append((s.x, s.y))
            else:
                a = rng.uniform(0, 2 * math.pi)
                points.append((s.x + STAND_OFF_M * math.cos(a), s.y + STAND_OFF_M * math.sin(a)))
        self.legs: list[Leg] = []
        t = 0.0
        seq = list(zip(stops, points, strict=True))
        if loop and len(seq) > 1:
            seq.append(seq[0])
        for i, (stop, (x, y)) in enumerate(seq):
            if i:
                px, py = self.legs[-1].x1, self.legs[-1].y1
                dt = math.hypot(x - px, y - py) / speed_mps
                self.legs.append(Leg(t, t + dt, px, py, x, y, None))
                t += dt
            if loop and i == len(seq) - 1 and len(seq) > 1:
                break  # back at the first stop: the next lap stays there
            self.legs.append(Leg(t, t + stop.stay_s, x, y, x, y, stop.receiver))
            t += stop.stay_s
        self.duration_s = t

    @property
    def ends_at(self) -> float | None:
        """The simulated second the guard leaves the site; None on a loop."""
        return None if self.loop else self.start_after_s + self.duration_s

    def _leg(self, t: float) -> tuple[Leg, float] | None:
        u = t - self.start_after_s
        if u < 0 or (not self.loop and u > self.duration_s):
            return None
        if self.loop and self.duration_s > 0:
            u %= self.duration_s
        for leg in self.legs:
            if u <= leg.t1:
                return leg, u
        return self.legs[-1], self.legs[-1].t1

    def position(self, t: float) -> tuple[float, float] | None:
        found = self._leg(t)
        if found is None:
            return None
        leg, u = found
        span = leg.t1 - leg.t0
        f = 0.0 if span <= 0 else min(1.0, max(0.0, (u - leg.t0) / span))
        return leg.x0 + (leg.x1 - leg.x0) * f, leg.y0 + (leg.y1 - leg.y0) * f

    def staying_at(self, t: float) -> str | None:
        """The receiver the guard is checking in at, if he is staying at one."""
        found = self._leg(t)
        return None if found is None else found[0].receiver

    def first_stay(self) -> tuple[float, float]:
        """(start, end) in simulated seconds of the first stay at a receiver."""
        for leg in self.legs:
            if leg.receiver is not None:
                return self.start_after_s + leg.t0, self.start_after_s + leg.t1
        return self.start_after_s, self.start_after_s
