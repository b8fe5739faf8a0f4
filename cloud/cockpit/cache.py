"""Wall screens of one site share one computation of its view.

Twenty screens, a kiosk rotation and people's browsers ask for the same site view at nearly
the same moment; each view is some forty queries. Within one process, requests for the same
view inside ``max_age_s`` get the view computed for the first of them, and requests that come
while it is being computed wait for that computation instead of starting their own. Live
changes do not wait for this: they reach the screens over the WebSocket (``live``); a GET
may show a view up to ``max_age_s`` old (1 s for the console that ``courtyard cloud serve``
starts, ``COURTYARD_COCKPIT_SHARE_MS``; an app built in code computes every request afresh
unless told otherwise).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from aiohttp import web

#: Entries kept at most (sites and viewer scopes); the oldest go first past it.
MAX_ENTRIES = 2000


class ViewCache:
    def __init__(self, max_age_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self.computed = 0
        self.shared = 0

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The view for ``key``: shared when fresh or being computed, else computed here."""
        if self.max_age_s <= 0:
            self.computed += 1
            return await compute()
        hit = self._entries.get(key)
        if hit is not None and self._monotonic() - hit[0] <= self.max_age_s:
            self.shared += 1
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                value = await asyncio.shield(pending)
            except Exception:  # the first asker failed or left: compute here
                pass
            else:
                self.shared += 1
                return value
        return await self._compute(key, compute)

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._inflight[key] = future
        started = self._monotonic()
        try:
            value = await compute()
        except BaseException as exc:
            # Waiters compute for themselves; a cancel of this request is not theirs.
            future.set_exception(RuntimeError(f"shared view computation failed: {exc!r}"))
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        self.computed += 1
        self._store(key, started, value)
        future.set_result(value)
        return value

    def _store(self, key: Hashable, started: float, value: Any) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            for old in sorted(self._entries, key=lambda k: self._entries[k][0])[:MAX_ENTRIES // 4]:
                del self._entries[old]
        # Aged from when the computation started: its data is no newer than that.
        self._entries[key] = (started, value)


#: The console's cache of cockpit views (set by the cockpit's API setup).
VIEWS = web.AppKey("cockpit_views", ViewCache)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" warning
