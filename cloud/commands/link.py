"""The console's MQTT link for commands: publish ``down/cmd``, receive ``up/cmd-reply``.

One connection per console process, with the ingest worker's credential (the broker ACL lets
it write every site's ``down/#`` and read every ``up/#``). ``submit`` only queues the id of a
committed command and wakes the link, so an HTTP request never waits for the broker. The link
publishes it QoS 1 (once: a command is handed over again only after a lost link left it
without a PUBACK, and the edge runs each ``cmd_id`` at most once anyway), records ``sent`` on
the PUBACK, and settles commands from the replies on
``courtyard/v1/+/up/cmd-reply`` — the topic's site must be the command's site. Every
``SWEEP_S`` it also expires open commands whose ``not_after`` passed without a reply (what the
API answers does not depend on this loop: a read expires an overdue command too).

A clean session: a reply sent while the link was away is not replayed, and its command then
ends ``expired`` (the action itself still arrives as an ordinary event). With ``shared`` the
reply subscription is shared between console processes (``$share/commands/…``).
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
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import brokerurl
from cloud.commands.service import apply_reply, expire_due, mark_sent, wire_command
from cloud.commands.tables import RemoteCommand
from cloud.db.models import Site
from cloud.mqttlink import (
    MAX_BACKOFF_S,
    MIN_BACKOFF_S,
    first_mqtt_error,
    mqtt_session,
    next_backoff,
    reconnect_delay,
    tls_context,
)
from contract import Clock, topics
from contract.commands import decode_reply, encode_command
from contract.errors import ContractError

log = structlog.get_logger(__name__)

REPLY_FILTER = f"{topics.PREFIX}/+/up/cmd-reply"
SHARED_REPLY_FILTER = f"$share/commands/{REPLY_FILTER}"
SWEEP_S = 1.0


class CommandLink:
    """Publishes submitted commands and settles them from the edges' replies."""

    def __init__(self, mqtt_url: str, username: str | None, password: str | None,
                 sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                 client_id: str | None = None, shared: bool = False, timeout: float = 10.0,
                 min_backoff: float = MIN_BACKOFF_S, max_backoff: float = MAX_BACKOFF_S,
                 ca_file: str | None = None, sweep_s: float = SWEEP_S,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        broker = brokerurl.parse(mqtt_url)
        self._host, self._port, self._tls = broker.host, broker.port, broker.tls
        self._username, self._password = username, password
        self._sessions = sessions
        self._clock = clock
        self._client_id = client_id or (
            f"courtyard-cmd-{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}")
        self._filter = SHARED_REPLY_FILTER if shared else REPLY_FILTER
        self._timeout = timeout
        self._min_backoff = min_backoff
        self._max_backoff = max(min_backoff, max_backoff)
        self._ca_file = ca_file
        self._sweep_s = sweep_s
        self._sleep = sleep
        self._pending: list[int] = []
        self._wake = asyncio.Event()
        self.connected = False
        self.counters: dict[str, int] = {
            "published": 0, "publish_failures": 0, "replies": 0, "replies_applied": 0,
            "replies_refused": 0, "expired": 0, "connects": 0, "disconnects": 0}

    def submit(self, command_id: int) -> None:
        """Queue a committed command for publishing; returns at once."""
        self._pending.append(command_id)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

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
        """Publish, receive and sweep until cancelled; a lost broker costs a reconnect."""
        backoff = self._min_backoff
        sweeper = asyncio.create_task(self._sweep_forever())
        try:
            while True:
                error: aiomqtt.MqttError | None = None
                try:
                    async with mqtt_session(self._client()) as client:
                        await client.subscribe(self._filter, qos=1, timeout=self._timeout)
                        self.connected = True
                        self.counters["connects"] += 1
                        backoff = self._min_backoff
                        log.info("commands.connected", host=self._host, port=self._port)
                        async with asyncio.TaskGroup() as tg:
                            tg.create_task(self._receive(client))
                            tg.create_task(self._publish_forever(client))
                except* aiomqtt.MqttError as group:
                    error = first_mqtt_error(group)
                finally:
                    self.connected = False
                self.counters["disconnects"] += 1
                delay = reconnect_delay(backoff)
                log.warning("commands.disconnected", error=str(error or "connection closed"),
                            retry_in=round(delay, 2), pending=self.pending)
                await self._sleep(delay)
                backoff = next_backoff(backoff, self._max_backoff)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _publish_forever(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            while self._pending:
                await self._publish(client, self._pending[0])
                self._pending.pop(0)
            await self._wake.wait()

    async def _publish(self, client: aiomqtt.Client, command_id: int) -> None:
        """Hand one command to the broker (QoS 1) and record ``sent``; a command no longer
        ``queued`` (expired meanwhile, already answered) is skipped."""
        try:
            async with self._sessions() as session:
                row = await session.get(RemoteCommand, command_id)
                site = await session.get(Site, row.site_id) if row is not None else None
        except (SQLAlchemyError, OSError) as exc:  # left queued: the sweep expires it
            log.warning("commands.load_failed", command=command_id, error=str(exc)[:300])
            return
        if row is None or site is None or row.state != "queued":
            return
        if row.not_after < self._clock.now():
            return  # never send what the edge must refuse anyway; the sweep expires it
        try:
            await client.publish(topics.down_cmd(site.slug), encode_command(wire_command(row)),
                                 qos=1, timeout=self._timeout)
        except aiomqtt.MqttError:
            self.counters["publish_failures"] += 1
            raise
        self.counters["published"] += 1
        log.info("commands.published", site=site.slug, cmd_id=row.cmd_id, kind=row.kind)
        try:
            async with self._sessions() as session, session.begin():
                await mark_sent(session, command_id, self._clock.now())
        except (SQLAlchemyError, OSError) as exc:  # the reply or the sweep settles it
            log.warning("commands.mark_sent_failed", cmd_id=row.cmd_id, error=str(exc)[:300])

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = (bytes(message.payload)
                       if isinstance(message.payload, bytes | bytearray) else b"")
            await self.handle_reply(message.topic.value, payload)

    async def handle_reply(self, topic: str, payload: bytes) -> bool:
        """Settle the command a ``up/cmd-reply`` message answers; True when one changed."""
        self.counters["replies"] += 1
        parsed = topics.parse(topic)
        if parsed is None or parsed[1:] != ("up", "cmd-reply"):
            self.counters["replies_refused"] += 1
            return False
        try:
            reply = decode_reply(payload)
        except ContractError as exc:
            self.counters["replies_refused"] += 1
            log.warning("commands.reply_refused", site=parsed[0], field=exc.field,
                        reason=exc.reason)
            return False
        try:
            async with self._sessions() as session, session.begin():
                row = await apply_reply(session, parsed[0], reply, self._clock.now())
        except (SQLAlchemyError, OSError) as exc:
            log.warning("commands.reply_store_failed", cmd_id=reply.cmd_id, error=str(exc)[:300])
            return False
        if row is None:
            self.counters["replies_refused"] += 1
            return False
        self.counters["replies_applied"] += 1
        return True

    async def _sweep_forever(self) -> None:
        while True:
            await self._sleep(self._sweep_s)
            try:
                async with self._sessions() as session, session.begin():
                    self.counters["expired"] += await expire_due(session, self._clock.now())
            except (SQLAlchemyError, OSError) as exc:
                log.warning("commands.sweep_failed", error=str(exc)[:300])


#: Where ``cloud.serve`` keeps the link on the app: here, beside the link, so a feature that
#: issues a command of its own (patrol's scans) finds it without the HTTP adapters.
COMMAND_LINK: web.AppKey[CommandLink] = web.AppKey("command_link", CommandLink)
