"""Rounds at the edge: the plan dataset → scheduled rounds, each visit judged on time, late or
out of order, and every deadline raised by the edge's own clock, with or without the cloud.

``RoundTracker`` emits what it decides itself, through the ``emit`` it was given (the
outbox's), after writing the decision and its events to ``patrol.db`` (see ``store`` for the
at-least-once journal): ``visit``, ``tick`` and ``load`` return the events for the caller's
information only — **do not emit them again**. Events carry deterministic ids (uuid5 of
round, checkpoint and kind), so a re-emit after a crash is the same event to the console.

``device`` of a patrol event: the receiver id for a BLE visit, ``"patrol"`` otherwise (QR
scans, round and deadline events are the edge's own decisions, not a device's).

Scheduling: each plan's rounds become trackable at ``S - start_window_s`` (planned up to a
per-plan watermark kept in the store, so a restart plans what it missed while down, up to a
day back, and fires those deadlines on its first tick). A new dataset version replans from
now on: rounds not yet started are planned again from it, rounds in progress keep the plan
they started with. Rounds ended more than a day ago are forgotten.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog

from contract import Clock, Kind, NewEvent
from contract.envelope import format_ts
from edge.patrol.plans import PatrolPlans, next_start, read_plans, scheduled_starts
from edge.patrol.round_states import (
    FINAL,
    OPEN,
    POINT_STATE_ZH,
    VISITED,
    Round,
    advance,
    point_state,
)
from edge.patrol.store import PatrolStore, PatrolStoreError

log = structlog.get_logger("edge.patrol.rounds")

Emit = Callable[[NewEvent], Awaitable[None]]
DEVICE = "patrol"
KEEP = timedelta(days=1)
"""Rounds ended longer ago than this are forgotten; the catch-up after a restart reaches back
this far."""
RETRY = timedelta(seconds=1)
"""After the outbox refused an event: when ``next_deadline`` says to try again (no hot loop)."""
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "courtyard:patrol")
_STATUS_EN = {"on_time": "on time", "late": "late", "out_of_order": "out of order",
              "unplanned": "outside any round"}
_STATUS_ZH: dict[str, str] = {**dict(POINT_STATE_ZH.items()), "out_of_order": "顺序错误",
                              "unplanned": "计划外"}


def event_id(*parts: str) -> str:
    """The same decision always gets the same id (so a re-emit is a duplicate, not news)."""
    return str(uuid.uuid5(_IDS, "|".join(parts)))


def _iso(at: datetime) -> str:
    return format_ts(at)


class RoundTracker:
    """Tracks every round of the current dataset; one instance per edge, one caller at a time
    (an internal lock orders ``visit``, ``tick`` and ``load``)."""

    def __init__(self, tz: ZoneInfo, clock: Clock, emit: Emit,
                 store: PatrolStore | None = None) -> None:
        self.tz = tz
        self.clock = clock
        self._emit = emit
        self._store = store
        self.plans = PatrolPlans()
        self._document: dict[str, Any] | None = None
        self._rounds: dict[str, Round] = {}
        self._marks: dict[str, datetime] = {}
        self._next: dict[str, datetime | None] = {}
        self._unsent: list[NewEvent] = []
        self._retry_at: datetime | None = None
        self._lock = asyncio.Lock()
        self._log = log.bind(device=DEVICE)
        self.counters = {"visits": 0, "unplanned": 0, "repeats": 0, "emitted": 0,
                         "emit_failures": 0, "store_failures": 0}

    # -- start, dataset ------------------------------------------------------------------------

    async def restore(self) -> None:
        """Take back what ``patrol.db`` holds: the dataset, the rounds, the watermarks and the
        events not yet handed to the outbox (emitted on the first ``tick``)."""
        if self._store is None:
            return
        saved = await self._store.load()
        async with self._lock:
            if saved.document is not None:
                self._take_document(saved.document)
            self._rounds = {r["id"]: Round.from_json(r) for r in saved.rounds}
            self._marks = {p: datetime.fromisoformat(t) for p, t in saved.watermarks.items()}
            self._next.clear()
            self._unsent = list(saved.unsent)
            self._retry_at = self.clock.now() if self._unsent else None
        self._log.info("patrol.rounds_restored", version=self.plans.version,
                       rounds=len(self._rounds), open=len(self.open_rounds()),
                       unsent=len(self._unsent))

    async def load(self, document: dict[str, Any]) -> bool:
        """Take a newer dataset version: due deadlines fire first, then rounds not yet started
        are planned again from it (from now on); rounds in progress keep their plan. False
        (nothing changes) when it is not newer or not a document at all."""
        try:
            fresh = read_plans(document)
        except ValueError as exc:
            self._log.error("patrol.dataset_refused", error=str(exc))
            return False
        if self._document is not None and fresh.version <= self.plans.version:
            return False
        now = self.clock.now()
        await self.tick(now)
        async with self._lock:
            dropped = [r.id for r in self._rounds.values() if r.state == "scheduled"]
            for rid in dropped:
                del self._rounds[rid]
            self._take_document(document, fresh)
            self._marks = {code: now - timedelta(seconds=p.start_window_s)
                           for code, p in fresh.plans.items()}
            self._next.clear()
            planned = self._plan_rounds(now)
            await self._save(planned, [], forget=dropped, marks=True, document=document)
        self._log.info("patrol.dataset_loaded", version=fresh.version, plans=len(fresh.plans),
                       checkpoints=len(fresh.checkpoints), tags=len(fresh.tags),
                       skipped=len(fresh.skipped), open=len(self.open_rounds()))
        return True

    def _take_document(self, document: dict[str, Any], plans: PatrolPlans | None = None) -> None:
        self.plans = plans if plans is not None else read_plans(document)
        self._document = document

    # -- visits --------------------------------------------------------------------------------

    async def visit(self, checkpoint: str, at: datetime, *, tag: str | None, guard: str | None,
                    source: Literal["ble", "qr"], receiver: str | None = None,
                    rssi: int | None = None, dwell_s: float | None = None) -> list[NewEvent]:
        """Judge one visit (``guard`` None: the tag is issued to nobody — recorded
        ``unplanned``, never starts or counts for a round). Returns what was emitted:
        ``patrol.round_started`` (when it started one), ``patrol.checkpoint``,
        ``patrol.round_completed`` (when it was the round's last) — or nothing for a repeat
        visit of a checkpoint already visited in a round still running."""
        at = at.astimezone(UTC)
        visit: dict[str, Any] = {"checkpoint": checkpoint, "source": source, "tag": tag,
                                 "receiver": receiver, "rssi": rssi}
        if guard is not None:
            visit["guard"] = guard
        if dwell_s is not None:
            visit["dwell_s"] = round(dwell_s, 1)
        device = receiver if source == "ble" and receiver else DEVICE
        async with self._lock:
            planned = self._plan_rounds(self.clock.now())
            events: list[NewEvent] = []
            target = self._round_for(checkpoint, at, guard) if guard is not None else None
            if target is None:
                if guard is not None and self._repeat(checkpoint, at):
                    self.counters["repeats"] += 1
                    await self._save(planned, [], marks=bool(planned))
                    return []
                self.counters["unplanned"] += 1
                events.append(self._unplanned(visit, at, device, guard))
            else:
                self.counters["visits"] += 1
                events.extend(self._count_visit(target, checkpoint, at, guard, tag, visit,
                                                device))
                if all(r is not target for r in planned):
                    planned.append(target)
            return await self._save(planned, events, marks=True)

    def _round_for(self, checkpoint: str, at: datetime, guard: str | None) -> Round | None:
        """The earliest started round still waiting for ``checkpoint`` (the guard's own
        first), else the earliest scheduled round this visit may start."""
        running, startable = [], []
        for r in self._rounds.values():
            p = r.point(checkpoint)
            if p is None or r.state not in OPEN:
                continue
            if r.state == "started" and p.state == "pending" and r.opens_at <= at <= p.deadline:
                running.append(r)
            elif (r.state == "scheduled" and r.opens_at <= at <= r.start_deadline
                  and (not r.ordered or r.points[0] is p)):
                startable.append(r)
        if running:
            return min(running, key=lambda r: (r.guard != guard, r.scheduled, r.id))
        return min(startable, key=lambda r: (r.scheduled, r.id)) if startable else None

    def _repeat(self, checkpoint: str, at: datetime) -> bool:
        """Visited already in a round whose time still covers ``at``: the same presence again."""
        for r in self._rounds.values():
            p = r.point(checkpoint)
            if p is not None and p.state in VISITED and r.started_at is not None \
                    and r.started_at <= at <= r.last_deadline:
                return True
        return False

    def _count_visit(self, r: Round, checkpoint: str, at: datetime, guard: str | None,
                     tag: str | None, visit: dict[str, Any], device: str) -> list[NewEvent]:
        out: list[NewEvent] = []
        if r.state == "scheduled":
            r.state = advance(r.state, "start")
            r.guard, r.tag, r.started_at = guard, tag, at
            out.append(self._round_event(r, Kind.PATROL_ROUND_STARTED, at, {
                "guard": guard, "tag": tag,
                "message": f"{guard} 开始巡更：{r.plan_name}（{self._hm(r.scheduled)}） / "
                           f"{guard} started round {r.plan_name} ({self._hm(r.scheduled)})"}))
        p = r.point(checkpoint)
        assert p is not None
        state = point_state(at.timestamp(), p.due.timestamp(), p.tolerance_s, r.late_s)
        assert state in VISITED
        index = r.points.index(p)
        p.state, p.visited_at, p.guard = state, at, guard
        p.out_of_order = r.ordered and any(q.state == "pending" for q in r.points[:index])
        status = "out_of_order" if p.out_of_order else state
        out.append(self._new(device, Kind.PATROL_CHECKPOINT, at, r.id, checkpoint, {
            **visit, **self._place(checkpoint), "plan": r.plan, "round": r.id, "status": status,
            "due": _iso(p.due),
            "message": f"{guard} 巡更到 {p.name}（{_STATUS_ZH[status]}） / {guard} checked "
                       f"in at {p.name} ({_STATUS_EN[status]})"}))
        out.extend(self._maybe_end(r, at))
        return out

    def _place(self, checkpoint: str) -> dict[str, str]:
        """Where the checkpoint is (building, floor, area, as set in the console): the guard
        board shows it as the alarm's place."""
        cp = self.plans.checkpoints.get(checkpoint)
        if cp is None:
            return {}
        return {k: v for k, v in (("building", cp.building), ("floor", cp.floor),
                                  ("area", cp.area or cp.name)) if v}

    def _unplanned(self, visit: dict[str, Any], at: datetime, device: str,
                   guard: str | None) -> NewEvent:
        cp = self.plans.checkpoints.get(visit["checkpoint"])
        name = cp.name if cp else visit["checkpoint"]
        who = guard or f"未发放的巡更标签 {visit['tag']}"
        who_en = guard or f"unissued tag {visit['tag']}"
        return self._new(device, Kind.PATROL_CHECKPOINT, at,
                         f"unplanned:{visit['tag'] or guard}:{_iso(at)}", visit["checkpoint"], {
            **visit, "plan": None, "round": None, "status": "unplanned", "due": None,
            "message": f"{who} 到达 {name}（计划外） / {who_en} at {name} (outside any round)"})

    # -- deadlines -----------------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> list[NewEvent]:
        """Everything due by ``now``: events not yet handed to the outbox (after a crash or
        an outbox error), rounds not started (``patrol.round_missed``), checkpoints not
        visited (``patrol.checkpoint_missed``), rounds thereby ended; rounds ended over a day
        ago are forgotten. Returns the events emitted."""
        now = (now or self.clock.now()).astimezone(UTC)
        async with self._lock:
            retried = await self._retry_unsent()
            changed = {r.id: r for r in self._plan_rounds(now)}
            events: list[NewEvent] = []
            for r in self.open_rounds():
                due = r.next_deadline()
                if due is None or due > now:
                    continue
                events.extend(self._expire(r, now))
                changed[r.id] = r
            forget = [r.id for r in self._rounds.values() if r.state in FINAL
                      and (r.ended_at or r.scheduled) < now - KEEP]
            for rid in forget:
                del self._rounds[rid]
            if not changed and not events and not forget:
                return retried
            events.sort(key=lambda e: e.ts)
            return retried + await self._save(changed.values(), events, forget=forget,
                                              marks=True)

    def _expire(self, r: Round, now: datetime) -> list[NewEvent]:
        if r.state == "scheduled":
            r.state = advance(r.state, "miss")
            r.ended_at = r.start_deadline
            return [self._round_event(r, Kind.PATROL_ROUND_MISSED, r.start_deadline, {
                "guard": None,
                "message": f"漏巡：{r.plan_name}（{self._hm(r.scheduled)}）未在 "
                           f"{self._hm(r.start_deadline)} 前开始 / round missed: "
                           f"{r.plan_name} ({self._hm(r.scheduled)}) not started by "
                           f"{self._hm(r.start_deadline)}"})]
        out = []
        for p in r.points:
            if p.state == "pending" and p.deadline <= now:
                p.state = "missed"
                r.emitted.append(f"{Kind.PATROL_CHECKPOINT_MISSED}:{p.checkpoint}")
                out.append(self._new(DEVICE, Kind.PATROL_CHECKPOINT_MISSED, p.deadline, r.id,
                                     p.checkpoint, {
                    "plan": r.plan, "round": r.id, "checkpoint": p.checkpoint,
                    **self._place(p.checkpoint), "deadline": _iso(p.deadline),
                    "guard": r.guard, "escalate_s": r.escalate_s,
                    "message": f"漏巡点：{p.name}（{r.plan_name}，应于 {self._hm(p.deadline)} 前，"
                               f"{r.guard}） / checkpoint missed: {p.name} ({r.plan_name}, "
                               f"due by {self._hm(p.deadline)}, {r.guard})"}))
        if out:
            out.extend(self._maybe_end(r, max(e.ts for e in out)))
        return out

    def _maybe_end(self, r: Round, at: datetime) -> list[NewEvent]:
        if any(p.state == "pending" for p in r.points):
            return []
        counts = r.counts()
        outcome = "complete" if counts["missed"] == 0 else "incomplete"
        r.state = advance(r.state, "complete" if outcome == "complete" else "end_incomplete")
        r.ended_at = at
        zh = "完成" if outcome == "complete" else f"未完成，漏巡 {counts['missed']} 点"
        en = "complete" if outcome == "complete" else f"incomplete, {counts['missed']} missed"
        return [self._round_event(r, Kind.PATROL_ROUND_COMPLETED, at, {
            "guard": r.guard, "tag": r.tag, **counts, "outcome": outcome,
            "message": f"巡更{zh}：{r.plan_name}（{self._hm(r.scheduled)}，{r.guard}） / round "
                       f"{en}: {r.plan_name} ({self._hm(r.scheduled)}, {r.guard})"})]

    def next_deadline(self) -> datetime | None:
        """When ``tick`` next has something to do: the earliest open round's deadline, the
        next round becoming trackable, or the retry of events the outbox refused."""
        times = [t for r in self.open_rounds() if (t := r.next_deadline()) is not None]
        if self._unsent and self._retry_at is not None:
            times.append(self._retry_at)
        for code, plan in self.plans.plans.items():
            nxt = self._next_start(code)
            if nxt is not None:
                times.append(nxt - timedelta(seconds=plan.start_window_s))
        return min(times, default=None)

    # -- views ---------------------------------------------------------------------------------

    def open_rounds(self) -> list[Round]:
        """Rounds scheduled (trackable) or in progress, earliest first."""
        return sorted((r for r in self._rounds.values() if r.state in OPEN),
                      key=lambda r: (r.scheduled, r.id))

    def rounds(self) -> list[Round]:
        """Every round remembered (the last day), earliest first."""
        return sorted(self._rounds.values(), key=lambda r: (r.scheduled, r.id))

    def status(self) -> dict[str, Any]:
        """For /healthz: dataset version, rounds by state, today's missed checkpoints."""
        today = self.clock.now().astimezone(self.tz).date()
        by_state: dict[str, int] = {}
        missed = 0
        for r in self._rounds.values():
            by_state[r.state] = by_state.get(r.state, 0) + 1
            if r.scheduled.astimezone(self.tz).date() == today:
                missed += sum(p.state == "missed" for p in r.points)
        return {"version": self.plans.version, "plans": len(self.plans.plans),
                "skipped": len(self.plans.skipped), "rounds": by_state,
                "missed_checkpoints_today": missed, "unsent": len(self._unsent),
                **self.counters}

    # -- planning ------------------------------------------------------------------------------

    def _plan_rounds(self, now: datetime) -> list[Round]:
        """Rounds of the current plans that became trackable by ``now`` (``S - window ≤ now``),
        from each plan's watermark (at most a day back). Emits nothing itself."""
        out: list[Round] = []
        for code, plan in self.plans.plans.items():
            horizon = now + timedelta(seconds=plan.start_window_s)
            nxt = self._next_start(code)
            if nxt is None or nxt > horizon:
                continue
            since = max(self._marks.get(code, now - KEEP), now - KEEP)
            for s in scheduled_starts(plan, self.tz, since + timedelta(microseconds=1),
                                      horizon + timedelta(microseconds=1)):
                r = Round.planned(plan, s, self.plans)
                if r.id not in self._rounds:
                    self._rounds[r.id] = r
                    out.append(r)
            self._marks[code] = horizon
            self._next.pop(code, None)
        return out

    def _next_start(self, code: str) -> datetime | None:
        if code not in self._next:
            plan = self.plans.plans[code]
            mark = self._marks.get(code)
            if mark is None:
                mark = self.clock.now() - timedelta(seconds=plan.start_window_s)
                self._marks[code] = mark
            self._next[code] = next_start(plan, self.tz, mark)
        return self._next[code]

    # -- events, persistence, emission ---------------------------------------------------------

    def _new(self, device: str, kind: str, at: datetime, key: str, checkpoint: str,
             data: dict[str, Any]) -> NewEvent:
        return NewEvent(device=device, kind=kind, data=data, ts=at,
                        id=event_id(key, checkpoint, kind))

    def _round_event(self, r: Round, kind: str, at: datetime,
                     extra: dict[str, Any]) -> NewEvent:
        r.emitted.append(kind)
        return self._new(DEVICE, kind, at, r.id, "", {
            "plan": r.plan, "round": r.id, "route": r.route, "scheduled": _iso(r.scheduled),
            **extra})

    def _hm(self, at: datetime) -> str:
        return at.astimezone(self.tz).strftime("%H:%M")

    async def _save(self, rounds: Iterable[Round], events: list[NewEvent], *,
                    forget: list[str] | None = None, marks: bool = False,
                    document: dict[str, Any] | None = None) -> list[NewEvent]:
        """State and events to patrol.db in one transaction, then the events to the outbox;
        returns ``events`` (any the outbox refused are retried by the next tick). A store
        failure is logged and the events still go out (an alarm beats its record)."""
        bodies = [r.to_json() for r in rounds]
        if self._store is not None and (bodies or events or forget or marks or document):
            try:
                await self._store.commit(
                    rounds=bodies, events=events, forget=forget or (),
                    watermarks={k: v.isoformat() for k, v in self._marks.items()} if marks
                    else None, document=document)
            except PatrolStoreError as exc:
                self.counters["store_failures"] += 1
                self._log.error("patrol.store_failed", error=str(exc))
        self._unsent.extend(events)
        await self._retry_unsent()
        return events

    async def _retry_unsent(self) -> list[NewEvent]:
        """Hand journalled events to the outbox in order; stop at the first failure (the next
        tick tries again) and clear the ones handed over from the journal."""
        sent: list[NewEvent] = []
        while self._unsent:
            ev = self._unsent[0]
            try:
                await self._emit(ev)
            except Exception as exc:  # the outbox's failure: keep it for the next tick
                self.counters["emit_failures"] += 1
                self._retry_at = self.clock.now() + RETRY
                self._log.error("patrol.emit_failed", kind=ev.kind, error=repr(exc),
                                waiting=len(self._unsent))
                break
            sent.append(self._unsent.pop(0))
            self.counters["emitted"] += 1
        if sent and self._store is not None:
            try:
                await self._store.delivered([ev.id for ev in sent])
            except PatrolStoreError as exc:
                self._log.error("patrol.store_failed", error=str(exc))
        return sent
