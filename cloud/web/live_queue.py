"""One live page's queue of messages, shared by the guard board's and the cockpit's feeds.

Bounded: a page that falls behind (its queue is full) is cut off rather than slowing the other
pages; it reconnects and starts again from a snapshot. Each message carries a stamp that
orders loads; a page takes its snapshot after subscribing and skips messages stamped before it
(``since``), so a screen never goes back to an older state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import WSMsgType, web


class FellBehind(Exception):
    """The page fell behind and was cut off: start again from a snapshot."""


class StampedQueue:
    def __init__(self, maxsize: int, on_cut_off: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[tuple[int, Any] | None] = asyncio.Queue(maxsize)
        self._on_cut_off = on_cut_off
        self.since = 0
        self.lost = False

    def offer(self, stamp: int, msg: Any) -> None:
        """Queue ``msg``; on a full queue, empty it, mark the page lost and tell the owner."""
        if self.lost:
            return
        try:
            self._queue.put_nowait((stamp, msg))
        except asyncio.QueueFull:
            self.lost = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
            self._on_cut_off()

    async def next(self) -> Any:
        """The next message stamped at or after ``since``; ``FellBehind`` once cut off."""
        while True:
            item = await self._queue.get()
            if item is None:
                raise FellBehind
            stamp, msg = item
            if stamp >= self.since:
                return msg


async def while_open(ws: web.WebSocketResponse,
                     *jobs: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``jobs`` (push, ping, …) while the page keeps ``ws`` open (its pings are answered
    by reading); cancel them when it goes away. A page that vanished mid-send is not an error."""
    tasks = [asyncio.create_task(job()) for job in jobs]
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
