"""The cockpit's live feed: ``GET /api/cockpit/ws?site=SLUG`` (no ``site``: the company view).

One ``CockpitHub`` per web process, started with the app, hears two channels
(``cloud.db.notify``): the cockpit's (ingest batches: kinds and ticker items,
``cloud.cockpit.notify``) and the alarms' (every alarm change, a guard's included: the ids are
mapped to their sites). On PostgreSQL one LISTEN connection serves both, kept alive and
re-opened with back-off; after a gap every watched site is refreshed whole. On SQLite it
listens in-process.

Per site the hub coalesces notices (``coalesce_s``, under 250 ms), recomputes the touched
panels once for all of that site's subscribers (``panels_view``) and pushes
``{"type": "panels"}``; ticker items go out at once; every ``sweep_s`` all panels are pushed
again; company subscribers get ``{"type": "company"}`` (coalesced, ``company_s``), computed
once per set of visible sites. A subscriber whose queue is full is dropped (closed with 1013:
the page reconnects) and never slows the others. Nothing here is state another process could
not rebuild from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import WSCloseCode, web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.notify import CHANNEL as ALARM_CHANNEL
from cloud.alarms.notify import LOCAL as ALARM_LOCAL
from cloud.alarms.notify import parse_ids
from cloud.alarms.tables import Alarm
from cloud.auth.audit import Actor, actor_of
from cloud.auth.guard import requires
from cloud.auth.scope import visible_slugs
from cloud.auth.tables import ApiToken
from cloud.auth.tokens import token_usable
from cloud.cockpit import notify
from cloud.cockpit.cache import VIEWS
from cloud.cockpit.panels.registry import panels, touched
from cloud.cockpit.views import company_view, panels_view, site_view
from cloud.db.models import Site
from cloud.db.notify import database_key, listen_pg
from cloud.web.errors import ApiError, not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.live_queue import FellBehind, StampedQueue, while_open
from cloud.web.params import text_param
from cloud.web.present import utc_iso
from cloud.web.respond import dumps
from contract import Clock

log = structlog.get_logger(__name__)

PATH = "/api/cockpit/ws"
QUEUE_SIZE = 256
#: WebSocket ping frames, and ``{"type": "ping"}`` messages a page can see.
WS_HEARTBEAT_S = 20.0
WS_READY_WAIT_S = 5.0
#: A dropped (too slow) subscriber: "try again later".
WS_CLOSE_TRY_AGAIN = 1013
LISTEN_APPLICATION_NAME = "courtyard-cockpit-hub"
COMPUTE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Timing:
    #: Notices of one site within this window make one recompute; with the recompute
    #: itself (tens of ms) the screen hears of a change well within 250 ms.
    coalesce_s: float = 0.1
    company_s: float = 1.0
    sweep_s: float = 30.0
    ping_s: float = 20.0
    #: How often an open feed re-checks that its token still works (revocation).
    recheck_s: float = 30.0


Dropped = FellBehind
"""The subscriber fell behind and was dropped."""


class Subscriber:
    """One open feed: a site's (``site``) or the company's (``site`` None, ``slugs`` the
    visible sites, None for all)."""

    def __init__(self, hub: CockpitHub, site: str | None, slugs: frozenset[str] | None,
                 maxsize: int) -> None:
        self.hub, self.site, self.slugs = hub, site, slugs
        self.queue = StampedQueue(maxsize, self._cut_off)

    @property
    def lost(self) -> bool:
        return self.queue.lost

    @property
    def since(self) -> int:
        return self.queue.since

    @since.setter
    def since(self, stamp: int) -> None:
        self.queue.since = stamp

    def sees(self, site: str) -> bool:
        return self.site == site if self.site is not None else (
            self.slugs is None or site in self.slugs)

    def offer(self, stamp: int, msg: dict[str, Any]) -> None:
        self.queue.offer(stamp, msg)

    def _cut_off(self) -> None:
        self.hub.remove(self)
        self.hub.counters["dropped"] += 1
        log.warning("cockpit_live.subscriber_dropped", site=self.site)

    async def next(self) -> dict[str, Any]:
        msg: dict[str, Any] = await self.queue.next()
        return msg


class CockpitHub:
    """See the module docstring."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 default_tz: str = "Asia/Shanghai", timing: Timing | None = None,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.sessions, self.clock, self.default_tz = sessions, clock, default_tz
        self.timing = timing or Timing()
        self.queue_size = queue_size
        self.subs: set[Subscriber] = set()
        self._stamp = 0
        self._dirty: dict[str, set[str]] = defaultdict(set)  # site → panel names
        self._due: dict[str, float] = {}  # site → monotonic flush time
        self._company_due: float | None = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self.running = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters: dict[str, int] = defaultdict(int)

    # --- subscribers ------------------------------------------------------------------------

    def subscribe(self, site: str | None, slugs: Iterable[str] | None) -> Subscriber:
        sub = Subscriber(self, site, None if slugs is None else frozenset(slugs),
                         self.queue_size)
        self.subs.add(sub)
        return sub

    def remove(self, sub: Subscriber) -> None:
        self.subs.discard(sub)

    def next_stamp(self) -> int:
        self._stamp += 1
        return self._stamp

    def _send(self, msg: dict[str, Any], stamp: int, site: str | None = None,
              company: bool | None = None) -> None:
        for sub in list(self.subs):
            if company is not None and (sub.site is None) != company:
                continue
            if site is not None and not sub.sees(site):
                continue
            sub.offer(stamp, msg)

    # --- notices ----------------------------------------------------------------------------

    def on_cockpit(self, payload: str) -> None:
        parsed = notify.parse(payload)
        if parsed is None:
            return
        site, kinds, ticks = parsed
        self.counters["notices"] += 1
        for item in ticks:
            self._send({"type": "tick", "site": site, "item": item}, self.next_stamp(), site)
        names = ({s.name for s in panels()} if notify.ALL_KINDS in kinds
                 else {s.name for s in touched(kinds)})
        self.mark(site, names)

    def mark(self, site: str, names: Iterable[str]) -> None:
        """Recompute ``names`` of ``site`` soon (and the company view)."""
        now = time.monotonic()
        wanted = set(names)
        if wanted and any(s.site == site for s in self.subs):
            self._dirty[site] |= wanted
            self._due.setdefault(site, now + self.timing.coalesce_s)
        if self._company_due is None and any(s.site is None and s.sees(site)
                                             for s in self.subs):
            self._company_due = now + self.timing.company_s
        self._wake.set()

    @property
    def pending(self) -> int:
        """Recomputes waiting (sites, plus one for the company view) and lookups running."""
        return len(self._due) + (self._company_due is not None) + len(self._tasks)

    def on_alarm_ids(self, ids: list[int]) -> None:
        if ids:
            self.counters["alarm_notices"] += 1
            task = asyncio.get_running_loop().create_task(self._alarm_sites(ids))
            self._tasks.add(task)  # held until done (the loop keeps only a weak reference)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(_log_failure)

    async def _alarm_sites(self, ids: list[int]) -> None:
        async with asyncio.timeout(COMPUTE_TIMEOUT_S), self.sessions() as session:
            slugs = (await session.scalars(
                select(Site.slug).join(Alarm, Alarm.site_id == Site.id)
                .where(Alarm.id.in_(ids[:1000])).distinct())).all()
        names = {s.name for s in panels() if s.on_alarm_change}
        for slug in slugs:
            self.mark(slug, names)

    def refresh_all(self) -> None:
        """Every panel of every watched site, and the company view (the sweep; a gap)."""
        names = {s.name for s in panels()}
        for site in {s.site for s in self.subs if s.site is not None}:
            self.mark(site, names)
        if any(s.site is None for s in self.subs):
            self._company_due = self._company_due or time.monotonic()
            self._wake.set()

    # --- computing --------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            now = time.monotonic()
            dues = list(self._due.values()) + (
                [self._company_due] if self._company_due is not None else [])
            if not dues:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = min(dues) - now
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                continue
            for site in [s for s, t in self._due.items() if t <= now]:
                del self._due[site]
                names = self._dirty.pop(site, set())
                await self._guarded(self._push_site(site, names), site=site)
            if self._company_due is not None and self._company_due <= now:
                self._company_due = None
                await self._guarded(self._push_company(), site=None)

    async def _guarded(self, work: Any, site: str | None) -> None:
        try:
            async with asyncio.timeout(COMPUTE_TIMEOUT_S):
                await work
        except Exception:  # one site's failure never stops the feed
            self.counters["errors"] += 1
            log.exception("cockpit_live.compute_failed", site=site)

    async def _push_site(self, site: str, names: set[str]) -> None:
        if not names or not any(s.site == site for s in self.subs):
            return
        stamp = self.next_stamp()
        async with self.sessions() as session:
            row = (await session.scalars(select(Site).where(Site.slug == site))).one_or_none()
            if row is None:
                return
            body = await panels_view(session, row, self.clock.now(), names, self.default_tz)
        self.counters["panel_pushes"] += 1
        self._send({"type": "panels", "site": site, "panels": body}, stamp, site, company=False)

    async def _push_company(self) -> None:
        groups: dict[frozenset[str] | None, list[Subscriber]] = defaultdict(list)
        for sub in self.subs:
            if sub.site is None:
                groups[sub.slugs].append(sub)
        for slugs, subs in groups.items():
            stamp = self.next_stamp()
            async with self.sessions() as session:
                body = await company_body(session, slugs, self.clock.now())
            self.counters["company_pushes"] += 1
            for sub in subs:
                sub.offer(stamp, {"type": "company", "data": body})

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.timing.sweep_s)
            self.refresh_all()

    # --- listening --------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self, within: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._ready.wait()
        return self._ready.is_set()

    async def _on_listening(self, reconnected: bool) -> None:
        self._ready.set()
        if reconnected:
            self.counters["reconnects"] += 1
            log.info("cockpit_live.reconnected")
            self.refresh_all()

    def _on_cockpit_local(self, payloads: list[str]) -> None:
        for payload in payloads:
            self.on_cockpit(payload)

    def _on_alarm_payload(self, payload: str) -> None:
        self.on_alarm_ids(parse_ids(payload))

    async def run(self) -> None:
        """Listen and push until cancelled."""
        async with self.sessions() as session:
            bind = session.get_bind().engine
        self.running = True
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._flush_loop())
                tg.create_task(self._sweep_loop())
                if bind.dialect.name == "postgresql":
                    dsn = bind.url.set(drivername="postgresql").render_as_string(
                        hide_password=False)
                    tg.create_task(listen_pg(
                        dsn, {notify.CHANNEL_NAME: self.on_cockpit,
                              ALARM_CHANNEL: self._on_alarm_payload},
                        application_name=LISTEN_APPLICATION_NAME, on_ready=self._on_listening,
                        bound=log.bind(hub="cockpit")))
                else:
                    key = database_key(bind)
                    undo = [notify.COCKPIT_CHANNEL.listen_local(key, self._on_cockpit_local),
                            ALARM_LOCAL.listen(key, self.on_alarm_ids)]
                    try:
                        self._ready.set()
                        await asyncio.Event().wait()
                    finally:
                        for remove in undo:
                            remove()
        finally:
            if self._tasks:  # never leave a lookup holding a connection
                for task in self._tasks:
                    task.cancel()
                await asyncio.wait(set(self._tasks), timeout=5)
            self.running = False
            self._ready.clear()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("cockpit_live.alarm_sites_failed", error=repr(task.exception()))


