"""The MQTT uplink: outbox → cloud in prioritised batches, cloud acks → outbox deletes.

Why it works this way (DESIGN §2):

* One persistent MQTT 3.1.1 session per site (``clean_session=False``) so acks and commands
  sent while the edge was away are still delivered; a retained Last Will says ``offline``.
* Sending never deletes. Only ``down/ack {"epoch": e, "upto": n}`` does, through the outbox,
  and only when ``e`` is this outbox's epoch (an ack for another epoch, forged or left over
  from a replaced box, is logged and counted). Sending is therefore free to go out of seq
  order (alarms first), and whatever the ack watermark has not passed is sent again after a
  reconnect or when acks stop coming: the cloud drops duplicates by (epoch, seq, id).
* After a (re)connect, events stored before it are "replay" and events stored after it are
  "live". Each batch takes, per priority (ALARM, ACCESS, TELEMETRY), live events first and
  then replay events, and replay is paced by a token bucket so a long backlog never delays a
  new alarm or a new gate event.
* Reconnecting waits 0.5 s, doubling up to ``backoff_cap`` (5 s), each wait jittered ±50 %:
  a broker back after an outage sees its edges within seconds, not all in the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiomqtt
import structlog

import brokerurl
from contract import (
    Ack,
    Clock,
    ContractError,
    Priority,
    SystemClock,
    WireEnvelope,
    decode_ack,
    encode_wire_batch,
    topics,
)
from contract.batch import gzip_batch
from contract.commands import cmd_id_of, decode_command
from contract.sync import decode_sync
from edge.commands.channel import CommandChannel, send_replies
from edge.config.model import SiteConfig
from edge.metrics import RateMeter
from edge.outbox import AsyncOutbox
from edge.outbox.store import Outbox

log = structlog.get_logger("edge.uplink")

_NET_ERRORS = (aiomqtt.MqttError, TimeoutError, OSError)

OnSync = Callable[[str, int], None]
"""Called with (dataset, version) for each well-formed ``down/sync`` (``contract.sync``). It
must not block: the receive loop also carries the acks, so the pull itself happens elsewhere
(edge.parking.sync)."""
SessionJob = Callable[[aiomqtt.Client], Coroutine[Any, Any, None]]  # edge.health_report


@dataclass(frozen=True, slots=True)
class UplinkSettings:
    site: str
    mqtt_url: str
    username: str | None = None
    password: str | None = None
    #: A private CA (PEM) that signed the broker's certificate; None: the system's store.
    ca_file: str | None = None
    batch_size: int = 500
    gzip_above: int = 8 * 1024
    replay_rate: float = 2000.0
    ack_timeout: float = 30.0
    connect_timeout: float = 10.0
    call_timeout: float = 10.0
    keepalive: int = 30
    backoff_initial: float = 0.5
    #: Waits double from ``backoff_initial`` up to this, each jittered ±50 % (``backoff_wait``).
    backoff_cap: float = 5.0
    max_inflight: int = 100
    #: Batches published and not yet PUBACKed; more keep the link busy while the broker and
    #: the cloud work (the cloud stores batches that queued up together in one transaction).
    batches_in_flight: int = 8
    #: Events published since the ack last advanced before sending pauses: a cloud that is
    #: down or stuck gets this much, not the whole backlog again on every resend, and the
    #: broker's queue for the cloud (Mosquitto keeps 1,000 messages by default) never overflows.
    max_unacked_events: int = 50_000
    #: When only readings (telemetry) are new, wait this long for more before sending, so a
    #: site whose meters are polled at spread instants sends a few batches a second instead of
    #: one per reading (each batch also costs the cloud a transaction and the edge an ack).
    #: Alarms, access and parking events go at once and take the waiting readings with them.
    telemetry_linger: float = 0.25

    @classmethod
    def from_site(cls, cfg: SiteConfig, **overrides: Any) -> UplinkSettings:
        base: dict[str, Any] = {
            "site": cfg.site.id, "mqtt_url": cfg.cloud.mqtt_url,
            "username": cfg.cloud.username or None, "password": cfg.cloud.password or None,
            "replay_rate": cfg.edge.replay_rate,
            "ca_file": str(cfg.cloud.ca_file) if cfg.cloud.ca_file else None,
        }
        base.update(overrides)
        return cls(**base)


@dataclass(slots=True)
class UplinkCounters:
    published_events: int = 0
    batches: int = 0
    reconnects: int = 0
    acks: int = 0
    #: Acks naming another outbox epoch (a forged ack, or one meant for a replaced box):
    #: ignored, nothing deleted.
    acks_other_epoch: int = 0
    resends: int = 0
    downlink_malformed: int = 0
    sync_messages: int = 0
    cmd_messages: int = 0
    #: Commands the contract refused (malformed, unknown kind…) with no runner: logged.
    cmd_refused: int = 0
    cmd_replies: int = 0


class TokenBucket:
    """Allows ``rate`` events per second on average, bursts up to ``capacity``."""

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be > 0")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._at = clock.monotonic()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, want: int) -> int:
        """Take up to ``want`` whole tokens; return how many were granted."""
        self._refill()
        got = max(0, min(want, int(self._tokens)))
        self._tokens -= got
        return got

    def give_back(self, n: int) -> None:
        self._tokens = min(self.capacity, self._tokens + n)

    def seconds_until(self, n: float) -> float:
        self._refill()
        return max(0.0, (min(n, self.capacity) - self._tokens) / self.rate)


class _SendState:
    """Per-connection cursors: ``boundary`` splits replay (≤) from live (>)."""

    def __init__(self, boundary: int) -> None:
        self.reset(boundary)

    def reset(self, boundary: int) -> None:
        self.boundary = boundary
        self.live = dict.fromkeys(Priority, boundary)
        self.replay = dict.fromkeys(Priority, 0)
        self.replay_more = True


class Uplink:
    """Runs until cancelled, reconnecting with backoff; read ``connected``/``counters``."""

    def __init__(self, settings: UplinkSettings, outbox: AsyncOutbox,
                 clock: Clock | None = None, rate: RateMeter | None = None, *,
                 on_sync: OnSync | None = None,
                 commands: CommandChannel | None = None) -> None:
        try:
            broker = brokerurl.parse(settings.mqtt_url)
        except brokerurl.BrokerURLError as exc:
            raise ValueError(f"cloud.mqtt_url: {exc}") from None
        self.s = settings
        self._host, self._port = broker.host, broker.port
        try:
            self._tls = ssl.create_default_context(cafile=settings.ca_file) if broker.tls else None
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cloud.ca_file: 无法读取 CA 证书 / cannot load the CA "
                             f"{settings.ca_file}: {exc}") from None
        self._outbox = outbox
        self._clock: Clock = clock or SystemClock()
        self.rate = rate or RateMeter(self._clock)
        self.counters = UplinkCounters()
        self.connected = False
        self._log = log.bind(site=settings.site, broker=f"{self._host}:{self._port}",
                             epoch=outbox.epoch)
        self._wake = outbox.subscribe()
        self._acked = self._sent_upto = self._since_progress = 0
        self._last_progress = self._clock.monotonic()
        self._stopping = False
        self.on_sync = on_sync
        self.commands = commands
        self.session_jobs: dict[str, SessionJob] = {}  # per session: up/health, by task name

    # -- connection ------------------------------------------------------------------------

    async def run(self) -> None:
        delay = self.s.backoff_initial
        attempt = 0
        while True:
            if attempt:
                self.counters.reconnects += 1
            attempt += 1
            started = self._clock.monotonic()
            failure: BaseException | None = None
            try:
                await self._session()
            except* _NET_ERRORS as eg:
                if self._stopping:  # the client turned our cancel into an error: still stop
                    raise asyncio.CancelledError from None
                failure = eg.exceptions[0]
            except* Exception as eg:  # a bug must not end the uplink: log it and reconnect
                failure = eg.exceptions[0]
                self._log.error("uplink session failed unexpectedly", exc_info=failure)
            if self._clock.monotonic() - started > 60:
                delay = self.s.backoff_initial
            wait = backoff_wait(delay)
            self._log.warning("uplink disconnected; will retry", error=repr(failure),
                              retry_in_s=round(wait, 2))
            await asyncio.sleep(wait)
            delay = min(self.s.backoff_cap, delay * 2)

    def _client(self) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self._host, self._port, username=self.s.username, password=self.s.password,
            identifier=f"courtyard-edge-{self.s.site}",
            protocol=aiomqtt.ProtocolVersion.V311, clean_session=False,
            will=aiomqtt.Will(topics.up_status(self.s.site), b"offline", qos=1, retain=True),
            keepalive=self.s.keepalive, timeout=self.s.connect_timeout,
            max_inflight_messages=self.s.max_inflight, tls_context=self._tls)
        # Many QoS 1 publishes in flight is normal here, not a leak (aiomqtt warns past 10).
        client.pending_calls_threshold = 10_000
        return client

    async def _session(self) -> None:
        client = self._client()
        async with client:
            self.connected = True
            try:
                await client.subscribe(topics.down_filter(self.s.site), qos=1,
                                       timeout=self.s.call_timeout)
                await client.publish(topics.up_status(self.s.site), b"online", qos=1,
                                     retain=True, timeout=self.s.call_timeout)
                self._log.info("uplink connected")
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._receive(client), name="uplink-receive")
                    tg.create_task(self._send(client), name="uplink-send")
                    if self.commands is not None:
                        tg.create_task(send_replies(client, self.commands, self.s.site,
                                                    self.s.call_timeout, self.counters),
                                       name="uplink-cmd-replies")
                    for name, job in self.session_jobs.items():
                        tg.create_task(job(client), name=name)
            except asyncio.CancelledError:
                # Leaving ``async with client`` aiomqtt may replace this cancel with MqttError
                # (its disconnect wait timed out); run() must still stop, not reconnect.
                self._stopping = True
                # A clean stop: say so now, the Last Will is only for crashes.
                with contextlib.suppress(Exception):
                    await client.publish(topics.up_status(self.s.site), b"offline", qos=1,
                                         retain=True, timeout=2.0)
                raise
            finally:
                self.connected = False

    # -- downlink --------------------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            await self.handle_downlink(str(msg.topic), _as_bytes(msg.payload))

    async def handle_downlink(self, topic: str, payload: bytes) -> None:
        """Apply one downlink message; bad ones are logged and counted, never raised."""
        parsed = topics.parse(topic)
        name = parsed[2] if parsed and parsed[0] == self.s.site and parsed[1] == "down" else None
        if name == "ack":
            try:
                ack = decode_ack(payload)
            except ContractError as exc:
                self._malformed(topic, payload, str(exc))
                return
            await self._apply_ack(ack)
        elif name == "sync":
            self.counters.sync_messages += 1
            if not payload:  # an empty retained message only clears the retained notice
                return
            try:
                dataset, version = decode_sync(payload)
            except ContractError as exc:
                self._malformed(topic, payload, str(exc))
                return
            if self.on_sync is None:
                self._log.info("数据集更新通知无人处理 / dataset notice not handled here",
                               dataset=dataset, version=version)
                return
            try:
                self.on_sync(dataset, version)
            except Exception:  # a bug in the handler must not end the session
                self._log.exception("数据集更新通知处理失败 / dataset notice handler failed",
                                    dataset=dataset, version=version)
        elif name == "cmd":
            self.counters.cmd_messages += 1
            self._command(payload)
        else:
            self._malformed(topic, payload, "unknown downlink topic")

    def _command(self, payload: bytes) -> None:
        """Hand a ``down/cmd`` to the command runner (edge.commands), which records, runs and
        replies; an uplink without one (a test, a tool) decodes, logs and runs nothing."""
        if self.commands is not None:
            self.commands.received(payload)
            return
        try:
            cmd = decode_command(payload)
        except ContractError as exc:
            self.counters.cmd_refused += 1
            self._log.warning("远程命令格式错误，已拒绝 / malformed command refused",
                              cmd_id=cmd_id_of(payload), field=exc.field, reason=exc.reason)
            return
        self._log.info("收到远程命令，本版本不执行 / command received, not run by this version",
                       cmd_id=cmd.cmd_id, kind=str(cmd.kind), issued_by=cmd.issued_by,
                       not_after=cmd.not_after.isoformat(),
                       expired=cmd.expired(self._clock.now()))

    def _malformed(self, topic: str, payload: bytes, reason: str) -> None:
        self.counters.downlink_malformed += 1
        self._log.warning("下行消息格式错误，已丢弃 / malformed downlink dropped", topic=topic,
                          reason=reason, payload=payload[:120].decode("utf-8", "replace"))

    async def _apply_ack(self, ack: Ack) -> None:
        if ack.epoch != self._outbox.epoch:
            self.counters.acks_other_epoch += 1
            self._log.warning("确认消息属于其他纪元，已忽略 / ack for another outbox epoch ignored",
                              ack_epoch=ack.epoch, upto=ack.upto)
            return
        self.counters.acks += 1
        upto = ack.upto
        deleted, acked = await self._outbox.read(
            lambda box: (box.ack(ack.epoch, upto), box.acked()))
        if acked > self._acked:
            self._acked = acked
            self._last_progress = self._clock.monotonic()
            self._since_progress = 0
            self._wake.set()
        self._log.debug("ack applied", upto=upto, deleted=deleted)

    # -- uplink ----------------------------------------------------------------------------

    async def _send(self, client: aiomqtt.Client) -> None:
        box = self._outbox
        self._acked = await box.acked()
        state = _SendState(await box.high_water())
        bucket = TokenBucket(self.s.replay_rate, max(self.s.replay_rate, self.s.batch_size),
                             self._clock)
        self._sent_upto = self._acked
        self._last_progress = self._clock.monotonic()
        self._since_progress = 0
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                _reap(inflight)
                self._wake.clear()
                box.urgent.clear()
                window_full = self._since_progress >= self.s.max_unacked_events
                out = (None if window_full
                       else await box.read(lambda b: self._take(b, state, bucket)))
                if out is not None:
                    while len(inflight) >= max(1, self.s.batches_in_flight):
                        await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                        _reap(inflight)
                    if self._sent_upto <= self._acked:
                        self._last_progress = self._clock.monotonic()
                    self._sent_upto = max(self._sent_upto, out.last_seq)
                    self._since_progress += out.events
                    inflight.add(asyncio.create_task(self._publish(client, out)))
                    continue
                now = self._clock.monotonic()
                outstanding = self._sent_upto > self._acked
                if outstanding and now - self._last_progress >= self.s.ack_timeout:
                    self.counters.resends += 1
                    self._log.warning("no ack advanced in time; resending unacked events",
                                      acked=self._acked, sent_upto=self._sent_upto)
                    state.reset(await box.high_water())
                    self._last_progress = now
                    self._since_progress = 0
                    continue
                timeout: float | None = None
                if outstanding:
                    timeout = self.s.ack_timeout - (now - self._last_progress)
                if state.replay_more and not window_full:
                    refill = bucket.seconds_until(min(self.s.batch_size, bucket.capacity))
                    timeout = refill if timeout is None else min(timeout, refill)
                if inflight:  # notice a failed publish without waiting for the next event
                    timeout = 1.0 if timeout is None else min(timeout, 1.0)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                if (self._wake.is_set() and not box.urgent.is_set()
                        and self.s.telemetry_linger > 0):
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.s.telemetry_linger):
                            await box.urgent.wait()
        finally:
            for task in inflight:
                task.cancel()
            if inflight:
                await asyncio.wait(inflight)

    def _take(self, box: Outbox, state: _SendState, bucket: TokenBucket) -> _Outgoing | None:
        """The next batch, encoded (and gzipped when large): runs on the outbox thread, so the
        reads, the encoding and the compression take one hop and leave the loop free.

        Per priority (ALARM, ACCESS, TELEMETRY): live events first, then replay events as far
        as the token bucket allows.
        """
        size = self.s.batch_size
        batch: list[tuple[int, WireEnvelope]] = []
        replay_more = False
        for prio in Priority:
            if len(batch) >= size:
                replay_more = True
                break
            live = box.pending_wire(prio, state.live[prio], size - len(batch))
            if live:
                state.live[prio] = live[-1][0]
                batch.extend(live)
            room = size - len(batch)
            if room <= 0:
                replay_more = True
                continue
            allowed = bucket.take(room)
            if allowed == 0:
                replay_more = True
                continue
            old = box.pending_wire(prio, state.replay[prio], allowed, max_seq=state.boundary)
            bucket.give_back(allowed - len(old))
            if old:
                state.replay[prio] = old[-1][0]
                batch.extend(old)
            if len(old) == allowed:
                replay_more = True
        state.replay_more = replay_more
        if not batch:
            return None
        gaps = box.gaps()
        raw = encode_wire_batch(self.s.site, box.epoch, [w for _, w in batch], gaps)
        payload = gzip_batch(raw) if len(raw) > self.s.gzip_above else raw
        return _Outgoing(payload=payload, events=len(batch), first_seq=batch[0][0],
                         last_seq=max(seq for seq, _ in batch), gaps=len(gaps))

    async def _publish(self, client: aiomqtt.Client, out: _Outgoing) -> None:
        await client.publish(topics.up_events(self.s.site), out.payload, qos=1,
                             timeout=self.s.call_timeout)
        self.counters.batches += 1
        self.counters.published_events += out.events
        self.rate.add(out.events)
        self._log.debug("batch published", events=out.events, bytes=len(out.payload),
                        first_seq=out.first_seq, gaps=out.gaps)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    payload: bytes
    events: int
    first_seq: int
    last_seq: int
    gaps: int


def backoff_wait(delay: float) -> float:
    """``delay`` jittered ±50 %, so edges reconnecting after one outage spread out."""
    return random.uniform(delay * 0.5, delay * 1.5)


def _reap(tasks: set[asyncio.Task[None]]) -> None:
    """Drop finished publishes; a failed one ends the session (the caller reconnects)."""
    for task in [t for t in tasks if t.done()]:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _as_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()

