"""Sliding-window limiters for login attempts and the edge's dataset pulls.

``SharedWindow`` counts in the database (``rate_hits``), so every console process of ``serve
--workers N`` sees the same attempts: a password-guessing script spreading its guesses over
the processes is slowed as much as one talking to a single process. It slows a script long
before the per-account lock-out has to step in, and it also covers guesses spread over many
usernames from one address.

``SlidingWindow`` counts in memory: only the dataset pulls' two-second burst limit on good
pulls uses it (a courtesy to the console, not a guard); their failed credentials are a
``SharedWindow``.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.rate_tables import RateHit

MAX_KEYS = 10_000
MAX_KEY_LENGTH = 200


def _wait(oldest_counted: datetime, window: timedelta, now: datetime) -> int:
    return max(1, int((oldest_counted + window - now).total_seconds() + 0.999))


class SharedWindow:
    """At most ``limit`` hits per key within ``window``, counted in ``rate_hits``.

    ``name`` prefixes the stored keys, so limiters sharing the table never count each
    other's hits. Call both methods inside one transaction: on PostgreSQL ``retry_after``
    takes a transaction lock on the key, so two processes checking the same key at once
    cannot both let the last allowed attempt through.
    """

    def __init__(self, name: str, limit: int, window: timedelta) -> None:
        self.name = name
        self.limit = limit
        self.window = window

    def _key(self, key: str) -> str:
        return f"{self.name}|{key}"[:MAX_KEY_LENGTH]

    async def retry_after(self, session: AsyncSession, key: str, now: datetime) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        stored = self._key(key)
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                  {"k": stored})
        newest = (await session.scalars(
            select(RateHit.at).where(RateHit.key == stored, RateHit.at > now - self.window)
            .order_by(RateHit.at.desc()).limit(self.limit))).all()
        if len(newest) < self.limit:
            return 0
        return _wait(newest[-1], self.window, now)

    async def hit(self, session: AsyncSession, key: str, now: datetime) -> None:
        """Count one attempt; forget this limiter's hits that left the window."""
        session.add(RateHit(key=self._key(key), at=now))
        await session.execute(delete(RateHit).where(
            RateHit.key.startswith(f"{self.name}|", autoescape=True),
            RateHit.at <= now - self.window))

    async def count(self, session: AsyncSession, key: str, now: datetime) -> int:
        """Hits of ``key`` within the window (for tests and the operator's curiosity)."""
        return int(await session.scalar(select(func.count()).select_from(RateHit).where(
            RateHit.key == self._key(key), RateHit.at > now - self.window)) or 0)


class SlidingWindow:
    """At most ``limit`` hits per key within ``window``, in this process's memory."""

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
        return _wait(hits[0], self.window, now)

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
