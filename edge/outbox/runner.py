"""The outbox on the event loop: one SQLite thread, and group commit for ``emit``.

SQLite calls block, so they all run on a single dedicated worker thread (one connection, no
locking between our own calls). Drivers call ``emit`` one event at a time; a writer task
takes whatever has queued (up to ``max_batch`` events) into one ``append`` — one fsync — and
resolves each caller's future only after the commit, which is what makes ``emit`` returning
mean "durable". With the default ``linger`` of 0 nothing waits on purpose: an idle writer
commits at once (a gate decision must not sit out a batching delay), and under load the
events that queue up while a commit runs form the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog

from contract import Clock, NewEvent, Priority
from contract.envelope import Envelope
from edge.outbox.store import Outbox
from edge.sqlite_thread import on_thread, open_on_thread

T = TypeVar("T")
log = structlog.get_logger("edge.outbox")

_Item = tuple[NewEvent, "asyncio.Future[None]"]


class AsyncOutbox:
    """Async face of ``Outbox``. Use ``async with await AsyncOutbox.open(...)`` or call
    ``start()``/``aclose()``; ``emit`` is the ``drivers.base.Emit`` handed to drivers."""

    def __init__(self, outbox: Outbox, executor: ThreadPoolExecutor, *, max_batch: int = 500,
                 linger: float = 0.0) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be ≥ 1")
        self._box = outbox
        self._pool = executor
        self.max_batch = max_batch
        self.linger = linger
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[asyncio.Event] = []
        #: Set after a commit that added an alarm, access or parking event: the uplink sends
        #: those at once, while readings may wait a moment to travel together.
        self.urgent = asyncio.Event()
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str, budget_bytes: int | None = None,
                   clock: Clock | None = None, source: str = "edge", *,
                   max_batch: int = 500, linger: float = 0.0) -> AsyncOutbox:
        """Open (or create) the outbox file on its own thread, so the connection lives there."""
        box, pool = await open_on_thread(
            lambda: Outbox(path, budget_bytes=budget_bytes, clock=clock, source=source), "outbox")
        return cls(box, pool, max_batch=max_batch, linger=linger)

    @property
    def path(self) -> Path:
        return self._box.path

    @property
    def epoch(self) -> str:
        """The outbox's epoch (fixed for the life of the file)."""
        return self._box.epoch

    async def __aenter__(self) -> AsyncOutbox:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="outbox-writer")

    async def aclose(self) -> None:
        """Commit what callers are still waiting on, then close the file and the thread."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await self._queue.put(_STOP)
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self._call(self._box.close)
        self._pool.shutdown(wait=True)

    # -- writing ---------------------------------------------------------------------------

    async def emit(self, event: NewEvent) -> None:
        """Return once ``event`` is committed; raises ``OutboxError`` if it could not be."""
        if self._closed:
            raise RuntimeError("outbox is closed")
        if self._writer is None:
            self.start()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, fut))
        await asyncio.shield(fut)

    async def append_many(self, events: Iterable[NewEvent]) -> list[Envelope]:
        """Bulk path: the caller already has a batch; store it in one transaction."""
        batch = list(events)
        out = await self._call(self._box.append, batch)
        self._notify(batch)
        return out

    def subscribe(self) -> asyncio.Event:
        """An event set after every commit that added events (the uplink waits on it)."""
        ev = asyncio.Event()
        self._listeners.append(ev)
        return ev

    def unsubscribe(self, ev: asyncio.Event) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(ev)

    # -- reading and acking ----------------------------------------------------------------

    async def pending(self, after: Mapping[Priority, int] | None = None, limit: int = 500,
                      max_seq: int | None = None, only: Priority | None = None
                      ) -> list[Envelope]:
        return await self._call(self._box.pending, dict(after or {}), limit, max_seq, only)

    async def read(self, fn: Callable[[Outbox], T]) -> T:
        """Run ``fn(outbox)`` on the SQLite thread: several reads (or an ack and a read) in one
        hop. ``fn`` must only use the ``Outbox`` it is given, and must not block on the loop."""
        return await self._call(fn, self._box)

    async def ack(self, epoch: str, upto: int) -> int:
        return await self._call(self._box.ack, epoch, upto)

    async def gaps(self) -> list[tuple[int, int]]:
        return await self._call(self._box.gaps)

    async def depth(self) -> int:
        return await self._call(self._box.depth)

    async def high_water(self) -> int:
        return await self._call(self._box.high_water)

    async def acked(self) -> int:
        return await self._call(self._box.acked)

    async def oldest_unacked_ts(self) -> datetime | None:
        return await self._call(self._box.oldest_unacked_ts)

    async def size_bytes(self) -> int:
        return await self._call(self._box.size_bytes)

    async def dropped_total(self) -> int:
        return await self._call(self._box.dropped_total)

    async def stats(self) -> dict[str, Any]:
        """Everything /metrics and /healthz show, read in one hop to the SQLite thread."""
        def read() -> dict[str, Any]:
            return {"depth": self._box.depth(), "oldest": self._box.oldest_unacked_ts(),
                    "bytes": self._box.size_bytes(), "dropped_total": self._box.dropped_total(),
                    "high_water": self._box.high_water(), "acked": self._box.acked(),
                    "epoch": self._box.epoch, "foreign_acks": self._box.foreign_acks}
        return await self._call(read)

    # -- internals -------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await on_thread(self._pool, fn, *args)

    def _notify(self, events: Iterable[NewEvent]) -> None:
        if any(ev.effective_priority() != Priority.TELEMETRY for ev in events):
            self.urgent.set()
        for listener in self._listeners:
            listener.set()

    async def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                break
            items = [first]
            deadline = asyncio.get_running_loop().time() + self.linger
            while len(items) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    try:
                        async with asyncio.timeout(remaining):
                            item = await self._queue.get()
                    except TimeoutError:
                        break
                if item is _STOP:
                    stopping = True
                    break
                items.append(item)
            await self._commit(items)

    async def _commit(self, items: list[_Item]) -> None:
        try:
            await self._call(self._box.append, [ev for ev, _ in items])
        except Exception as exc:  # every waiting caller learns of it; the writer keeps going
            log.error("outbox append failed", events=len(items), error=str(exc))
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for _, fut in items:
            if not fut.done():
                fut.set_result(None)
        self._notify(ev for ev, _ in items)


_STOP: Any = (None, None)