async def company_body(session: AsyncSession, slugs: frozenset[str] | set[str] | None,
                       now: Any) -> dict[str, Any]:
    query = select(Site).order_by(Site.slug)
    if slugs is not None:
        query = query.where(Site.slug.in_(sorted(slugs)))
    rows = (await session.scalars(query)).all()
    return await company_view(session, rows, now)


# --- the route --------------------------------------------------------------------------------


@dataclass
class LiveSetup:
    hub: CockpitHub | None = None
    timing: Timing = field(default_factory=Timing)
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)


COCKPIT_LIVE = web.AppKey("cockpit_live", LiveSetup)


async def _hub_lifetime(app: web.Application) -> AsyncIterator[None]:
    setup = app[COCKPIT_LIVE]
    setup.hub = CockpitHub(app[SESSIONS], app[CLOCK], app.get(DEFAULT_TZ) or "Asia/Shanghai",
                           setup.timing)
    task = asyncio.create_task(setup.hub.run(), name="cockpit-hub")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_live(app: web.Application) -> None:
    """A console restart: every wall screen reconnects (to this console when it is back)."""
    for ws in list(app[COCKPIT_LIVE].sockets):
        await ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"service restart")


async def _token_still_good(request: web.Request, actor: Actor) -> bool:
    if not actor.ref.startswith("token:"):
        return True
    async with request.app[SESSIONS]() as session:
        row = await session.get(ApiToken, int(actor.ref.split(":", 1)[1]))
        return row is not None and token_usable(row, request.app[CLOCK].now())


