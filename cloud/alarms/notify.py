"""Tell live feeds that alarms changed, but only once the change is committed.

Whoever changes an alarm (the ingest worker, a guard's request, the escalation loop) calls
``announce`` inside its transaction with the alarm ids:

- PostgreSQL: ``pg_notify`` on ``CHANNEL``. PostgreSQL delivers it to every listening
  connection when the transaction commits, and never if it rolls back, so a web worker in
  another process (or on another machine) hears about exactly the committed changes.
- SQLite (the embedded single-process mode): the ids are held on the session and posted to
  this process's listeners after the commit (``LocalChannel``).

The payload is ids only; a listener loads the rows, so a message is never staler than the
database and never larger than PostgreSQL's 8000-byte NOTIFY limit allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

CHANNEL = "courtyard_alarms"
#: Ids per NOTIFY payload (well under the 8000-byte limit).
IDS_PER_NOTIFY = 500
_PENDING = "courtyard_alarm_ids"

Listener = Callable[[list[int]], None]


def database_key(bind: Any) -> str:
    """What identifies a database across engines in this process (the URL, no password)."""
    url = getattr(bind, "url", None)
    if url is None:
        url = bind.engine.url
    return str(url.render_as_string(hide_password=True))


class LocalChannel:
    """In-process fan-out of committed alarm ids, per database (SQLite embedded mode)."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[asyncio.AbstractEventLoop, Listener]]] = {}

    def listen(self, key: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(ids)`` on the current loop after each commit; returns the undo."""
        entry = (asyncio.get_running_loop(), listener)
        self._listeners.setdefault(key, []).append(entry)

        def remove() -> None:
            entries = self._listeners.get(key, [])
            if entry in entries:
                entries.remove(entry)

        return remove

    def post(self, key: str, ids: list[int]) -> None:
        for loop, listener in list(self._listeners.get(key, [])):
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                loop.call_soon(listener, ids)
            else:
                loop.call_soon_threadsafe(listener, ids)


LOCAL = LocalChannel()


def _after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        LOCAL.post(database_key(session.get_bind()), sorted(ids))


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


async def announce(session: AsyncSession, ids: Iterable[int]) -> None:
    """Announce changed alarms on commit of ``session``'s current transaction."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return
    if session.get_bind().dialect.name == "postgresql":
        for start in range(0, len(wanted), IDS_PER_NOTIFY):
            chunk = ",".join(str(i) for i in wanted[start:start + IDS_PER_NOTIFY])
            await session.execute(text("SELECT pg_notify(:channel, :ids)"),
                                  {"channel": CHANNEL, "ids": chunk})
        return
    sync = session.sync_session
    pending = sync.info.get(_PENDING)
    if pending is None:
        sync.info[_PENDING] = pending = set()
        if not event.contains(sync, "after_commit", _after_commit):
            event.listen(sync, "after_commit", _after_commit)
            event.listen(sync, "after_rollback", _after_rollback)
    pending.update(wanted)


def parse_ids(payload: str) -> list[int]:
    """Alarm ids of a NOTIFY payload; anything else on the channel is ignored."""
    out = []
    for part in payload.split(","):
        part = part.strip()
        if part.isascii() and part.isdigit():
            out.append(int(part))
    return out
