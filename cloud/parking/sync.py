"""Tell edges that a dataset changed: ``{"dataset": "parking", "version": N}`` on
``courtyard/v1/{site}/down/sync``, QoS 1, retained (DESIGN §2; the notice is
``contract.sync``).

Retained, so an edge that connects later still learns the newest version; the edge then pulls
the document itself (HTTP, ETag), so the message only has to carry the number.

Publishing must never hold up or fail the HTTP request that made the change: :meth:`notify`
only records "site X is at version N" and wakes the publishing task. While the broker is away
the newest version per site waits in memory; on every (re)connect the publisher also reads
each site's version from the database and announces it again, so a version committed just
before this process died, or a broker that lost its retained messages, still reaches the
edge. An older number can never overwrite a newer one from this process; from another
worker it is harmless, because the edge pulls the current document whatever the message says
and ignores versions it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import brokerurl
from cloud.mqttlink import (
    MAX_BACKOFF_S,
    MIN_BACKOFF_S,
    first_mqtt_error,
    mqtt_session,
    next_backoff,
    reconnect_delay,
    tls_context,
)
from cloud.parking.dataset import all_versions
from contract import topics
from contract.sync import SyncNotice, encode_sync

log = structlog.get_logger(__name__)

Key = tuple[str, str]  # (site slug, dataset name)


def sync_payload(dataset: str, version: int) -> bytes:
    """The retained ``down/sync`` notice (``contract.sync``)."""
    return encode_sync(SyncNotice(dataset, version))


class SyncPublisher:
    """One MQTT connection of this console process that announces dataset versions."""

    def __init__(self, mqtt_url: str, username: str | None, password: str | None, *,
                 sessions: async_sessionmaker[AsyncSession] | None = None,
                 client_id: str | None = None, timeout: float = 10.0,
                 min_backoff: float = MIN_BACKOFF_S, max_backoff: float = MAX_BACKOFF_S,
                 ca_file: str | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        broker = brokerurl.parse(mqtt_url)
        self._host, self._port, self._tls = broker.host, broker.port, broker.tls
        self._username, self._password = username, password
        self._sessions = sessions
        # Unique per process: two console workers with one id would keep kicking each other.
        self._client_id = client_id or (
            f"courtyard-sync-{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}")
        self._timeout = timeout
        self._min_backoff = min_backoff
        self._max_backoff = max(min_backoff, max_backoff)
        self._ca_file = ca_file
        self._sleep = sleep
        self._pending: dict[Key, int] = {}
        self._sent: dict[Key, int] = {}
        self._wake = asyncio.Event()
        self.connected = False
        self.counters: dict[str, int] = {"published": 0, "publish_failures": 0,
                                         "connects": 0, "disconnects": 0,
                                         "reannounce_failures": 0}

    @property
    def pending(self) -> int:
        """Versions waiting for the broker."""
        return len(self._pending)

    def sent(self, site: str, dataset: str) -> int | None:
        """The newest version this process got a PUBACK for."""
        return self._sent.get((site, dataset))

    def notify(self, site: str, dataset: str, version: int) -> None:
        """Record a committed version; returns at once (call it after the commit)."""
        key = (site, dataset)
        if version > max(self._pending.get(key, 0), self._sent.get(key, 0)):
            self._pending[key] = version
            self._wake.set()

    def status(self) -> dict[str, Any]:
        return {"ok": self.connected, "connected": self.connected, "pending": self.pending,
                "counters": dict(self.counters)}

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self._host, self._port, username=self._username, password=self._password,
            identifier=self._client_id, protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=True, timeout=self._timeout, keepalive=30,
            tls_context=tls_context(self._tls, self._ca_file))

    async def run(self) -> None:
        """Publish until cancelled; a lost broker costs a reconnect (``except*``: the MQTT
        error may arrive bare or inside an ExceptionGroup), with a capped, jittered back-off."""
        backoff = self._min_backoff
        while True:
            error: aiomqtt.MqttError | None = None
            try:
                async with mqtt_session(self._client()) as client:
                    self.connected = True
                    self.counters["connects"] += 1
                    backoff = self._min_backoff
                    log.info("sync.connected", host=self._host, port=self._port)
                    await self._reannounce()
                    await self._serve(client)
            except* aiomqtt.MqttError as group:
                error = first_mqtt_error(group)
            finally:
                self.connected = False
            self.counters["disconnects"] += 1
            delay = reconnect_delay(backoff)
            log.warning("sync.disconnected", error=str(error or "connection closed"),
                        retry_in=round(delay, 2), pending=self.pending)
            await self._sleep(delay)
            backoff = next_backoff(backoff, self._max_backoff)

    async def _reannounce(self) -> None:
        """Queue every site's stored version again (see the module docstring)."""
        if self._sessions is None:
            self._wake.set()
            return
        try:
            async with self._sessions() as session:
                stored = await all_versions(session)
        except (SQLAlchemyError, OSError) as exc:
            self.counters["reannounce_failures"] += 1
            log.warning("sync.reannounce_failed", error=str(exc))
            stored = []
        for site, dataset, version in stored:
            key = (site, dataset)
            if version >= self._pending.get(key, 0):
                self._pending[key] = version
        self._wake.set()

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Publish what is pending; return (by raising MqttError) when the link drops."""
        watcher = asyncio.ensure_future(self._watch(client))
        try:
            while True:
                await self._drain(client)
                waiter = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({waiter, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if watcher.done():
                    waiter.cancel()
                    watcher.result()  # raises the MqttError of the lost link
                    raise aiomqtt.MqttError("connection closed")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await watcher

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        # Nothing is subscribed: the iterator only ever ends by raising on disconnect.
        async for _ in client.messages:
            pass

    async def _drain(self, client: aiomqtt.Client) -> None:
        self._wake.clear()
        for key, version in sorted(self._pending.items()):
            site, dataset = key
            try:
                await client.publish(topics.down_sync(site), sync_payload(dataset, version),
                                     qos=1, retain=True, timeout=self._timeout)
            except aiomqtt.MqttError:
                self.counters["publish_failures"] += 1
                raise
            self.counters["published"] += 1
            self._sent[key] = max(version, self._sent.get(key, 0))
            if self._pending.get(key) == version:  # a newer one may have come in meanwhile
                del self._pending[key]
            log.info("sync.published", site=site, dataset=dataset, version=version)
