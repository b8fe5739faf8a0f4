"""Patrol at the edge, wired: receivers → presence → rounds → outbox (docs/patrol.md).

* Sources: the site-local broker's receivers (``SiteReceivers``) and the box's own adapter
  (``AdapterScanner`` per ``kind: adapter`` receiver) run under a supervisor of their own: an
  adapter that cannot scan (no BlueZ here) backs off and says why in /healthz; it never takes
  the service, or the other receivers, down. Each advert goes to ``PresenceEngine.feed``.
* Presence outputs arrive synchronously on the receive loop; they are queued (``Handoff``:
  decisions never dropped, sampled ``tag_seen`` bounded) and a drain task maps a visit's
  receiver to its checkpoint and its tag to the guard (the dataset) and hands it to the
  rounds, which journal and emit what it means themselves (``RoundTracker``); the tag events
  (seen, cloned, battery) are emitted here.
* A deadline task wakes at the rounds' next deadline (at least once a second, which also
  ends presences via ``expire``) so a missed checkpoint is raised on time, cloud or not.
* ``scan`` is the ``patrol.scan`` command: a QR visit at the phone's time.
* The dataset comes from ``PatrolSync`` (cached in ``patrol.db``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from contract import Clock, Kind, NewEvent
from contract.patrol import PatrolDocument
from drivers.ble.adapter import AdapterScanner
from drivers.ble.model import Advert
from drivers.ble.site_broker import SiteReceivers
from edge.config.model import PatrolConfig, SiteConfig
from edge.patrol.handoff import Handoff
from edge.patrol.plans import PatrolPlans
from edge.patrol.presence import (
    BatteryLow,
    Cloned,
    Output,
    PresenceEngine,
    PresenceSettings,
    Seen,
    Visit,
)
from edge.patrol.rounds import RoundTracker
from edge.patrol.scan import scan_checkpoint, scan_time
from edge.patrol.store import PatrolStore
from edge.patrol.sync import PatrolSync
from edge.patrol.tag_events import tag_battery_low, tag_cloned, tag_seen
from edge.supervisor import Supervisor

log = structlog.get_logger("edge.patrol.service")

Emit = Callable[[NewEvent], Awaitable[Any]]
MAX_SLEEP_S = 1.0
SILENT_AFTER_S = 120.0
"""A receiver not heard for this long shows ``silent`` in /healthz (tags advertise about
once a second, so a live receiver near any tag is never quiet that long)."""


class PatrolService:
    """See the module doc. ``await PatrolService.open(...)``, ``run()``, then ``aclose()``."""

    def __init__(self, cfg: SiteConfig, emit: Emit, clock: Clock, store: PatrolStore, *,
                 supervisor_backoff: tuple[float, float] = (1.0, 60.0),
                 sync_options: dict[str, Any] | None = None) -> None:
        patrol = cfg.patrol or PatrolConfig()
        self.cfg, self.patrol = cfg, patrol
        self.site = cfg.site.id
        self._emit_raw, self.clock, self.store = emit, clock, store
        self.tz = ZoneInfo(cfg.site.timezone)
        self._log = log.bind(site=self.site)
        self.rounds = RoundTracker(self.tz, clock, self._emit_one, store)
        self._indexed: PatrolPlans | None = None
        self._checkpoint_of: dict[str, str] = {}
        self.handoff: Handoff[Output] = Handoff()
        self.presence = PresenceEngine(patrol.receivers, PresenceSettings.of(patrol), clock,
                                       self._on_output, site=self.site)
        cloud = cfg.cloud
        self.sync = PatrolSync(self.site, cloud.http_url, cloud.username, cloud.password,
                               store, self.use_dataset, every_s=patrol.pull_every_s,
                               ca_file=str(cloud.ca_file) if cloud.ca_file else None,
                               **(sync_options or {}))
        initial, cap = supervisor_backoff
        self.supervisor = Supervisor(clock, initial_backoff=initial, max_backoff=cap,
                                     site=self.site)
        self.site_receivers: SiteReceivers | None = None
        if patrol.remote and patrol.broker:
            self.site_receivers = SiteReceivers(patrol.broker, patrol.remote, self._heard, clock,
                                                self.site, username=patrol.username,
                                                password=patrol.password)
            self.supervisor.add("patrol:site-broker", self.site_receivers.run)
        self.adapters = {r.id: AdapterScanner(r.id, self._heard, clock, adapter=r.source,
                                              site=self.site) for r in patrol.adapters}
        for rid, scanner in self.adapters.items():
            self.supervisor.add(f"patrol:adapter:{rid}", scanner.run)
        self._last_heard: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._counts = dict.fromkeys(("visits", "visits_no_checkpoint", "scans", "events",
                                      "emit_errors"), 0)
        self._missed: dict[str, dict[str, str]] = {}  # local date → {round/checkpoint: text}
        self._cloned: dict[str, str] = {}  # tag → last raised (UTC ISO)

    @classmethod
    async def open(cls, cfg: SiteConfig, emit: Emit, clock: Clock, **kw: Any) -> PatrolService:
        store = await PatrolStore.open(Path(cfg.edge.data_dir))
        service = cls(cfg, emit, clock, store, **kw)
        await service.rounds.restore()
        service._index()
        return service

    async def aclose(self) -> None:
        await self.store.aclose()

    # -- the hot path (sync, on the receive loop) -------------------------------------------

    def _heard(self, advert: Advert) -> None:
        self._last_heard[advert.receiver] = advert.at
        self.presence.feed(advert)

    def _on_output(self, out: Output) -> None:
        self.handoff.put(out, sampled=isinstance(out, Seen))

    # -- the dataset ------------------------------------------------------------------------

    async def use_dataset(self, doc: PatrolDocument) -> None:
        """A version from the sync (cached or pulled): the rounds replan, visits map anew."""
        await self.rounds.load(dict(doc))  # False when not newer: the plans stay
        self._index()
        self._wake.set()

    @property
    def plans(self) -> PatrolPlans:
        return self.rounds.plans

    def _index(self) -> None:
        """Receiver → checkpoint for the plans in force (the first checkpoint naming it)."""
        plans = self.rounds.plans
        if plans is self._indexed:
            return
        index: dict[str, str] = {}
        for cp in plans.checkpoints.values():
            if cp.receiver:
                index.setdefault(cp.receiver, cp.code)
        self._checkpoint_of, self._indexed = index, plans

    # -- tasks ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sources, dataset sync, the drain and the deadlines; until cancelled."""
        self._log.info("巡更服务启动 / patrol starting",
                       receivers=[r.id for r in self.patrol.receivers])
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.supervisor.run(), name="patrol-sources")
            tg.create_task(self.sync.run(), name="patrol-sync")
            tg.create_task(self._drain(), name="patrol-drain")
            tg.create_task(self._deadlines(), name="patrol-deadlines")

    async def _drain(self) -> None:
        while True:
            out = await self.handoff.get()
            try:
                await self._handle(out)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad output must not stop the patrol
                self._counts["emit_errors"] += 1
                self._log.error("巡更事件处理失败 / a patrol output could not be handled",
                                error=repr(exc), output=repr(out)[:200])

    async def _handle(self, out: Output) -> None:
        guard = self.plans.guard_of(out.tag)
        if isinstance(out, Visit):
            await self._visit(out, guard)
        elif isinstance(out, Seen):
            await self._emit_one(tag_seen(out, guard))
        elif isinstance(out, Cloned):
            self._cloned[out.tag] = out.at.isoformat()
            await self._emit_one(tag_cloned(out, guard))
        elif isinstance(out, BatteryLow):
            await self._emit_one(tag_battery_low(out, guard))

    async def _visit(self, v: Visit, guard: str | None) -> None:
        self._counts["visits"] += 1
        checkpoint = self._checkpoint_of.get(v.receiver)
        if checkpoint is None:  # a receiver no checkpoint names (yet): presence only
            self._counts["visits_no_checkpoint"] += 1
            self._log.info("巡更标签到达未关联巡更点的接收器 / a tag dwelt at a receiver no "
                           "checkpoint names", receiver=v.receiver, tag=v.tag)
            return
        # The tracker journals and emits the events itself (edge.patrol.rounds).
        await self.rounds.visit(checkpoint, v.at, tag=v.tag, guard=guard, source="ble",
                                receiver=v.receiver, rssi=v.rssi, dwell_s=v.dwell_s)

    async def _deadlines(self) -> None:
        while True:
            await self.tick()
            wait = MAX_SLEEP_S
            deadline = self.rounds.next_deadline()
            if deadline is not None:
                wait = min(wait, max(0.0, (deadline - self.clock.now()).total_seconds()))
            self._wake.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def tick(self) -> None:
        """One pass: every deadline passed by now, and presences that ended."""
        await self.rounds.tick(self.clock.now())  # emits through _emit_one
        self.presence.expire()

    async def _emit_one(self, ev: NewEvent) -> None:
        """Every patrol event goes to the outbox here (the tracker's too): what /healthz
        lists as open at the edge is what was actually emitted."""
        await self._emit_raw(ev)
        self._counts["events"] += 1
        if ev.kind == Kind.PATROL_CHECKPOINT_MISSED:
            day = ev.ts.astimezone(self.tz).date().isoformat()
            key = f"{ev.data.get('round')}/{ev.data.get('checkpoint')}"
            self._missed.setdefault(day, {})[key] = str(ev.data.get("deadline", ""))
            for old in [d for d in self._missed if d < day]:
                del self._missed[old]

    # -- the command ------------------------------------------------------------------------

    async def scan(self, checkpoint: str, guard: str, at_text: str) -> str:
        """``patrol.scan``: count a QR visit; the reply detail, or ScanRefused."""
        at = scan_time(at_text, self.clock.now())
        code = scan_checkpoint(checkpoint, self.plans.checkpoints)
        events = await self.rounds.visit(code, at, tag=None, guard=guard, source="qr")
        self._counts["scans"] += 1
        name = self.plans.checkpoints[code].name or code
        visit = next((e for e in events if e.kind == Kind.PATROL_CHECKPOINT), None)
        status = str(visit.data.get("status", "")) if visit is not None else "repeat"
        return (f"已记录 {name} 的扫码（{status}） / scan at {name} recorded ({status})"
                if visit is not None else
                f"{name} 本轮已签到，未重复记录 / {name} was already visited in this round")

    # -- /healthz ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now_m = self.clock.monotonic()
        receivers = {}
        for r in self.patrol.receivers:
            at = self._last_heard.get(r.id)
            ago = None if at is None else round(now_m - at, 1)
            receivers[r.id] = {"kind": r.kind, "checkpoint": self._receiver_checkpoint(r.id),
                               "heard_s_ago": ago,
                               "state": "heard" if ago is not None and ago < SILENT_AFTER_S
                               else "silent"}
        today = self.clock.now().astimezone(self.tz).date().isoformat()
        sources = {name: {"running": st.running, "restarts": st.restarts,
                          "last_error": st.last_error}
                   for name, st in self.supervisor.states.items()}
        if self.site_receivers is not None:
            sources["patrol:site-broker"].update(self.site_receivers.status())
        for rid, scanner in self.adapters.items():
            sources[f"patrol:adapter:{rid}"].update(scanner.status())
        recent = self.clock.now() - timedelta(days=1)
        return {"dataset": self.sync.status(), "receivers": receivers, "sources": sources,
                "rounds": self.rounds.status(),
                "alarms": {"missed_checkpoints_today": sorted(self._missed.get(today, {})),
                           "cloned_tags": sorted(t for t, at in self._cloned.items()
                                                 if datetime.fromisoformat(at) >= recent)},
                "presence": self.presence.stats(), "handoff": self.handoff.status(),
                "counters": dict(self._counts)}

    def _receiver_checkpoint(self, receiver: str) -> str | None:
        return self._checkpoint_of.get(receiver)
