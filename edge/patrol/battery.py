"""Tag batteries: a guard's tag reporting a low battery (Eddystone TLM) should open one work
order, not one per advert. A tag is flagged once when a reading falls below the threshold and
stays flagged until a reading at or above ``threshold + RECOVER_MARGIN_MV`` (a new battery): a
cell hovering around the threshold, as they do with temperature, must not raise again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

#: Above the threshold by this much counts as a new battery (a CR2032 under load wanders by
#: tens of millivolts; a fresh one reads ~3000 mV against a 2500 mV threshold).
RECOVER_MARGIN_MV: Final = 100
#: A low tag not heard at all for this long is forgotten (it is in a drawer, or retired); if it
#: comes back still low it is flagged again, a reminder that is welcome after a week.
FORGET_AFTER_S: Final = 7 * 24 * 3600.0
#: At most this many low tags are remembered (a site has hundreds of tags; bound it anyway).
MAX_LOW_TAGS: Final = 10_000


@dataclass(frozen=True, slots=True)
class BatteryLow:
    """``patrol.tag_battery_low``: the tag's battery read below the threshold."""

    tag: str
    battery_mv: int
    threshold_mv: int
    at: datetime  # UTC


class BatteryWatch:
    """Remembers which tags are low (keyed by tag, monotonic seconds of the last reading)."""

    def __init__(self, threshold_mv: int) -> None:
        self.threshold_mv = threshold_mv
        self._low: dict[str, float] = {}

    def reading(self, tag: str, battery_mv: int, at: float) -> bool:
        """Note one reading at monotonic ``at``; True when the tag has just become low (the
        caller raises the alarm exactly then)."""
        if tag in self._low:
            if battery_mv >= self.threshold_mv + RECOVER_MARGIN_MV:
                del self._low[tag]
            else:
                self._low[tag] = at
            return False
        if battery_mv >= self.threshold_mv:
            return False
        if len(self._low) >= MAX_LOW_TAGS:
            del self._low[next(iter(self._low))]  # the oldest flagged: a warning at worst
        self._low[tag] = at
        return True

    def is_low(self, tag: str) -> bool:
        return tag in self._low

    def expire(self, now: float) -> None:
        """Forget low tags not heard for ``FORGET_AFTER_S``."""
        horizon = now - FORGET_AFTER_S
        for tag in [t for t, at in self._low.items() if at < horizon]:
            del self._low[tag]

    def __len__(self) -> int:
        return len(self._low)
