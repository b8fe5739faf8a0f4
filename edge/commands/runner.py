"""Run the console's ``down/cmd`` commands at most once each, and keep their replies until the
broker has them.

For each delivery (``received``, called by the uplink's receive loop: it never blocks, the
work is a task of its own so acks keep flowing):

1. decode; a payload the contract refuses is answered ``refused`` naming the field when it
   carries a usable ``cmd_id``, else logged and counted (``unusable``);
2. a ``cmd_id`` already running here is a duplicate and ignored; one already on record gets
   its stored reply sent again — it never runs twice;
3. past ``not_after`` (the injected clock) → ``expired``; a kind nobody handles → ``refused``;
4. recorded ``running`` durably (``edge.commands.store``) — only then run, bounded by
   ``timeout``; the result is stored and the reply queued.

Replies go out through the uplink (``unsent`` / ``sent`` / ``wait_unsent``), ``up/cmd-reply``
QoS 1, and are marked sent only once the broker took them; a reply may therefore go out twice
(after a reconnect), never zero times. A command found ``running`` at start was cut off by a
restart: it is answered ``failed`` (it may or may not have acted) and not run again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import structlog

from contract import Clock, ContractError
from contract.commands import (
    Command,
    CommandKind,
    CommandReply,
    CommandResult,
    cmd_id_of,
    decode_command,
    encode_reply,
)
from drivers.base import DriverStats
from edge.commands.handlers import Handler
from edge.commands.outcome import CommandFailed, CommandRefused, text
from edge.commands.store import DONE, AsyncCommandStore

log = structlog.get_logger("edge.commands")

COMMANDS_FILE = "commands.db"
DEFAULT_TIMEOUT_S = 15.0
INTERRUPTED = text("网关在执行该命令时重启，未再次执行；请到现场核实设备状态",
                   "the edge restarted while running this command: it was not run again, "
                   "check the device")


class CommandRunner:
    """Open with ``await CommandRunner.open(...)``; close with ``aclose()``."""

    def __init__(self, store: AsyncCommandStore, handlers: Mapping[CommandKind, Handler],
                 clock: Clock, *, site: str, timeout: float = DEFAULT_TIMEOUT_S,
                 stats: DriverStats | None = None) -> None:
        self._store = store
        self._handlers = dict(handlers)
        self._clock = clock
        self.timeout = timeout
        self.stats = stats if stats is not None else DriverStats()
        self._log = log.bind(site=site)
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsent: dict[str, CommandReply] = {}
        self._reply_ready = asyncio.Event()

    @classmethod
    async def open(cls, path: Path | str, handlers: Mapping[CommandKind, Handler],
                   clock: Clock, *, site: str, call_timeout: float = DEFAULT_TIMEOUT_S,
                   stats: DriverStats | None = None) -> CommandRunner:
        """Open the command file, answer commands a restart cut off, load unsent replies."""
        store = await AsyncCommandStore.open(path)
        runner = cls(store, handlers, clock, site=site, timeout=call_timeout, stats=stats)
        try:
            await runner._recover()
        except BaseException:
            await store.aclose()
            raise
        return runner

    async def _recover(self) -> None:
        for row in await self._store.interrupted():
            self.stats.inc("commands_interrupted")
            self._log.error("命令执行中网关重启，不再执行 / command cut off by a restart: not run "
                            "again", cmd_id=row.cmd_id, kind=row.kind, issued_by=row.issued_by)
            await self._store.finish(self._reply(row.cmd_id, CommandResult.FAILED, INTERRUPTED))
        for reply in await self._store.unreplied():
            self._unsent[reply.cmd_id] = reply
        if self._unsent:
            self._reply_ready.set()
        pruned = await self._store.prune(self._clock.now())
        if pruned:
            self._log.info("old commands forgotten", pruned=pruned)

    async def aclose(self) -> None:
        """Cancel commands still running (they stay ``running``: answered after the next
        start), then close the file."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        await self._store.aclose()

    # -- the uplink's side -----------------------------------------------------------------

    def received(self, payload: bytes) -> None:
        """A ``down/cmd`` delivery; handled in a task of its own (never blocks, never raises)."""
        task = asyncio.create_task(self._safely(payload), name="command")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def unsent(self) -> list[tuple[str, bytes]]:
        """Replies not yet taken by the broker: (cmd_id, ``up/cmd-reply`` payload)."""
        return [(cmd_id, encode_reply(r)) for cmd_id, r in list(self._unsent.items())]

    async def sent(self, cmd_id: str) -> None:
        """The broker has the reply (QoS 1 PUBACK)."""
        await self._store.mark_replied(cmd_id)
        self._unsent.pop(cmd_id, None)
        self.stats.inc("command_replies_sent")

    async def wait_unsent(self) -> None:
        """Return when there may be replies to send."""
        if not self._unsent:
            self._reply_ready.clear()
            await self._reply_ready.wait()

    # -- handling --------------------------------------------------------------------------

    async def _safely(self, payload: bytes) -> None:
        try:
            await self.handle(payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not take the uplink down; the command stays on record
            self.stats.inc("command_errors")
            self._log.exception("命令处理出错 / command handling failed",
                                cmd_id=cmd_id_of(payload))

    async def handle(self, payload: bytes) -> CommandReply | None:
        """Handle one delivery; returns the reply queued for it (None: nothing to reply)."""
        self.stats.inc("commands_received")
        try:
            cmd = decode_command(payload)
        except ContractError as exc:
            return await self._malformed(payload, exc)
        if cmd.cmd_id in self._inflight:
            self.stats.inc("commands_duplicate")
            self._log.info("命令正在执行，重复投递已忽略 / duplicate of a running command ignored",
                           cmd_id=cmd.cmd_id)
            return None
        self._inflight.add(cmd.cmd_id)
        try:
            return await self._handle(cmd)
        finally:
            self._inflight.discard(cmd.cmd_id)

    async def _handle(self, cmd: Command) -> CommandReply | None:
        clog = self._log.bind(cmd_id=cmd.cmd_id, kind=str(cmd.kind), issued_by=cmd.issued_by)
        row = await self._store.get(cmd.cmd_id)
        if row is not None:
            self.stats.inc("commands_duplicate")
            if row.state != DONE or row.reply is None:
                return None  # running elsewhere in this process cannot be: _inflight covers it
            clog.info("命令已执行过，重发原回复 / command seen before: its reply is sent again",
                      result=str(row.reply.result))
            await self._store.resend(cmd.cmd_id)
            return self._queue(row.reply)
        now = self._clock.now()
        if cmd.expired(now):
            self.stats.inc("commands_expired")
            clog.warning("命令已过期，未执行 / expired command not run",
                         not_after=cmd.not_after.isoformat())
            return await self._settle(cmd, CommandResult.EXPIRED, text(
                "命令到达时已过期，未执行", "the command arrived after its not_after: not run"))
        handler = self._handlers.get(cmd.kind)
        if handler is None:
            self.stats.inc("commands_refused")
            return await self._settle(cmd, CommandResult.REFUSED, text(
                f"本网关没有可执行 {cmd.kind} 的设备", f"this edge has nothing to run {cmd.kind}"))
        if not await self._store.begin(cmd, now):  # durable before any action
            self.stats.inc("commands_duplicate")
            return None
        result, detail = await self._run(handler, cmd)
        self.stats.inc(f"commands_{result}")
        (clog.info if result == CommandResult.OK else clog.warning)(
            "远程命令已处理 / command handled", result=str(result), detail=detail)
        reply = self._reply(cmd.cmd_id, result, detail)
        await self._store.finish(reply)
        return self._queue(reply)

    async def _run(self, handler: Handler, cmd: Command) -> tuple[CommandResult, str]:
        try:
            async with asyncio.timeout(self.timeout):
                return CommandResult.OK, await handler(cmd)
        except CommandRefused as exc:
            return CommandResult.REFUSED, exc.detail
        except CommandFailed as exc:
            return CommandResult.FAILED, exc.detail
        except TimeoutError:
            return CommandResult.FAILED, text(
                f"设备 {self.timeout:g} 秒内无应答，可能已执行也可能未执行，请核实",
                f"no answer within {self.timeout:g} s: it may or may not have acted, check")
        except Exception as exc:
            self._log.exception("命令执行出错 / command raised", cmd_id=cmd.cmd_id)
            return CommandResult.FAILED, text("执行出错", f"error: {exc!r}"[:300])

    async def _malformed(self, payload: bytes, exc: ContractError) -> CommandReply | None:
        cmd_id = cmd_id_of(payload)
        if cmd_id is None:
            self.stats.inc("commands_unusable")
            self._log.warning("远程命令无法识别，无法回复 / unusable command dropped",
                              field=exc.field, reason=exc.reason,
                              payload=payload[:120].decode("utf-8", "replace"))
            return None
        if cmd_id in self._inflight:  # a garbled copy of a command that is running
            self.stats.inc("commands_duplicate")
            return None
        self.stats.inc("commands_malformed")
        self._log.warning("远程命令格式错误，已拒绝 / malformed command refused", cmd_id=cmd_id,
                          field=exc.field, reason=exc.reason)
        reply = self._reply(cmd_id, CommandResult.REFUSED, text(
            f"命令字段 {exc.field} 不正确：{exc.reason}", f"{exc.field}: {exc.reason}"))
        return self._queue(await self._store.settle(cmd_id, "?", "?", None, reply))

    async def _settle(self, cmd: Command, result: CommandResult, detail: str) -> CommandReply:
        reply = self._reply(cmd.cmd_id, result, detail)
        stored = await self._store.settle(cmd.cmd_id, str(cmd.kind), cmd.issued_by,
                                          cmd.not_after, reply)
        return self._queue(stored)

    def _reply(self, cmd_id: str, result: CommandResult, detail: str) -> CommandReply:
        return CommandReply(cmd_id=cmd_id, result=result, at=self._clock.now(),
                            detail=detail[:1000])

    def _queue(self, reply: CommandReply) -> CommandReply:
        self._unsent[reply.cmd_id] = reply
        self._reply_ready.set()
        return reply
