"""Subscribe to the site-local broker the BLE receivers publish to; hand each advert to presence.

Only the receivers in the site file are subscribed to (``home/<gw>/BTtoMQTT/+`` per
OpenMQTTGateway, ``espresense/devices/+/<room>`` per ESPresense room), so the ESPresense nodes
and gateways of a neighbouring building on the same broker cost nothing. Each message is parsed
on the loop (a few microseconds) and handed to a synchronous ``sink``: presence is in-memory and
must keep up with 10,000 adverts/s, so there is no queue between the two. Not even aiomqtt's:
its ``queue_type`` hook gets a queue that dispatches on ``put_nowait``, because iterating
``client.messages`` costs a task and an ``asyncio.wait`` per message (it doubled the CPU per
advert when measured); the iterator is only awaited to learn of a disconnect.

A message that cannot be an advert is counted (``malformed``, with the last reason) and logged
at most once per 10 s per receiver; a broken receiver never stops the others. A lost broker is
retried with capped, jittered backoff; connecting has a timeout. Cancelling ``run()`` stops it
even when aiomqtt turns the cancel into ``MqttError`` on the way out of ``async with Client``
(its disconnect wait timing out under load): the session remembers it was cancelled.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import aiomqtt
import structlog

import brokerurl
from contract import Clock
from drivers.ble.espresense import parse_espresense
from drivers.ble.model import Advert, BadAdvert
from drivers.ble.openmqttgateway import parse_omg

Sink = Callable[[Advert], None]
LOG_EVERY_S = 10.0
_RESET_AFTER_S = 60.0  # a session that lasted this long starts the backoff over
_MQTT_SPECIAL = frozenset("+#/")


class ReceiverSpec(Protocol):
    """What the subscriber needs of a site file's ``patrol.receivers[]`` entry."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def source(self) -> str: ...


@dataclass(slots=True)
class Counters:
    received: int = 0
    malformed: int = 0
    unknown_receiver: int = 0
    sink_errors: int = 0
    reconnects: int = 0


def _topic_filters(omg: Iterable[str], rooms: Iterable[str]) -> list[str]:
    return ([f"home/{gw}/BTtoMQTT/+" for gw in sorted(omg)]
            + [f"espresense/devices/+/{room}" for room in sorted(rooms)])


