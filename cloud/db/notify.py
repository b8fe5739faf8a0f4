"""Change notices delivered only once a transaction commits, to every process that listens.

Whoever changes something calls ``Channel.send(session, payload)`` inside its transaction:

- PostgreSQL: ``pg_notify(channel, payload)``. PostgreSQL delivers it to every listening
  connection when the transaction commits, and never if it rolls back, so a web process on
  another machine hears about exactly the committed changes. A payload must stay under the
  8000-byte NOTIFY limit (``MAX_PAYLOAD``).
- SQLite (the embedded single-process mode): the payloads are held on the session and posted
  to this process's listeners after the commit (``LocalChannel``), dropped on a rollback.

``listen_pg`` is the listening side on PostgreSQL: a dedicated asyncpg connection on some
channels, kept alive with a ping and re-opened with back-off when it drops. The alarm feed
(``cloud.alarms``) and the cockpit (``cloud.cockpit``) each own a ``Channel``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
MAX_PAYLOAD = 7999
PG_CONNECT_TIMEOUT_S = 10.0
PG_PING_INTERVAL_S = 15.0
PG_PING_TIMEOUT_S = 5.0
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0

Listener = Callable[[list[str]], None]
_PENDING = "courtyard_notify_pending"


def database_key(bind: Any) -> str:
    """What identifies a database across engines in this process (the URL, no password)."""
    url = getattr(bind, "url", None)
    if url is None:
        url = bind.engine.url
    return str(url.render_as_string(hide_password=True))


class LocalChannel:
    """In-process fan-out of committed payloads, per database (SQLite embedded mode)."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[asyncio.AbstractEventLoop, Listener]]] = {}

    def listen(self, key: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(payloads)`` on the current loop after each commit; returns the
        undo."""
        entry = (asyncio.get_running_loop(), listener)
        self._listeners.setdefault(key, []).append(entry)

        def remove() -> None:
            entries = self._listeners.get(key, [])
            if entry in entries:
                entries.remove(entry)

        return remove

    def post(self, key: str, payloads: list[str]) -> None:
        for loop, listener in list(self._listeners.get(key, [])):
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                loop.call_soon(listener, payloads)
            else:
                loop.call_soon_threadsafe(listener, payloads)


def _after_commit(session: Session) -> None:
    pending: dict[Channel, list[str]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    key = database_key(session.get_bind())
    for channel, payloads in pending.items():
        channel.local.post(key, payloads)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


class Channel:
    """One notification channel: ``send`` in a transaction, hear it after the commit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.local = LocalChannel()

    def __repr__(self) -> str:
        return f"Channel({self.name!r})"

    async def send(self, session: AsyncSession, payload: str) -> None:
        """Deliver ``payload`` to every listener when ``session``'s transaction commits."""
        if len(payload.encode("utf-8")) > MAX_PAYLOAD:
            raise ValueError(f"notify payload on {self.name} is over {MAX_PAYLOAD} bytes")
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                                  {"channel": self.name, "payload": payload})
            return
        sync = session.sync_session
        pending: dict[Channel, list[str]] | None = sync.info.get(_PENDING)
        if pending is None:
            sync.info[_PENDING] = pending = {}
            if not event.contains(sync, "after_commit", _after_commit):
                event.listen(sync, "after_commit", _after_commit)
                event.listen(sync, "after_rollback", _after_rollback)
        pending.setdefault(self, []).append(payload)

    def listen_local(self, key: str, listener: Listener) -> Callable[[], None]:
        """This process's committed payloads on database ``key`` (SQLite); returns the undo."""
        return self.local.listen(key, listener)


PgCallback = Callable[[str], None]


async def listen_pg(dsn: str, channels: Mapping[str, PgCallback], *, application_name: str,
                    on_ready: Callable[[bool], Awaitable[None]],
                    on_lost: Callable[[], None] | None = None, bound: Any = log) -> None:
    """LISTEN on ``channels`` (name → callback of one payload) until cancelled, re-opening the
    connection with back-off when it drops or stops answering its ping.

    ``on_ready(reconnected)`` runs each time the listening starts (``reconnected`` after a
    loss: notices committed in the gap were missed, the caller catches up); ``on_ready`` is
    not awaited on loss — the caller learns it from the next ``reconnected=True``; ``on_lost()``
    runs (plain, at once) when a connection that was listening ends, for a caller that must
    know when the gap began.
    """
    import asyncpg  # the PostgreSQL driver SQLAlchemy already uses

    backoff = BACKOFF_START_S
    lost = False
    while True:
        conn: Any = None
        listening = False
        try:
            async with asyncio.timeout(PG_CONNECT_TIMEOUT_S):
                conn = await asyncpg.connect(
                    dsn, server_settings={"application_name": application_name})
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _c, ev=closed: ev.set())
            for name, callback in channels.items():
                await conn.add_listener(
                    name, lambda _c, _p, _ch, payload, cb=callback: cb(payload))
            backoff = BACKOFF_START_S
            listening = True
            await on_ready(lost)
            lost = True
            await keep_alive(conn, closed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            bound.warning("notify.listen_failed", error=f"{type(exc).__name__}: {exc}",
                          retry_in_s=backoff)
        except TimeoutError:
            bound.warning("notify.listen_timeout", retry_in_s=backoff)
        except Exception:  # a supervisor loop: log anything else and keep listening
            bound.exception("notify.listen_error", retry_in_s=backoff)
        finally:
            if listening and on_lost is not None:
                on_lost()
            if conn is not None:
                conn.terminate()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX_S)


async def keep_alive(conn: Any, closed: asyncio.Event) -> None:
    """Return when the connection closes or stops answering (a half-open TCP link)."""
    while not closed.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PG_PING_INTERVAL_S):
                await closed.wait()
        if closed.is_set():
            return
        async with asyncio.timeout(PG_PING_TIMEOUT_S):
            await conn.execute("SELECT 1")
