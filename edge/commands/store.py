"""The edge's durable record of remote commands: ``cmd_id`` → state, result, detail, at.

Why a file of its own (SQLite, WAL, ``synchronous=FULL`` like the outbox): a command is
recorded *before* it runs, so a second delivery of the same ``cmd_id`` (QoS 1 redelivery, the
console sending again, a restart mid-run) finds the row and never runs it again. A row is
``running`` from before the action until its result is stored (``done``); one still
``running`` when the edge starts was interrupted, and is answered ``failed`` — never re-run.
``replied`` turns 1 only once the broker has taken the reply (QoS 1), so replies written while
the broker was down go out after the next connect. Rows are pruned a day after their
``not_after``: by then a redelivery is refused as expired anyway.

The connection lives on one worker thread (``AsyncCommandStore``): no disk I/O on the loop.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from contract.commands import Command, CommandReply, CommandResult
from contract.envelope import format_ts, parse_ts
from edge.sqlite_thread import on_thread, open_durable, open_on_thread

RUNNING = "running"
DONE = "done"
KEEP_AFTER_NOT_AFTER = timedelta(days=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    cmd_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state       TEXT NOT NULL,
    result      TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    at          TEXT,
    replied     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS commands_unreplied ON commands (replied, state);
"""


@dataclass(frozen=True, slots=True)
class CommandRow:
    cmd_id: str
    kind: str
    issued_by: str
    state: str
    reply: CommandReply | None  # None while running


class CommandStore:
    """One edge's command file. Not thread-safe: use it from one thread (the async face)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = open_durable(self.path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, cmd_id: str) -> CommandRow | None:
        row = self._db.execute(
            "SELECT cmd_id, kind, issued_by, state, result, detail, at FROM commands "
            "WHERE cmd_id = ?", (cmd_id,)).fetchone()
        return None if row is None else _row(row)

    def begin(self, cmd: Command, received_at: datetime) -> bool:
        """Record ``cmd`` as running; False when its ``cmd_id`` is already recorded."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO commands (cmd_id, kind, issued_by, not_after, received_at, "
            "state) VALUES (?, ?, ?, ?, ?, ?)",
            (cmd.cmd_id, str(cmd.kind), cmd.issued_by, format_ts(cmd.not_after),
             format_ts(received_at), RUNNING))
        return cur.rowcount == 1

    def settle(self, cmd_id: str, kind: str, issued_by: str, not_after: datetime | None,
               reply: CommandReply) -> CommandReply:
        """Store the final reply of a command that never ran (refused, expired): returns the
        reply on record, which is an earlier one if the ``cmd_id`` was already recorded (and
        is then sent again)."""
        stamp = format_ts(reply.at)
        self._db.execute(
            "INSERT OR IGNORE INTO commands (cmd_id, kind, issued_by, not_after, received_at, "
            "state, result, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (reply.cmd_id, kind, issued_by, format_ts(not_after or reply.at), stamp, DONE,
             str(reply.result), reply.detail, stamp))
        self.resend(reply.cmd_id)
        row = self.get(reply.cmd_id)
        return row.reply if row is not None and row.reply is not None else reply

    def finish(self, reply: CommandReply) -> None:
        """A running command's result: stored, reply not yet sent."""
        self._db.execute(
            "UPDATE commands SET state = ?, result = ?, detail = ?, at = ?, replied = 0 "
            "WHERE cmd_id = ?", (DONE, str(reply.result), reply.detail, format_ts(reply.at),
                                 reply.cmd_id))

    def interrupted(self) -> list[CommandRow]:
        """Commands recorded as running: the edge stopped before their result was stored."""
        rows = self._db.execute(
            "SELECT cmd_id, kind, issued_by, state, result, detail, at FROM commands "
            "WHERE state = ?", (RUNNING,)).fetchall()
        return [_row(r) for r in rows]

    def unreplied(self) -> list[CommandReply]:
        rows = self._db.execute(
            "SELECT cmd_id, kind, issued_by, state, result, detail, at FROM commands "
            "WHERE replied = 0 AND state = ? ORDER BY at", (DONE,)).fetchall()
        return [r.reply for r in map(_row, rows) if r.reply is not None]

    def mark_replied(self, cmd_id: str) -> None:
        self._db.execute("UPDATE commands SET replied = 1 WHERE cmd_id = ?", (cmd_id,))

    def resend(self, cmd_id: str) -> None:
        """A second delivery of a finished command: its stored reply goes out again."""
        self._db.execute("UPDATE commands SET replied = 0 WHERE cmd_id = ? AND state = ?",
                         (cmd_id, DONE))

    def prune(self, now: datetime) -> int:
        """Forget replied commands whose ``not_after`` passed more than a day ago."""
        cur = self._db.execute(
            "DELETE FROM commands WHERE replied = 1 AND not_after < ?",
            (format_ts(now - KEEP_AFTER_NOT_AFTER),))
        return cur.rowcount


def _row(r: tuple[Any, ...]) -> CommandRow:
    cmd_id, kind, issued_by, state, result, detail, at = r
    reply = (None if state != DONE or result is None else
             CommandReply(cmd_id=cmd_id, result=CommandResult(result),
                          at=parse_ts(at, "at"), detail=detail))
    return CommandRow(cmd_id=cmd_id, kind=kind, issued_by=issued_by, state=state, reply=reply)


class AsyncCommandStore:
    """``CommandStore`` on its own thread; every call returns once the write is durable."""

    def __init__(self, store: CommandStore, pool: ThreadPoolExecutor) -> None:
        self._store = store
        self._pool = pool

    @classmethod
    async def open(cls, path: Path | str) -> AsyncCommandStore:
        store, pool = await open_on_thread(lambda: CommandStore(path), "commands")
        return cls(store, pool)

    async def call(self, fn: Any, *args: Any) -> Any:
        return await on_thread(self._pool, fn, *args)

    async def get(self, cmd_id: str) -> CommandRow | None:
        row: CommandRow | None = await self.call(self._store.get, cmd_id)
        return row

    async def begin(self, cmd: Command, received_at: datetime) -> bool:
        return bool(await self.call(self._store.begin, cmd, received_at))

    async def settle(self, cmd_id: str, kind: str, issued_by: str, not_after: datetime | None,
                     reply: CommandReply) -> CommandReply:
        stored: CommandReply = await self.call(self._store.settle, cmd_id, kind, issued_by,
                                               not_after, reply)
        return stored

    async def finish(self, reply: CommandReply) -> None:
        await self.call(self._store.finish, reply)

    async def interrupted(self) -> list[CommandRow]:
        rows: list[CommandRow] = await self.call(self._store.interrupted)
        return rows

    async def unreplied(self) -> list[CommandReply]:
        replies: list[CommandReply] = await self.call(self._store.unreplied)
        return replies

    async def mark_replied(self, cmd_id: str) -> None:
        await self.call(self._store.mark_replied, cmd_id)

    async def resend(self, cmd_id: str) -> None:
        await self.call(self._store.resend, cmd_id)

    async def prune(self, now: datetime) -> int:
        return int(await self.call(self._store.prune, now))

    async def aclose(self) -> None:
        try:
            await self.call(self._store.close)
        finally:
            self._pool.shutdown(wait=True)
