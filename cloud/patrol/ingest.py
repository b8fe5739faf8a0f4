"""Ingest of the edge's ``patrol.*`` events into ``patrol_rounds`` and ``patrol_visits``, in
the batch's transaction (``cloud.ingest.handlers``).

After an outage the edge's outbox may deliver a round's events in any order (a completion
before its start, a visit before either), so each event only ever adds what it knows: a
round's status moves forward only (scheduled < started < completed | incomplete | missed),
its start is the earliest seen, and facts already known are not overwritten by emptier ones.
A visit is stored once per event id. ``patrol.tag_seen``, ``tag_cloned`` and
``tag_battery_low`` store nothing here: the event row is the record, the alarm policy and the
rules file act on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from cloud.db.dialect import dialect_insert
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.patrol.schedule import parse_round_id
from cloud.patrol.tables import PatrolPlan, PatrolRound, PatrolVisit
from contract import Kind

RANK = {"scheduled": 0, "started": 1, "completed": 2, "incomplete": 2, "missed": 2}
VISIT_STATUSES = ("on_time", "late", "out_of_order", "unplanned")
COUNTS = ("on_time", "late", "missed", "out_of_order")


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def _text(data: dict[str, Any], name: str, max_len: int) -> str | None:
    raw = data.get(name)
    return raw[:max_len] if isinstance(raw, str) and raw else None


def _count(raw: Any) -> int:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else 0


async def _round(ctx: HandlerContext, ev: StoredEvent) -> PatrolRound | None:
    """The round the event names, created on first sight; None when it names none."""
    rid = _text(ev.data, "round", 96)
    parsed = parse_round_id(rid) if rid is not None else None
    if rid is None or parsed is None:
        return None
    found = (await ctx.session.scalars(select(PatrolRound).where(
        PatrolRound.site_id == ctx.site_id, PatrolRound.round_id == rid))).first()
    plan = _text(ev.data, "plan", 64) or parsed[0]
    route = _text(ev.data, "route", 64)
    if found is None:
        if route is None:
            route = (await ctx.session.scalars(select(PatrolPlan.route).where(
                PatrolPlan.site_id == ctx.site_id, PatrolPlan.code == plan))).first()
        found = PatrolRound(site_id=ctx.site_id, round_id=rid, plan=plan, route=route,
                            scheduled_at=_instant(ev.data.get("scheduled")) or parsed[1],
                            status="scheduled", on_time=0, late=0, missed=0, out_of_order=0,
                            missed_checkpoints={}, updated_at=ctx.now)
        ctx.session.add(found)
        await ctx.session.flush()
        ctx.count("patrol_rounds_created")
    elif route is not None and found.route is None:
        found.route = route
    guard, tag = _text(ev.data, "guard", 64), _text(ev.data, "tag", 96)
    if guard is not None and found.guard is None:
        found.guard = guard
    if tag is not None and found.tag is None:
        found.tag = tag
    found.updated_at = ctx.now
    return found


def _advance(r: PatrolRound, status: str) -> None:
    if RANK[status] > RANK[r.status]:
        r.status = status


def _started(r: PatrolRound, at: datetime) -> None:
    _advance(r, "started")
    if r.started_at is None or at < r.started_at:
        r.started_at = at


async def on_round(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    """``round_started`` / ``round_completed`` / ``round_missed``."""
    for ev in events:
        r = await _round(ctx, ev)
        if r is None:
            ctx.log.warning("patrol_round_without_id", kind=ev.kind, seq=ev.seq)
            continue
        if ev.kind == Kind.PATROL_ROUND_STARTED:
            _started(r, ev.ts)
        elif ev.kind == Kind.PATROL_ROUND_COMPLETED:
            outcome = ev.data.get("outcome")
            missed = _count(ev.data.get("missed"))
            complete = outcome == "complete" if outcome is not None else missed == 0
            _advance(r, "completed" if complete else "incomplete")
            r.ended_at = ev.ts
            r.on_time, r.late = _count(ev.data.get("on_time")), _count(ev.data.get("late"))
            r.missed, r.out_of_order = missed, _count(ev.data.get("out_of_order"))
        else:
            _advance(r, "missed")
            if r.ended_at is None:
                r.ended_at = ev.ts


async def on_checkpoint_missed(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    """A checkpoint of a started round went unvisited past its deadline."""
    for ev in events:
        r = await _round(ctx, ev)
        cp = _text(ev.data, "checkpoint", 64)
        if r is None or cp is None:
            continue
        _advance(r, "started")
        deadline = _instant(ev.data.get("deadline")) or ev.ts
        r.missed_checkpoints = {**r.missed_checkpoints, cp: deadline.isoformat()}


async def on_checkpoint(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    """A visit: stored once per event id; its round, when it names one, is at least
    started from the visit's time on."""
    rows: list[dict[str, Any]] = []
    for ev in events:
        cp = _text(ev.data, "checkpoint", 64)
        if cp is None:
            continue
        r = await _round(ctx, ev)
        if r is not None:
            _started(r, ev.ts)
        status = ev.data.get("status")
        source = ev.data.get("source")
        rssi, dwell = ev.data.get("rssi"), ev.data.get("dwell_s")
        rows.append({
            "site_id": ctx.site_id, "round_id": None if r is None else r.round_id,
            "plan": _text(ev.data, "plan", 64), "checkpoint": cp, "at": ev.ts,
            "due": _instant(ev.data.get("due")),
            "status": status if status in VISIT_STATUSES else "unplanned",
            "source": source if source in ("ble", "qr") else "ble",
            "guard": _text(ev.data, "guard", 64), "tag": _text(ev.data, "tag", 96),
            "receiver": _text(ev.data, "receiver", 64),
            "rssi": rssi if isinstance(rssi, int) and not isinstance(rssi, bool) else None,
            "dwell_s": float(dwell) if isinstance(dwell, int | float)
            and not isinstance(dwell, bool) else None,
            "event_id": ev.id})
    if rows:
        stmt = dialect_insert(ctx.session, PatrolVisit.__table__)  # type: ignore[arg-type]
        await ctx.session.execute(stmt.values(rows).on_conflict_do_nothing(
            index_elements=["event_id"]))
        ctx.count("patrol_visits", len(rows))


def register_handlers(registry: HandlerRegistry) -> None:
    registry.register(Kind.PATROL_CHECKPOINT, on_checkpoint)
    for kind in (Kind.PATROL_ROUND_STARTED, Kind.PATROL_ROUND_COMPLETED,
                 Kind.PATROL_ROUND_MISSED):
        registry.register(kind, on_round)
    registry.register(Kind.PATROL_CHECKPOINT_MISSED, on_checkpoint_missed)
