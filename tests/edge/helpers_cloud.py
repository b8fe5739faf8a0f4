"""A small stand-in for the cloud's ingest, on a real broker: it records every envelope it
receives and acks the contiguous watermark, exactly as DESIGN §2 says the cloud does."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any
from urllib.parse import urlparse

import aiomqtt

from contract import Batch, decode_batch, encode_ack, topics


class RecordingCloud:
    def __init__(self, url: str, site: str) -> None:
        u = urlparse(url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 1883
        self.site = site
        self.acking = True
        self.batches: list[Batch] = []
        self.arrivals: list[int] = []
        self.seqs: set[int] = set()
        self.gaps: set[int] = set()
        self.watermark = 0
        self.subscribed = asyncio.Event()
        self._id = f"test-cloud-{uuid.uuid4().hex[:8]}"

    @property
    def duplicates(self) -> int:
        return len(self.arrivals) - len(self.seqs)

    async def run(self) -> None:
        """Stay subscribed across broker restarts (persistent session, like the real one)."""
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, identifier=self._id,
                                          clean_session=False, timeout=5,
                                          protocol=aiomqtt.ProtocolVersion.V311) as client:
                    client.pending_calls_threshold = 10_000
                    await client.subscribe(topics.up_events(self.site), qos=1, timeout=5)
                    self.subscribed.set()
                    async for msg in client.messages:
                        assert isinstance(msg.payload, bytes)
                        await self._on_batch(client, decode_batch(msg.payload))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def _on_batch(self, client: aiomqtt.Client, batch: Batch) -> None:
        """One outbox per test: the watermark is that epoch's (acks name it)."""
        self.batches.append(batch)
        for env in batch.events:
            self.arrivals.append(env.seq)
            self.seqs.add(env.seq)
        for lo, hi in batch.gaps:
            self.gaps.update(range(lo, hi + 1))
        while self.watermark + 1 in self.seqs or self.watermark + 1 in self.gaps:
            self.watermark += 1
        if self.acking:
            ack = encode_ack(batch.epoch, self.watermark)
            await client.publish(topics.down_ack(self.site), ack, qos=1, timeout=5)


@contextlib.asynccontextmanager
async def running(coro_fn: Callable[[], Coroutine[Any, Any, None]]
                  ) -> AsyncIterator[asyncio.Task[None]]:
    """Run a long-lived coroutine for the body of a ``with`` and cancel it after."""
    task = asyncio.create_task(coro_fn())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def wait_until(cond: Callable[[], bool], within: float = 15.0, what: str = "") -> None:
    """Poll a condition on state owned by other tasks (there is no event to wait on)."""
    try:
        async with asyncio.timeout(within):
            while not cond():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None