class SiteReceivers:
    """The site broker's BLE receivers → ``sink(advert)``; ``run()`` until cancelled."""

    def __init__(self, url: str, receivers: Iterable[ReceiverSpec], sink: Sink, clock: Clock,
                 site: str, *, username: str | None = None, password: str | None = None,
                 connect_timeout: float = 10.0, keepalive: int = 30,
                 backoff_initial: float = 1.0, backoff_cap: float = 30.0) -> None:
        self._broker = brokerurl.parse(url)
        self._username = username if username is not None else self._broker.username
        self._password = password if password is not None else self._broker.password
        self._omg: dict[str, str] = {}
        self._rooms: dict[str, str] = {}
        for r in receivers:
            if r.kind not in ("openmqttgateway", "espresense"):
                continue  # the box's own adapter is not on the broker
            if not r.source or _MQTT_SPECIAL & set(r.source):
                raise ValueError(f"receiver {r.id}: source {r.source!r} cannot be a topic level")
            (self._omg if r.kind == "openmqttgateway" else self._rooms)[r.source] = r.id
        self.filters = _topic_filters(self._omg, self._rooms)
        self._sink = sink
        self._clock = clock
        self._site = site
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive
        self._backoff_initial = backoff_initial
        self._backoff_cap = backoff_cap
        self._tls = ssl.create_default_context() if self._broker.tls else None
        self._log = structlog.get_logger("drivers.ble.site_broker").bind(
            site=site, broker=self._broker.address)
        self._logged_at: dict[str, float] = {}
        self.counters = Counters()
        self.connected = False
        self.last_error: str | None = None
        self.last_malformed: str | None = None
        self._stopping = False

    # -- messages -----------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> Advert | None:
        """One message from the broker; the advert handed to the sink, or None (counted)."""
        at = self._clock.monotonic()
        try:
            if topic.startswith("home/"):
                advert = parse_omg(topic, payload, at, self._omg)
            elif topic.startswith("espresense/"):
                advert = parse_espresense(topic, payload, at, self._rooms)
            else:
                raise BadAdvert("bad_topic", topic[:120])
        except BadAdvert as exc:
            self._refused(topic, exc, at)
            return None
        except Exception as exc:  # a decoder bug: count it like bad input, keep receiving
            self._refused(topic, BadAdvert("internal_error", repr(exc)), at)
            return None
        self.counters.received += 1
        try:
            self._sink(advert)
        except Exception:  # presence's bug must not end the subscription
            self.counters.sink_errors += 1
            if self._due("sink", at):
                self._log.exception("patrol presence failed on an advert", receiver=advert.receiver)
        return advert

    def _refused(self, topic: str, exc: BadAdvert, at: float) -> None:
        parts = topic.split("/")
        source = parts[1] if parts[0] == "home" and len(parts) > 1 else parts[-1]
        if exc.reason == "unknown_receiver":
            self.counters.unknown_receiver += 1
            if self._due(f"unknown:{source}", at):
                self._log.warning("advert from a receiver not in the site file",
                                  source=source, topic=topic[:120])
            return
        self.counters.malformed += 1
        self.last_malformed = exc.reason
        receiver = self._omg.get(source) or self._rooms.get(source) or source
        if self._due(receiver, at):
            self._log.warning("malformed advert", receiver=receiver, reason=exc.reason,
                              detail=exc.detail[:200], malformed=self.counters.malformed)

    def _due(self, key: str, at: float) -> bool:
        last = self._logged_at.get(key)
        if last is not None and at - last < LOG_EVERY_S:
            return False
        if len(self._logged_at) > 10_000:  # topics are the receivers' to choose: stay bounded
            self._logged_at.clear()
        self._logged_at[key] = at
        return True

    # -- connection ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe and dispatch until cancelled; reconnect with backoff on a lost broker."""
        if not self.filters:
            self._log.info("no BLE receivers on the site broker; nothing to subscribe to")
            return
        delay = self._backoff_initial
        while True:
            started = self._clock.monotonic()
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                if self._stopping:  # aiomqtt turned our cancel into an error: still stop
                    raise asyncio.CancelledError from None
                self.last_error = repr(exc)
            if self._clock.monotonic() - started > _RESET_AFTER_S:
                delay = self._backoff_initial
            wait = delay * random.uniform(0.5, 1.5)
            self.counters.reconnects += 1
            self._log.warning("站点 MQTT 断开，稍后重连 / site broker lost; will retry",
                              error=self.last_error, retry_in_s=round(wait, 2))
            await asyncio.sleep(wait)
            delay = min(self._backoff_cap, delay * 2)

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self._broker.host, self._broker.port, username=self._username,
            password=self._password, identifier=f"courtyard-patrol-{self._site}-"
            f"{uuid.uuid4().hex[:8]}", keepalive=self._keepalive,
            timeout=self._connect_timeout, tls_context=self._tls,
            queue_type=_dispatching_queue(self.handle))

    async def _session(self) -> None:
        async with self._cancel_stays_cancel(self._client()) as client:
            await client.subscribe([(f, 0) for f in self.filters], timeout=self._connect_timeout)
            self.connected = True
            self.last_error = None
            self._log.info("subscribed to the site broker's BLE receivers", filters=self.filters)
            try:
                async for _ in client.messages:  # never yields: the queue dispatches
                    pass
            finally:
                self.connected = False

    @asynccontextmanager
    async def _cancel_stays_cancel(self, client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Client]:
        """``async with client`` that remembers a cancel, so ``run()`` stops even when aiomqtt
        replaces it with MqttError on the way out."""
        async with client:
            try:
                yield client
            except asyncio.CancelledError:
                self._stopping = True
                raise

    def status(self) -> dict[str, Any]:
        """For /healthz: whether the site broker is connected, the counters, the last error."""
        c = self.counters
        return {"connected": self.connected, "broker": self._broker.address,
                "subscriptions": list(self.filters), "received": c.received,
                "malformed": c.malformed, "last_malformed": self.last_malformed,
                "unknown_receiver": c.unknown_receiver, "sink_errors": c.sink_errors,
                "reconnects": c.reconnects, "last_error": self.last_error}


def _dispatching_queue(handle: Callable[[str, bytes], object]) -> type[asyncio.Queue[Any]]:
    """An aiomqtt message queue that hands each message to ``handle`` as it arrives."""

    class _Dispatch(asyncio.Queue[Any]):
        def put_nowait(self, item: Any) -> None:
            handle(str(item.topic), _as_bytes(item.payload))

    return _Dispatch


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return b"" if payload is None else str(payload).encode("utf-8")
