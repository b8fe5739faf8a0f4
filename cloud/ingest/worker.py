"""The MQTT side of ingest: subscribe to every site's ``up/#``, store, then ack.

The ack is published only after the batch's transaction committed, so an ack always means
"durably stored". aiomqtt acknowledges QoS 1 deliveries on receipt, so a batch that cannot be
stored (database down) is retried here for a while and then left unacked: the edge resends
every unacked batch after its ack timeout, which is the safety net that loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import aiomqtt
import structlog

import brokerurl
from cloud.ingest.ingestor import Decoded, Ingestor
from cloud.ingest.order import SeqOrder, follows
from cloud.ingest.result import IngestResult
from cloud.mqttlink import (
    MAX_BACKOFF_S,
    MIN_BACKOFF_S,
    first_mqtt_error,
    mqtt_session,
    next_backoff,
    reconnect_delay,
    tls_context,
)
from contract import Clock, encode_ack, topics

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Item:
    """A received message on its way to its site's lane."""

    site: str
    topic: str
    payload: bytes
    #: The checked batch of an ``up/events`` message; None for ``up/status``, ``up/health``
    #: or a refusal.
    decoded: Decoded | None
    refused: bool = False


@dataclass(slots=True)
class _Lane:
    """The single writer of one site: its items are stored in arrival order."""

    site: str
    items: deque[_Item] = field(default_factory=deque)
    #: Set when items wait or the lane must stop.
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set while nothing is queued or being stored.
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False

    def put(self, item: _Item) -> None:
        self.items.append(item)
        self.idle.clear()
        self.wake.set()


