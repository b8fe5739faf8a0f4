"""A small in-process sliding-window limiter for login attempts.

One console process serves a property company's staff, so counting in memory is enough; it
slows a password-guessing script long before the per-account lock-out has to step in, and it
also covers guesses spread over many usernames from one address.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

MAX_KEYS = 10_000


class SlidingWindow:
    """At most ``limit`` hits per key within ``window``."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[datetime]] = {}

    def retry_after(self, key: str, now: datetime) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        hits = self._hits.get(key)
        if not hits:
            return 0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            return 0
        return max(1, int((hits[0] + self.window - now).total_seconds() + 0.999))

    def hit(self, key: str, now: datetime) -> None:
        if len(self._hits) >= MAX_KEYS and key not in self._hits:
            self._prune(now)
        self._hits.setdefault(key, deque()).append(now)

    def _prune(self, now: datetime) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
        if len(self._hits) >= MAX_KEYS:  # still full of live keys: forget the oldest
            oldest = min(self._hits, key=lambda k: self._hits[k][-1])
            del self._hits[oldest]
