"""The live alarm feed of one web process: committed alarm changes in, board messages out.

Alarms change in other transactions, often in another process (the ingest worker), so the
hub learns about them from the database (``cloud.alarms.notify``): on PostgreSQL it LISTENs
on a dedicated asyncpg connection, kept alive with a ping and re-opened with back-off when
it drops; on SQLite (embedded, one process) it listens to the in-process channel. Either way
it receives alarm ids, loads the rows and publishes the alarm JSON to its subscribers.

After a LISTEN connection was lost, the alarms changed since then (``updated_at``) are loaded
and published again, so a board never silently misses a change; duplicates are harmless
because every message carries the whole current alarm.

A subscriber that cannot keep up (its queue is full) is dropped rather than slowing the
others; the board reconnects and starts from a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms import notify
from cloud.alarms.present import load_alarms
from cloud.alarms.tables import Alarm
from cloud.db.notify import BACKOFF_MAX_S, BACKOFF_START_S, PG_CONNECT_TIMEOUT_S, listen_pg
from cloud.web.live_queue import FellBehind, StampedQueue
from contract import Clock, SystemClock

log = structlog.get_logger(__name__)

QUEUE_SIZE = 1000
#: After a LISTEN gap, also re-publish changes from a little before it (clock skew between
#: the writers and this process).
CATCH_UP_MARGIN_S = 5.0
LOAD_BATCH = 500
#: Names the LISTEN connection in ``pg_stat_activity``.
LISTEN_APPLICATION_NAME = "courtyard-alarm-hub"


SubscriptionLost = FellBehind
"""The subscriber fell too far behind and was dropped; start again from a snapshot."""


class Subscription:
    """Alarm messages for one site (or all), from the moment ``subscribe`` was called.

    Use as ``with hub.subscribe(site) as sub: ... async for alarm in sub``. Take a snapshot
    *after* subscribing and call ``skip_before(stamp)`` with the stamp taken before
    the snapshot query: messages loaded earlier are then no newer than the snapshot and are
    skipped, so a board never sees an alarm go back to an older state.
    """

    def __init__(self, hub: AlarmHub, site: str | None, maxsize: int) -> None:
        self.site = site
        self._hub = hub
        self._queue = StampedQueue(maxsize, self._cut_off)

    @property
    def lost(self) -> bool:
        return self._queue.lost

    def skip_before(self, stamp: int) -> None:
        self._queue.since = stamp

    def _offer(self, stamp: int, alarm: dict[str, Any]) -> None:
        self._queue.offer(stamp, alarm)

    def _cut_off(self) -> None:
        self._hub._remove(self)
        log.warning("alarm_hub.subscriber_dropped", site=self.site)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        msg: dict[str, Any] = await self._queue.next()
        return msg

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._hub._remove(self)


class AlarmHub:
    """Fan-out of alarm changes to this process's live feeds (see the module docstring)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None,
                 queue_size: int = QUEUE_SIZE) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._queue_size = queue_size
        self._subs: set[Subscription] = set()
        self._stamp = 0
        self._pending: set[int] = set()
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self.running = False
        self.counters: dict[str, int] = {"published": 0, "notifications": 0, "reconnects": 0,
                                         "load_errors": 0, "dropped_subscribers": 0}

    # --- subscribers ------------------------------------------------------------------------

    def subscribe(self, site: str | None) -> Subscription:
        """Start receiving now (not at the first iteration); see ``Subscription``."""
        sub = Subscription(self, site, self._queue_size)
        self._subs.add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            if sub.lost:
                self.counters["dropped_subscribers"] += 1

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def next_stamp(self) -> int:
        """A number that orders loads: anything loaded after this call gets a larger one."""
        self._stamp += 1
        return self._stamp

    def publish(self, alarm: dict[str, Any], stamp: int | None = None) -> None:
        """Send one alarm (``alarm_json``) to the subscribers of its site and of all sites."""
        stamp = self.next_stamp() if stamp is None else stamp
        for sub in list(self._subs):
            if sub.site is None or sub.site == alarm.get("site"):
                sub._offer(stamp, alarm)
        self.counters["published"] += 1

    # --- announcements ----------------------------------------------------------------------

    async def announce(self, session: AsyncSession, ids: Iterable[int]) -> None:
        """Announce changed alarms on commit of ``session`` (to every process's hub)."""
        await notify.announce(session, ids)

    def _on_ids(self, ids: list[int]) -> None:
        self.counters["notifications"] += 1
        self._pending.update(ids)
        self._wake.set()

    @property
    def ready(self) -> bool:
        """Listening: changes committed from now on will be published."""
        return self._ready.is_set()

    async def wait_ready(self, within: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._ready.wait()
        return self._ready.is_set()

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Listen and publish until cancelled."""
        async with self._sessions() as session:
            bind = session.get_bind().engine
        self.running = True
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._load_loop())
                if bind.dialect.name == "postgresql":
                    dsn = bind.url.set(drivername="postgresql").render_as_string(
                        hide_password=False)
                    tg.create_task(self._listen_pg(dsn))
                else:
                    tg.create_task(self._listen_local(notify.database_key(bind)))
        finally:
            self.running = False
            self._ready.clear()

    async def _listen_local(self, key: str) -> None:
        remove = notify.LOCAL.listen(key, self._on_ids)
        self._ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            remove()

    async def _listen_pg(self, dsn: str) -> None:
        lost_at: list[Any] = []

        def on_lost() -> None:
            self._ready.clear()
            lost_at[:] = [self._clock.now()]

        async def on_ready(reconnected: bool) -> None:
            self._ready.set()
            if reconnected and lost_at:
                self.counters["reconnects"] += 1
                log.info("alarm_hub.reconnected", since=lost_at[0].isoformat())
                await self._catch_up(lost_at[0])

        await listen_pg(dsn, {notify.CHANNEL: self._on_notify},
                        application_name=LISTEN_APPLICATION_NAME, on_ready=on_ready,
                        on_lost=on_lost, bound=log.bind(hub="alarms"))

    def _on_notify(self, payload: str) -> None:
        self._on_ids(notify.parse_ids(payload))

    async def _catch_up(self, lost_at: Any) -> None:
        since = lost_at - timedelta(seconds=CATCH_UP_MARGIN_S)
        try:
            async with self._sessions() as session:
                ids = (await session.scalars(
                    select(Alarm.id).where(Alarm.updated_at >= since))).all()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("alarm_hub.catch_up_failed", error=type(exc).__name__)
            return
        if ids:
            self._on_ids(list(ids))

    async def _load_loop(self) -> None:
        backoff = BACKOFF_START_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            ids, self._pending = sorted(self._pending), set()
            for start in range(0, len(ids), LOAD_BATCH):
                chunk = ids[start:start + LOAD_BATCH]
                stamp = self.next_stamp()
                try:
                    alarms = await _load(self._sessions, chunk)
                except (SQLAlchemyError, OSError) as exc:  # the database: try again
                    self.counters["load_errors"] += 1
                    log.warning("alarm_hub.load_failed", error=f"{type(exc).__name__}: {exc}",
                                retry_in_s=backoff)
                    self._pending.update(ids[start:])
                    self._wake.set()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    break
                except Exception:  # a bug: skip these ids rather than stop the feed
                    self.counters["load_errors"] += 1
                    log.exception("alarm_hub.load_error", ids=chunk[:20])
                    continue
                backoff = BACKOFF_START_S
                for alarm in alarms:
                    self.publish(alarm, stamp)


async def _load(sessions: async_sessionmaker[AsyncSession],
                ids: list[int]) -> list[dict[str, Any]]:
    async with asyncio.timeout(PG_CONNECT_TIMEOUT_S + 20), sessions() as session:
        return await load_alarms(session, ids)