class IngestWorker:
    """One stateless ingest worker; run several with ``shared=True`` to scale out."""

    def __init__(self, mqtt_url: str, username: str | None, password: str | None,
                 ingestor: Ingestor, clock: Clock, client_id: str = "courtyard-ingest",
                 shared: bool = False, *, timeout: float = 10.0, handle_timeout: float = 60.0,
                 store_attempts: int = 4, retry_delay: float = 0.5,
                 min_backoff: float = MIN_BACKOFF_S, max_backoff: float = MAX_BACKOFF_S,
                 merge_messages: int = 32, merge_events: int = 10_000, acks_in_flight: int = 64,
                 queued_messages: int = 64, store_concurrency: int = 4,
                 ca_file: str | None = None, order_wait: float | None = None) -> None:
        broker = brokerurl.parse(mqtt_url)
        self._host, self._port, self._tls = broker.host, broker.port, broker.tls
        self._ca_file = ca_file
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
        self._min_backoff = min_backoff
        self._max_backoff = max(min_backoff, max_backoff)
        self._merge_messages = max(1, merge_messages)
        self._merge_events = max(1, merge_events)
        self._acks_in_flight = max(1, acks_in_flight)
        self._queued_messages = max(1, queued_messages)
        #: Sites stored at once (each site's batches stay in order in its lane); keep it
        #: below the database pool size, and at 1 on SQLite, which has one writer anyway.
        self._writers = asyncio.Semaphore(max(1, store_concurrency))
        self._ack_tasks: set[asyncio.Task[None]] = set()
        #: Shared: a site's batch waits (up to ``order_wait`` s, default 3) for its predecessor
        #: stored by another worker, so handlers see the site's events in seq order.
        wait = (3.0 if shared else 0.0) if order_wait is None else order_wait
        self.order = SeqOrder(getattr(ingestor, "sessions", None), bound=wait)
        if self.order.bound > 0 and isinstance(ingestor, Ingestor):
            ingestor.announce = self.order.announce  # the others hear what this one stored
        self.connected = False
        self._counters: dict[str, int] = {
            "messages": 0, "acks_published": 0, "ack_failures": 0, "store_failures": 0,
            "batches_unacked": 0, "ignored": 0, "connects": 0, "disconnects": 0,
            "merged_fallbacks": 0,
        }

    @property
    def counters(self) -> dict[str, int]:
        """Worker and ingest counters, flat, for /metrics."""
        out = {f"ingest_worker_{k}": v for k, v in self._counters.items()}
        out["ingest_worker_connected"] = int(self.connected)
        out.update((f"ingest_worker_{k}", v) for k, v in self.order.counters.items())
        out.update(self._ingestor.stats.as_dict())
        return out

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self._host, self._port, username=self._username, password=self._password,
            identifier=self._client_id, protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=False, timeout=self._timeout, keepalive=30,
            tls_context=tls_context(self._tls, self._ca_file),
        )

    async def run(self) -> None:
        """Consume until cancelled; a lost broker costs a reconnect, never the process.

        The MQTT error of a dropped link may come bare or wrapped in an ExceptionGroup (it
        is raised inside ``_consume``'s TaskGroup), so ``except*`` catches both; anything
        else is a bug and still ends the worker loudly.
        """
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.order.listen())  # returns at once unless shared on PostgreSQL
            await self._run()

    async def _run(self) -> None:
        backoff = self._min_backoff
        while True:
            error: aiomqtt.MqttError | None = None
            try:
                async with mqtt_session(self._client()) as client:
                    self.connected = True
                    self._counters["connects"] += 1
                    backoff = self._min_backoff
                    await client.subscribe(self._filter, qos=1, timeout=self._timeout)
                    log.info("ingest.connected", host=self._host, port=self._port,
                             filter=self._filter, client_id=self._client_id)
                    try:
                        await self._consume(client)
                    finally:
                        await self._settle_acks()
            except* aiomqtt.MqttError as group:
                error = first_mqtt_error(group)
            finally:
                self.connected = False
            self._counters["disconnects"] += 1
            delay = reconnect_delay(backoff)
            log.warning("ingest.disconnected", error=str(error or "connection closed"),
                        retry_in=round(delay, 2))
            await asyncio.sleep(delay)
            backoff = next_backoff(backoff, self._max_backoff)

    async def _consume(self, client: aiomqtt.Client) -> None:
        """Receive and decode here; store in one writer lane per site.

        Decoding the next messages (CPU in this process) overlaps with the lane's transaction
        (CPU in PostgreSQL), and sites do not wait for each other. A lane stores whatever queued
        up behind its current transaction as one transaction with one ack, so a backlog is
        stored in few, large transactions. At most ``queued_messages`` wait in the lanes:
        beyond that, receiving pauses and the broker holds the rest.
        """
        lanes: dict[str, _Lane] = {}
        room = asyncio.Semaphore(self._queued_messages)
        async with asyncio.TaskGroup() as tg:
            try:
                async for message in client.messages:
                    await room.acquire()
                    item = self._prepare(message)
                    if item is None:
                        room.release()
                        continue
                    lane = lanes.get(item.site)
                    if lane is None:
                        lane = lanes[item.site] = _Lane(item.site)
                        tg.create_task(self._run_lane(client, lane, room))
                    lane.put(item)
            except* aiomqtt.MqttError:
                # Store what was received (the broker will not deliver it again); the acks
                # cannot go out now, so the edge resends and the duplicates are dropped.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._handle_timeout):
                        for lane in lanes.values():
                            await lane.idle.wait()
                raise
            finally:
                for lane in lanes.values():
                    lane.closing = True
                    lane.wake.set()

    def _prepare(self, message: aiomqtt.Message) -> _Item | None:
        """Classify and decode one message (None: not ours, counted as ignored)."""
        self._counters["messages"] += 1
        topic = message.topic.value
        payload = (bytes(message.payload) if isinstance(message.payload, bytes | bytearray)
                   else b"")
        parsed = topics.parse(topic)
        if parsed is None or parsed[1] != "up" or parsed[2] not in ("events", "status", "health"):
            self._counters["ignored"] += 1
            return None
        site, _, name = parsed
        if name in ("status", "health"):  # stored one by one, in the site's lane
            return _Item(site, topic, payload, None)
        decoded = self._ingestor.decode(topic, payload)
        return _Item(site, topic, payload, decoded if isinstance(decoded, Decoded) else None,
                     refused=not isinstance(decoded, Decoded))

    async def _run_lane(self, client: aiomqtt.Client, lane: _Lane,
                        room: asyncio.Semaphore) -> None:
        """Store one site's items in arrival order: status messages one by one, runs of
        ``up/events`` batches merged (up to ``merge_events``) into one transaction."""
        items = lane.items
        while True:
            if not items:
                lane.idle.set()
                if lane.closing:
                    return
                lane.wake.clear()
                await lane.wake.wait()
                continue
            item = items.popleft()
            taken = [item]
            if item.decoded is not None:
                size = item.decoded.events
                while items and len(taken) < self._merge_messages:
                    nxt = items[0].decoded  # only a following, contiguous events batch joins
                    if (nxt is None or size + nxt.events > self._merge_events
                            or not follows(cast(Decoded, taken[-1].decoded), nxt)):
                        break
                    taken.append(items.popleft())
                    size += nxt.events
            try:
                if item.decoded is not None:  # outside the writers: waiting holds no slot
                    await self.order.wait_turn(lane.site, item.decoded)
                async with self._writers:
                    await self._store_taken(client, lane.site, item, taken)
            finally:
                for _ in taken:
                    room.release()

    async def _store_taken(self, client: aiomqtt.Client, site: str, item: _Item,
                           taken: list[_Item]) -> None:
        if item.decoded is not None:
            await self._store_group(client, site,
                                    [t.decoded for t in taken if t.decoded is not None])
        elif not item.refused:
            handle = (self._ingestor.handle_health if item.topic.endswith("/up/health")
                      else self._ingestor.handle_status)
            await self._store(site, lambda t=item.topic, p=item.payload:  # type: ignore[misc]
                              handle(t, p))

    async def _store_group(self, client: aiomqtt.Client, site: str,
                           group: list[Decoded]) -> None:
        if len(group) > 1:
            try:
                async with asyncio.timeout(self._handle_timeout):
                    result = await self._ingestor.store(group)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # store them one by one, each with its retries
                self._counters["store_failures"] += 1
                self._counters["merged_fallbacks"] += 1
                log.warning("ingest.merged_store_failed", site=site, batches=len(group),
                            error=f"{type(exc).__name__}: {exc}"[:300])
            else:
                self.order.stored(site, group)
                await self._ack(client, site, result)
                return
        for d in group:
            res = await self._store(site, lambda d=d: self._ingestor.store([d]))  # type: ignore[misc]
            if res is not None:
                self.order.stored(site, [d])
            await self._ack(client, site, res)

    async def _ack(self, client: aiomqtt.Client, site: str, result: IngestResult | None) -> None:
        """Publish ``down/ack`` for a committed result without waiting for its PUBACK here.

        Acks are watermarks: they go out in commit order (paho writes publishes in call order)
        and a lost one is covered by the next; the edge resends whatever no ack covered.
        """
        if result is None or result.ack_upto is None:
            return
        while len(self._ack_tasks) >= self._acks_in_flight:
            await asyncio.wait(self._ack_tasks, return_when=asyncio.FIRST_COMPLETED)
        for epoch, upto in result.acks:  # one per outbox epoch the stored batches carried
            task = asyncio.create_task(self._publish_ack(client, site, epoch, upto))
            self._ack_tasks.add(task)
            task.add_done_callback(self._ack_tasks.discard)

    async def _publish_ack(self, client: aiomqtt.Client, site: str, epoch: str,
                           upto: int) -> None:
        try:
            await client.publish(topics.down_ack(site), encode_ack(epoch, upto), qos=1,
                                 timeout=self._timeout)
        except aiomqtt.MqttError as exc:
            self._counters["ack_failures"] += 1
            log.warning("ingest.ack_failed", site=site, epoch=epoch, upto=upto, error=str(exc))
            return
        self._counters["acks_published"] += 1

    async def _settle_acks(self) -> None:
        """Let the acks already handed to the client finish before it disconnects."""
        if self._ack_tasks:
            await asyncio.wait(set(self._ack_tasks), timeout=self._timeout)

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
