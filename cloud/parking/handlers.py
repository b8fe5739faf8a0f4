"""``parking.entry`` / ``parking.exit`` → one parking session per stay and one charge per fee.

Runs inside the batch's transaction with the site row locked, so the session-id look-ups
below cannot race another batch of the same site. The edge's session id keys both tables: an
exit that arrives before its entry (replay order after an outage), or without one (the edge
lost it), still makes exactly one session and at most one charge.

The fee is re-checked here with the same tariff code the edge used (the exit event carries
the tariff it applied); a difference is kept on the charge for finance to look at, never
silently "corrected" — the driver paid what the lane showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from cloud.ingest.handlers import HandlerContext, StoredEvent
from cloud.parking.tables import Charge, ParkingSession
from contract import Kind
from contract.envelope import parse_ts
from parkingrules.tariff import quote
from parkingrules.tariff_yaml import tariff_from_dict

ZERO = Decimal("0")


def _money(raw: Any) -> Decimal | None:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _ts(raw: Any) -> datetime | None:
    try:
        return parse_ts(raw) if raw else None
    except ValueError:
        return None


def _s(raw: Any, limit: int) -> str | None:
    return str(raw)[:limit] if raw is not None else None


async def _sessions(ctx: HandlerContext, keys: set[str]) -> dict[str, ParkingSession]:
    if not keys:
        return {}
    rows = await ctx.session.scalars(select(ParkingSession).where(
        ParkingSession.site_id == ctx.site_id, ParkingSession.session_uuid.in_(keys)))
    return {r.session_uuid: r for r in rows}


async def on_parking_entry(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    keys = {str(e.data["session"]) for e in events if e.data.get("session")}
    known = await _sessions(ctx, keys)
    for ev in events:
        key = ev.data.get("session")
        if not key:
            ctx.count("parking_entry_without_session")
            continue
        s = known.get(str(key))
        if s is None:
            s = known[str(key)] = ParkingSession(
                site_id=ctx.site_id, session_uuid=str(key)[:64], state="inside",
                lot=str(ev.data.get("lot", ""))[:64], plate=str(ev.data.get("plate", ""))[:16],
                category=str(ev.data.get("category", ""))[:16], anomalies=[])
            ctx.session.add(s)
        s.entry_ts, s.entry_lane, s.entry_event_id = ev.ts, _s(ev.data.get("lane"), 64), ev.id
        anomalies = ev.data.get("anomalies")
        if isinstance(anomalies, list) and anomalies:
            s.anomalies = [*(s.anomalies or []), *anomalies]
        ctx.count("parking_entries")


async def on_parking_exit(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    keys = {str(e.data["session"]) for e in events if e.data.get("session")}
    known = await _sessions(ctx, keys)
    charged = set((await ctx.session.scalars(select(Charge.source_ref).where(
        Charge.site_id == ctx.site_id, Charge.source == Kind.PARKING_EXIT,
        Charge.source_ref.in_(keys)))).all()) if keys else set()
    for ev in events:
        d = ev.data
        key = str(d.get("session") or f"event-{ev.id}")[:64]
        fee, paid = _money(d.get("fee")) or ZERO, _money(d.get("paid")) or ZERO
        s = known.get(key)
        if s is None:
            s = known[key] = ParkingSession(
                site_id=ctx.site_id, session_uuid=key, lot=str(d.get("lot", ""))[:64],
                plate=str(d.get("plate", ""))[:16], category=str(d.get("category", ""))[:16],
                state="closed", anomalies=[])
            ctx.session.add(s)
            if d.get("entry_ts"):
                s.entry_ts = _ts(d.get("entry_ts"))
        s.state, s.exit_ts, s.exit_event_id = "closed", ev.ts, ev.id
        s.exit_lane = _s(d.get("lane"), 64)
        s.minutes = int(d["minutes"]) if isinstance(d.get("minutes"), int) else None
        s.fee, s.paid = fee, paid
        anomalies = d.get("anomalies")
        if isinstance(anomalies, list) and anomalies:
            s.anomalies = [*(s.anomalies or []), *anomalies]
        ctx.count("parking_exits")
        if fee <= ZERO or key in charged:
            continue
        charged.add(key)
        ctx.session.add(Charge(site_id=ctx.site_id, source=Kind.PARKING_EXIT, source_ref=key,
                               event_id=ev.id, plate=_s(d.get("plate"), 16), amount=fee,
                               paid=paid, recheck=_recheck(ctx, ev, fee), created_at=ctx.now))
        ctx.count("parking_charges")


def _recheck(ctx: HandlerContext, ev: StoredEvent, fee: Decimal) -> dict[str, Any] | None:
    """Recompute the fee with the tariff the edge applied; None when it agrees."""
    d = ev.data
    doc = d.get("tariff_doc")
    start, end = _ts(d.get("charged_from") or d.get("entry_ts")), _ts(d.get("exit_ts"))
    if not isinstance(doc, dict) or end is None or (start is None and not d.get("lost_entry")):
        ctx.count("parking_fee_not_rechecked")
        return {"status": "not_rechecked", "why": "exit event lacks tariff or times"}
    try:
        lost = bool(d.get("lost_entry"))
        q = quote(tariff_from_dict(doc, source=f"event {ev.id}"), None if lost else start, end,
                  vehicle_class=str(d.get("vehicle_class") or "small"),
                  new_energy=bool(d.get("new_energy")), lost_entry=lost,
                  paid=_money(d.get("paid")) or ZERO, paid_at=_ts(d.get("paid_at")))
    except ValueError as exc:
        ctx.count("parking_fee_not_rechecked")
        return {"status": "not_rechecked", "why": str(exc)[:200]}
    if q.fee == fee:
        ctx.count("parking_fee_rechecked")
        return None
    ctx.count("parking_fee_mismatch")
    ctx.log.warning("parking.fee_mismatch", seq=ev.seq, edge_fee=str(fee), cloud_fee=str(q.fee))
    return {"status": "mismatch", "edge_fee": str(fee), "cloud_fee": str(q.fee)}
