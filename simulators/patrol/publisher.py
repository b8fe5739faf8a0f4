"""Publishing the receivers' messages to the site-local broker, QoS 0 like the real gateways:
a message that cannot go out now is lost, never delivered late (a stale RSSI would look like
a guard standing where he no longer is). Reconnects with a short capped back-off.

aiomqtt 2.5.1 may turn a cancel into ``MqttError`` when leaving ``async with Client`` (it
waits for the disconnect and that wait can time out); ``_session`` keeps a cancel a cancel,
the same small pattern as the console's, re-implemented: simulators import none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import ssl
from collections.abc import AsyncIterator, Callable
from types import TracebackType

import aiomqtt
import structlog

CONNECT_TIMEOUT_S = 5.0
PUBLISH_TIMEOUT_S = 5.0
MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
QUEUE_MAX = 10_000

_log = structlog.get_logger("courtyard.simulators.patrol")


@contextlib.asynccontextmanager
async def _session(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Client]:
    cancelled = False
    try:
        async with client:
            try:
                yield client
            except asyncio.CancelledError:
                cancelled = True
                raise
    except aiomqtt.MqttError:
        if cancelled:
            raise asyncio.CancelledError from None
        raise


class SiteBrokerPublisher:
    """``send`` is sync and never blocks the walkers; a background task publishes."""

    def __init__(self, host: str, port: int, *, username: str | None = None,
                 password: str | None = None, tls: bool = False, site: str = "",
                 say: Callable[[str], None] = print) -> None:
        self.host, self.port = host, port
        self.username, self.password, self.tls = username, password, tls
        self.say = say
        self.sent = 0
        self.dropped = 0
        self.connected = asyncio.Event()
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_MAX)
        self._task: asyncio.Task[None] | None = None
        self._log = _log.bind(site=site, broker=f"{host}:{port}")

    def send(self, topic: str, payload: bytes) -> None:
        if not self.connected.is_set():
            self.dropped += 1
            return
        try:
            self._queue.put_nowait((topic, payload))
        except asyncio.QueueFull:
            self.dropped += 1

    async def drain(self, within: float = 5.0) -> None:
        """Wait (bounded) until everything sent so far went to the broker."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while not self._queue.empty() and self.connected.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)

    async def __aenter__(self) -> SiteBrokerPublisher:
        self._task = asyncio.create_task(self._run(), name="sim-patrol-publisher")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(self.host, self.port, username=self.username,
                              password=self.password, timeout=CONNECT_TIMEOUT_S,
                              # one per publisher: several walkers of one process must not
                              # take each other's session at the broker
                              identifier=f"courtyard-sim-patrol-{os.getpid()}-{id(self):x}",
                              tls_context=ssl.create_default_context() if self.tls else None)

    async def _run(self) -> None:
        backoff = MIN_BACKOFF_S
        down_said = False
        while True:
            try:
                async with _session(self._client()) as client:
                    self.connected.set()
                    backoff, down_said = MIN_BACKOFF_S, False
                    self.say(f"巡更接收器已连接站点 broker {self.host}:{self.port} / patrol "
                             f"receivers connected to the site broker {self.host}:{self.port}")
                    while True:
                        topic, payload = await self._queue.get()
                        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                            await client.publish(topic, payload, qos=0)
                        self.sent += 1
            except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                self.connected.clear()
                self._forget_queued()
                if not down_said:
                    down_said = True
                    self.say(f"站点 broker {self.host}:{self.port} 不可达，广播丢弃并重连 / the "
                             f"site broker {self.host}:{self.port} is unreachable: adverts are "
                             f"dropped, reconnecting ({exc})")
                self._log.debug("site broker unreachable", error=repr(exc))
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _forget_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
            self.dropped += 1
