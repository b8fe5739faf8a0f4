"""What every driver shares: the emit callback and the counters the edge shows at /metrics.

Drivers never write to the outbox themselves: they hand events to ``Emit``, which returns only
once the event is durable, so a driver that awaits it cannot run ahead of storage.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from contract import NewEvent

Emit = Callable[[NewEvent], Awaitable[None]]

_METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _check_name(name: str) -> str:
    """Reject names Prometheus cannot expose, at the call site rather than at scrape time."""
    if not _METRIC_NAME.match(name):
        raise ValueError(f"metric name {name!r} is not Prometheus-friendly ([a-zA-Z0-9_])")
    return name


class DriverStats:
    """Named counters, gauges and a window of recent poll latencies (seconds).

    Counters only go up (Prometheus ``counter``); gauges are set to the latest value. Latencies
    keep the last ``window`` samples so quantiles describe current behaviour, not all history.
    """

    def __init__(self, window: int = 1000) -> None:
        if window < 1:
            raise ValueError("window must be ≥ 1")
        self.counters: dict[str, int] = {}
        self.gauges: dict[str, float] = {}
        self.latencies: deque[float] = deque(maxlen=window)

    def inc(self, name: str, n: int = 1) -> None:
        if n < 0:
            raise ValueError("counters only go up")
        key = _check_name(name)
        self.counters[key] = self.counters.get(key, 0) + n

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)

    def set_gauge(self, name: str, value: float) -> None:
        self.gauges[_check_name(name)] = float(value)

    def observe_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile of the recent latencies; None before the first sample."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be within [0, 1]")
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        # Round before ceil: 0.99 × 100 is 99.00000000000001 in binary floating point.
        rank = max(1, math.ceil(round(q * len(ordered), 9)))
        return ordered[min(rank, len(ordered)) - 1]

    def p50(self) -> float | None:
        return self.quantile(0.5)

    def p99(self) -> float | None:
        return self.quantile(0.99)


_Item = tuple[NewEvent, "asyncio.Future[None] | None"]


class OrderedEmitter:
    """A device's events handed to ``Emit`` one at a time, in the order they happened.

    Why: a driver's poll loop must not wait on the outbox (``post``), while a command must
    not report success before its record is durable (``store``) — and both kinds must reach
    the outbox in order. ``run`` drains the queue until cancelled; ``flush`` gives what is
    left a bounded time at stop, so a stuck outbox never holds up shutdown. ``maxsize``
    bounds what a device that floods while the outbox is stuck can hold in memory: beyond it
    a posted event is dropped and counted (``events_dropped``).
    """

    def __init__(self, emit: Emit, stats: DriverStats, log: Any, *,
                 stopping: Callable[[], Exception] = lambda: RuntimeError("停止中 / stopping"),
                 flush_s: float = 2.0, maxsize: int = 0) -> None:
        self._emit = emit
        self._stats = stats
        self._log = log
        self._stopping = stopping
        self._flush_s = flush_s
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=maxsize)
        self.running = False

    def post(self, event: NewEvent) -> None:
        """Queue ``event`` without waiting for storage (dropped and counted when full)."""
        try:
            self._queue.put_nowait((event, None))
        except asyncio.QueueFull:
            self._stats.inc("events_dropped")
            self._log.error("event queue full; event dropped", kind=event.kind,
                            device=event.device)

    async def put(self, event: NewEvent) -> None:
        """Queue ``event``, waiting for room when the queue is full: a poll loop that may slow
        down rather than lose readings (a bus of meters) uses this instead of ``post``."""
        await self._queue.put((event, None))

    def qsize(self) -> int:
        """Events queued and not yet handed to ``emit``."""
        return self._queue.qsize()

    async def drained(self) -> None:
        """Return once everything queued so far has been handed to ``emit`` (and answered)."""
        await self._queue.join()

    async def store(self, event: NewEvent) -> None:
        """Return once ``event`` is durable, after everything queued before it."""
        if self.running:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            await self._queue.put((event, done))
            await done
            return
        while not self._queue.empty():
            await self._emit_next()
        await self._emit(event)
        self._stats.inc("events_emitted")

    async def run(self) -> None:
        """Hand queued events to ``emit`` in order until cancelled."""
        self.running = True
        current: _Item | None = None
        try:
            while True:
                current = await self._queue.get()
                try:
                    await self._emit_one(*current)
                finally:
                    self._queue.task_done()
                current = None
        finally:
            self.running = False
            if current is not None and current[1] is not None and not current[1].done():
                current[1].set_exception(self._stopping())

    async def flush(self) -> None:
        """At stop: store what is queued within ``flush_s``; fail the waiters of the rest."""
        if self._queue.empty():
            return
        try:
            async with asyncio.timeout(self._flush_s):
                while not self._queue.empty():
                    await self._emit_next()
        except TimeoutError:
            pass
        if not self._queue.empty():
            self._log.warning("events not stored at stop", count=self._queue.qsize())
        while not self._queue.empty():
            _, done = self._queue.get_nowait()
            self._queue.task_done()
            if done is not None and not done.done():
                done.set_exception(self._stopping())

    async def _emit_next(self) -> None:
        item = self._queue.get_nowait()
        try:
            await self._emit_one(*item)
        finally:
            self._queue.task_done()

    async def _emit_one(self, event: NewEvent, done: asyncio.Future[None] | None) -> None:
        try:
            await self._emit(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stats.inc("emit_failures")
            if done is not None:
                if not done.done():
                    done.set_exception(exc)
                return
            self._log.exception("emit failed; event lost", kind=event.kind, device=event.device)
        else:
            self._stats.inc("events_emitted")
            if done is not None and not done.done():
                done.set_result(None)


def stop_if_cancelled() -> None:
    """Raise ``CancelledError`` when this task was asked to stop but is still running.

    Device libraries (pymodbus, uhppoted) await ``asyncio.wait_for``, which on Python 3.11
    swallows a cancel that lands as the inner call completes, or they turn it into their own
    exception. A poll loop that carried on would keep the edge from ever shutting down: each
    loop calls this once per turn, so the request to stop is honoured at the next turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
