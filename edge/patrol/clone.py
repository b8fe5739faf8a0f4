"""Cloned tags: one tag heard at two receivers too far apart to walk between in the time
between (docs/patrol.md). Both receivers hear up to ``range_m`` away, so the distance the
guard must have covered is at least ``distance(A, B) − 2 × range_m``; faster than
``max_speed_mps`` (a running guard) is two tags with one identity.

The watch only needs, per tag, when it was last above the enter level at each receiver; the
presence engine keeps that (``enters``) for ``horizon_s``, the longest time in which any pair
of receivers could still prove a clone, so the state is bounded by the site, not by time.
The first advert of a (tag, receiver) is not evidence (unsmoothed: a spike or a reflection).
Two receivers closer than about ``2 × range_m`` plus the RSSI jitter (5 dB is ×1.8 in
distance) can both hear one tag above the enter level at once: give such sites a larger
``range_m``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

#: One alarm per tag and pair of receivers per this many seconds (docs/patrol.md: 10 minutes).
RAISE_EVERY_S: Final = 600.0


class Placed(Protocol):
    """What the watch needs of a receiver (edge.config.model.PatrolReceiver has it)."""

    @property
    def id(self) -> str: ...
    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Cloned:
    """``patrol.tag_cloned``: ``tag`` was above the enter level at ``first`` and, ``elapsed_s``
    later, at ``second``, ``distance_m`` apart."""

    tag: str
    first: str
    second: str
    distance_m: float
    elapsed_s: float
    at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Suspect:
    """A pair that failed the speed test (the engine stamps the wall time on it)."""

    first: str
    second: str
    distance_m: float
    elapsed_s: float


class CloneWatch:
    def __init__(self, receivers: Iterable[Placed], max_speed_mps: float, range_m: float) -> None:
        self._pos = {r.id: (float(r.x), float(r.y)) for r in receivers}
        self.max_speed_mps = max_speed_mps
        self.range_m = range_m
        self._raised: dict[tuple[str, str, str], float] = {}
        far = 0.0
        pts = list(self._pos.values())
        for i, (ax, ay) in enumerate(pts):
            for bx, by in pts[i + 1:]:
                far = max(far, math.hypot(ax - bx, ay - by))
        #: No pair can prove a clone once this long has passed (0: receivers all in range).
        self.horizon_s = max(0.0, far - 2 * range_m) / max_speed_mps if max_speed_mps > 0 else 0.0

    def check(self, tag: str, receiver: str, at: float,
              enters: Mapping[str, float]) -> list[Suspect]:
        """The pairs (other receiver → ``receiver``) the tag, above the enter level at
        ``receiver`` at monotonic ``at``, could not have walked; rate-limited per tag and pair."""
        out: list[Suspect] = []
        here = self._pos.get(receiver)
        if here is None:
            return out
        for other, then in enters.items():
            if other == receiver:
                continue
            there = self._pos.get(other)
            if there is None:
                continue
            elapsed = max(0.0, at - then)
            distance = math.hypot(here[0] - there[0], here[1] - there[1])
            if distance - 2 * self.range_m <= self.max_speed_mps * elapsed:
                continue
            key = (tag, other, receiver) if other < receiver else (tag, receiver, other)
            last = self._raised.get(key)
            if last is not None and at - last < RAISE_EVERY_S:
                continue
            self._raised[key] = at
            out.append(Suspect(other, receiver, round(distance, 1), round(elapsed, 1)))
        return out

    def expire(self, now: float) -> None:
        """Forget rate limits that have run out (memory bounded by the alarms of 10 minutes)."""
        for key in [k for k, at in self._raised.items() if now - at >= RAISE_EVERY_S]:
            del self._raised[key]

    def __len__(self) -> int:
        return len(self._raised)
