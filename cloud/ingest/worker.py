"""The MQTT side of ingest: subscribe to every site's ``up/#``, store, then ack.

The ack is published only after the batch's transaction committed, so an ack always means
"durably stored". aiomqtt acknowledges QoS 1 deliveries on receipt, so a batch that cannot be
stored (database down) is retried here for a while and then left unacked: the edge resends
every unacked batch after its ack timeout, which is the safety net that loses nothing.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

import aiomqtt
import structlog

from cloud.ingest.ingestor import Ingestor
from cloud.ingest.result import IngestResult
from contract import Clock, encode_ack, topics

log = structlog.get_logger(__name__)


class IngestWorker:
    """One stateless ingest worker; run several with ``shared=True`` to scale out."""

    def __init__(self, mqtt_url: str, username: str | None, password: str | None,
                 ingestor: Ingestor, clock: Clock, client_id: str = "courtyard-ingest",
                 shared: bool = False, *, timeout: float = 10.0, handle_timeout: float = 60.0,
                 store_attempts: int = 4, retry_delay: float = 0.5,
                 max_backoff: float = 30.0) -> None:
        u = urlparse(mqtt_url)
        if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported MQTT URL scheme {u.scheme!r} (mqtt:// or mqtts://)")
        self._host = u.hostname or "127.0.0.1"
        self._tls = u.scheme in ("mqtts", "ssl")
        self._port = u.port or (8883 if self._tls else 1883)
        self._username = username
        self._password = password
        self._ingestor = ingestor
        self._clock = clock
        self._client_id = client_id
        self._filter = topics.INGEST_SHARED_FILTER if shared else topics.INGEST_FILTER
        self._timeout = timeout
        self._handle_timeout = handle_timeout
        self._store_attempts = max(1, store_attempts)
        self._retry_delay = retry_delay
        self._max_backoff = max_backoff
        self.connected = False
        self._counters: dict[str, int] = {
            "messages": 0, "acks_published": 0, "store_failures": 0, "batches_unacked": 0,
            "ignored": 0, "connects": 0, "disconnects": 0,
        }

    @property
    def counters(self) -> dict[str, int]:
        """Worker and ingest counters, flat, for /metrics."""
        out = {f"ingest_worker_{k}": v for k, v in self._counters.items()}
        out["ingest_worker_connected"] = int(self.connected)
        out.update(self._ingestor.stats.as_dict())
        return out

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self._host, self._port, username=self._username, password=self._password,
            identifier=self._client_id, protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=False, timeout=self._timeout, keepalive=30,
            tls_context=ssl.create_default_context() if self._tls else None,
        )

    async def run(self) -> None:
        """Consume until cancelled, reconnecting with exponential backoff and jitter."""
        backoff = 1.0
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    self._counters["connects"] += 1
                    backoff = 1.0
                    await client.subscribe(self._filter, qos=1, timeout=self._timeout)
                    log.info("ingest.connected", host=self._host, port=self._port,
                             filter=self._filter, client_id=self._client_id)
                    async for message in client.messages:
                        await self._on_message(client, message)
            except aiomqtt.MqttError as exc:
                self._counters["disconnects"] += 1
                delay = backoff * random.uniform(0.5, 1.5)
                log.warning("ingest.disconnected", error=str(exc), retry_in=round(delay, 2))
                self.connected = False
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                self.connected = False

    async def _on_message(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        self._counters["messages"] += 1
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        parsed = topics.parse(topic)
        if parsed is None or parsed[1] != "up" or parsed[2] not in ("events", "status"):
            self._counters["ignored"] += 1
            return
        site, _, name = parsed
        if name == "status":
            await self._store(site, lambda: self._ingestor.handle_status(topic, bytes(payload)))
            return
        result = await self._store(site, lambda: self._ingestor.handle(topic, bytes(payload)))
        if result is None or result.ack_upto is None:
            return
        await client.publish(topics.down_ack(site), encode_ack(result.ack_upto), qos=1,
                             timeout=self._timeout)
        self._counters["acks_published"] += 1

    async def _store(self, site: str,
                     call: Callable[[], Awaitable[IngestResult]]) -> IngestResult | None:
        """Run ``call`` with retries; None when it kept failing (the batch stays unacked)."""
        for attempt in range(1, self._store_attempts + 1):
            try:
                async with asyncio.timeout(self._handle_timeout):
                    return await call()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database outage must not stop the loop
                self._counters["store_failures"] += 1
                log.warning("ingest.store_failed", site=site, attempt=attempt,
                            error=f"{type(exc).__name__}: {exc}"[:300])
                if attempt < self._store_attempts:
                    await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1)
                                        * random.uniform(0.8, 1.2))
        self._counters["batches_unacked"] += 1
        log.error("ingest.gave_up", site=site,
                  note="not acked; the edge resends it after its ack timeout")
        return None