@requires("cockpit.read")
async def cockpit_ws(request: web.Request) -> web.StreamResponse:
    """WebSocket: a snapshot of the site (or company) view, then changes as they commit."""
    site = text_param(request, "site", 63)
    setup = request.app[COCKPIT_LIVE]
    hub = setup.hub
    if hub is None:
        raise ApiError(503, "unavailable", "驾驶舱实时推送未启动",
                       "the cockpit feed is not running")
    actor = actor_of(request)
    clock, default_tz = request.app[CLOCK], request.app.get(DEFAULT_TZ) or "Asia/Shanghai"
    async with request.app[SESSIONS]() as session:
        slugs = await visible_slugs(session, request)
        row = None
        if site is not None:
            row = (await session.scalars(select(Site).where(Site.slug == site))).one_or_none()
            if row is None or not actor.may_see(row.id):
                raise not_found("site", "小区", "site", site)
    ws = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S)
    await ws.prepare(request)
    setup.sockets.add(ws)
    bound = log.bind(site=site, actor=actor.ref)
    if not await hub.wait_ready(WS_READY_WAIT_S):
        bound.warning("cockpit_live.hub_not_ready")
    sub = hub.subscribe(site, slugs)
    try:
        stamp = hub.next_stamp()
        async with request.app[SESSIONS]() as session:
            if row is not None:
                site_row = row

                async def compute() -> dict[str, Any]:
                    return await site_view(session, site_row, clock.now(), default_tz)

                # Screens reconnecting together after a restart share one computation.
                cache = request.app.get(VIEWS)
                data = await (cache.get(("site", row.id), compute) if cache is not None
                              else compute())
                snapshot = {"type": "snapshot", "view": "site", "data": data}
            else:
                snapshot = {"type": "snapshot", "view": "company",
                            "data": await company_body(session, slugs, clock.now())}
        try:
            await ws.send_str(dumps(snapshot))
        except ConnectionResetError:  # the page went away before its snapshot
            bound.info("cockpit_live.left_before_snapshot")
            return ws
        sub.since = stamp

        async def push() -> None:
            try:
                while True:
                    await ws.send_str(dumps(await sub.next()))
            except Dropped:
                bound.warning("cockpit_live.too_slow")
                await ws.close(code=WS_CLOSE_TRY_AGAIN, message=b"too slow, reconnect")

        async def ping() -> None:
            while True:
                await asyncio.sleep(hub.timing.ping_s)
                await ws.send_str(dumps({"type": "ping", "ts": utc_iso(clock.now())}))

        async def recheck() -> None:
            while True:
                await asyncio.sleep(hub.timing.recheck_s)
                if not await _token_still_good(request, actor):
                    bound.info("cockpit_live.token_revoked")
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"token revoked")
                    return

        await while_open(ws, push, ping, recheck)
    finally:
        hub.remove(sub)
    return ws


def add_live_routes(app: web.Application, timing: Timing | None = None) -> None:
    app[COCKPIT_LIVE] = LiveSetup(timing=timing or Timing())
    app.cleanup_ctx.append(_hub_lifetime)
    app.on_shutdown.append(_close_live)
    app.router.add_get(PATH, cockpit_ws, name="cockpit_ws")
