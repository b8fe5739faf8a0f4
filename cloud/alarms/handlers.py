"""Alarm events → alarms, restore events → ``restored_at``, linkage reports → the alarm.

Runs inside the batch's transaction for newly inserted events only, with the site row
locked, so a redelivered batch does nothing and two batches of one site never race here.
The active alarms a batch may fold into are read ``FOR UPDATE`` (PostgreSQL; SQLite has one
writer at a time), so a guard resolving an alarm at that moment either lands first (and the
repeat opens a new alarm) or waits for this transaction (and resolves the folded alarm).

Changed alarms are announced to the live feed in the same transaction (``notify.announce``):
delivered on commit, never for a batch that rolls back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.extract import condition, evidence, fold_key, location, pick, source_key
from cloud.alarms.notify import announce
from cloud.alarms.policy import (
    DEFAULT_POLICY,
    LINKAGE_KINDS,
    SEVERITY_RANK,
    AlarmPolicy,
)
from cloud.alarms.tables import ALARM_ACTIVE_WHERE, Alarm, AlarmAction, AlarmEvent, AlarmLinkage
from cloud.db.models import Event
from cloud.ingest.handlers import Handler, HandlerContext, HandlerRegistry, StoredEvent

LINKAGE_RESULTS = ("ok", "failed", "noop", "refused")
_LINKAGE_OWN_FIELDS = {"v", "cause_event", "action", "target", "result", "detail"}


def _text(raw: Any, limit: int) -> str | None:
    if raw is None or isinstance(raw, dict | list):
        return None
    text = str(raw).strip()
    return text[:limit] or None


#: Literal, not bound parameters, so PostgreSQL matches it to the partial unique index.
_ACTIVE = text(f"alarms.{ALARM_ACTIVE_WHERE}")


def _active(session: AsyncSession, *where: Any) -> Any:
    """Active alarms matching ``where``, locked for this transaction on PostgreSQL (in id
    order, the order every writer of several alarms locks them in)."""
    query = select(Alarm).where(_ACTIVE, *where).order_by(Alarm.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return query


async def _uuids(ctx: HandlerContext, ids: list[int]) -> dict[int, str]:
    """Envelope ids of the stored events (the handlers get row ids)."""
    rows = await ctx.session.execute(select(Event.id, Event.uuid).where(Event.id.in_(ids)))
    return {int(i): str(u) for i, u in rows.all()}


async def _attach_linkage(ctx: HandlerContext, by_uuid: dict[str, int]) -> None:
    """Linkage reports that arrived before their cause's alarm now find it."""
    if not by_uuid:
        return
    waiting = (await ctx.session.scalars(select(AlarmLinkage).where(
        AlarmLinkage.site_id == ctx.site_id, AlarmLinkage.alarm_id.is_(None),
        AlarmLinkage.cause_uuid.in_(list(by_uuid))))).all()
    for row in waiting:
        row.alarm_id = by_uuid[row.cause_uuid]
    ctx.count("alarm_linkage_attached_late", len(waiting))


class AlarmHandlers:
    """The handlers, bound to one ``AlarmPolicy``."""

    def __init__(self, policy: AlarmPolicy) -> None:
        self.policy = policy

    async def on_alarm_events(self, ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
        by_kind: dict[str, list[StoredEvent]] = defaultdict(list)
        for ev in events:
            by_kind[ev.kind].append(ev)
        uuids = await _uuids(ctx, [e.id for e in events])
        changed: set[int] = set()
        by_uuid: dict[str, int] = {}
        for kind, evs in by_kind.items():
            await self._open_or_fold(ctx, kind, evs, uuids, changed, by_uuid)
        await _attach_linkage(ctx, by_uuid)
        await announce(ctx.session, changed)

    async def _open_or_fold(self, ctx: HandlerContext, kind: str, events: list[StoredEvent],
                            uuids: dict[int, str], changed: set[int],
                            by_uuid: dict[str, int]) -> None:
        rule = self.policy.rules[kind]
        keyed = []
        for ev in events:
            src = source_key(ev.device, ev.data, rule.source)
            keyed.append((ev, src, fold_key(kind, src, ev.data, rule.detail)))
        active = {a.fold_key: a for a in (await ctx.session.scalars(_active(
            ctx.session, Alarm.site_id == ctx.site_id,
            Alarm.fold_key.in_({k for _, _, k in keyed})))).all()}
        for ev, src, key in keyed:
            uuid = uuids.get(ev.id, "")
            severity = self.policy.severity_for(rule, ev.data)
            if severity is None:
                ctx.count("alarm_events_informational")
                continue
            place, place_text = location(ev.data)
            alarm = active.get(key)
            if alarm is None:
                alarm = active[key] = Alarm(
                    site_id=ctx.site_id, kind=kind, severity=severity, state="open",
                    fold_key=key, source_key=src, device=ev.device[:128],
                    condition=condition(rule.condition, ev.data),
                    title_zh=rule.title_zh, title_en=rule.title_en, location=place,
                    location_text=place_text, count=1, first_ts=ev.ts, last_ts=ev.ts,
                    opened_at=ctx.now, escalated=False, escalation_level=0, event_id=ev.id,
                    event_uuid=uuid, evidence=evidence(ev.data), updated_at=ctx.now)
                ctx.session.add(alarm)
                await ctx.session.flush()
                first = self.policy.escalation.chain[0]
                ctx.session.add(AlarmAction(
                    alarm_id=alarm.id, action="opened", to_state="open", at=ctx.now,
                    role=first.key, level=0, event_id=ev.id))
                ctx.count("alarms_opened")
                ctx.log.warning("alarm.opened", alarm=alarm.id, kind=kind, severity=severity,
                                device=ev.device, location=place_text, seq=ev.seq)
            else:
                alarm.count += 1
                if ev.ts >= alarm.last_ts:
                    alarm.last_ts = ev.ts
                    alarm.evidence = evidence(ev.data) or alarm.evidence
                    if alarm.restored_at is not None and ev.ts > alarm.restored_at:
                        alarm.restored_at = None  # it came back after the restore
                alarm.first_ts = min(alarm.first_ts, ev.ts)
                if SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(alarm.severity, 0):
                    alarm.severity = severity
                if alarm.location is None and place is not None:
                    alarm.location, alarm.location_text = place, place_text
                alarm.updated_at = ctx.now
                ctx.count("alarms_folded")
            ctx.session.add(AlarmEvent(alarm_id=alarm.id, site_id=ctx.site_id, event_id=ev.id,
                                       event_uuid=uuid, ts=ev.ts))
            changed.add(alarm.id)
            if uuid:
                by_uuid[uuid] = alarm.id

    def _restores(self, ev: StoredEvent) -> list[tuple[str, str, str | None]]:
        """(kind, source key, fold key or None) of the alarms a restore event may match;
        the fold key when the restore carries the rule's detail fields."""
        out = []
        for kind in self.policy.restores[ev.kind].kinds:
            rule = self.policy.rules.get(kind)
            if rule is None:
                continue
            src = source_key(ev.device, ev.data, rule.source)
            exact = (fold_key(kind, src, ev.data, rule.detail)
                     if rule.detail and all(pick(ev.data, f) is not None for f in rule.detail)
                     else None)
            out.append((kind, src, exact))
        return out

    def _cleared(self, ev: StoredEvent) -> set[str] | None:
        """The conditions a restore event says cleared; None: all of them (or not said)."""
        name = self.policy.restores[ev.kind].cleared_field
        raw = ev.data.get(name) if name else None
        if isinstance(raw, str):
            return {raw}
        if isinstance(raw, list):
            return {str(c) for c in raw}
        return None

    async def on_restore_events(self, ctx: HandlerContext,
                                events: Sequence[StoredEvent]) -> None:
        wanted = [(ev, self._restores(ev), self._cleared(ev)) for ev in events]
        kinds = {k for _, cands, _ in wanted for k, _, _ in cands}
        sources = {s for _, cands, _ in wanted for _, s, _ in cands}
        if not kinds:
            return
        found: dict[tuple[str, str], list[Alarm]] = defaultdict(list)
        for alarm in (await ctx.session.scalars(_active(
                ctx.session, Alarm.site_id == ctx.site_id, Alarm.kind.in_(kinds),
                Alarm.source_key.in_(sources)))).all():
            found[(alarm.kind, alarm.source_key)].append(alarm)
        changed: set[int] = set()
        for ev, cands, cleared in wanted:
            matched = [a for kind, src, exact in cands for a in found.get((kind, src), [])
                       if (exact is None or a.fold_key == exact)
                       and (cleared is None or a.condition is None or a.condition in cleared)]
            if not matched:
                ctx.count("alarm_restores_without_alarm")
            for alarm in matched:
                if ev.ts < alarm.last_ts:
                    continue  # the condition repeated after this restore (late delivery)
                if alarm.restored_at is not None and ev.ts <= alarm.restored_at:
                    continue
                alarm.restored_at = ev.ts
                alarm.updated_at = ctx.now
                ctx.session.add(AlarmAction(alarm_id=alarm.id, action="restored",
                                            from_state=alarm.state, to_state=alarm.state,
                                            at=ctx.now, event_id=ev.id))
                changed.add(alarm.id)
                ctx.count("alarms_restored")
                ctx.log.info("alarm.restored", alarm=alarm.id, kind=alarm.kind,
                             device=ev.device, seq=ev.seq)
        await announce(ctx.session, changed)

    async def on_linkage_events(self, ctx: HandlerContext,
                                events: Sequence[StoredEvent]) -> None:
        causes = {c for c in (_text(e.data.get("cause_event"), 64) for e in events) if c}
        alarm_of: dict[str, int] = {}
        if causes:
            rows = await ctx.session.execute(
                select(AlarmEvent.event_uuid, AlarmEvent.alarm_id).where(
                    AlarmEvent.site_id == ctx.site_id, AlarmEvent.event_uuid.in_(causes)))
            alarm_of = {str(u): int(a) for u, a in rows.all()}
        for ev in events:
            d = ev.data
            cause = _text(d.get("cause_event"), 64)
            if cause is None:
                ctx.count("alarm_linkage_without_cause")
                ctx.log.warning("alarm.linkage_without_cause", kind=ev.kind, seq=ev.seq,
                                device=ev.device)
                continue
            result = _text(d.get("result"), 16)
            if result is not None and result not in LINKAGE_RESULTS:
                ctx.count("alarm_linkage_unknown_result")
            detail = d["detail"] if "detail" in d else (
                {k: v for k, v in d.items() if k not in _LINKAGE_OWN_FIELDS} or None)
            alarm_id = alarm_of.get(cause)
            ctx.session.add(AlarmLinkage(
                site_id=ctx.site_id, alarm_id=alarm_id, cause_uuid=cause, event_id=ev.id,
                seq=ev.seq, kind=ev.kind, device=ev.device[:128], ts=ev.ts,
                action=_text(d.get("action"), 64), target=_text(d.get("target"), 128),
                result=result, detail=detail))
            ctx.count("alarm_linkage_attached" if alarm_id else "alarm_linkage_waiting")


def register_alarm_handlers(registry: HandlerRegistry,
                            policy: AlarmPolicy | None = None) -> AlarmHandlers:
    """Register the alarm, restore and linkage handlers of ``policy`` (default: built-in)."""
    handlers = AlarmHandlers(policy or DEFAULT_POLICY)
    opener: Handler = handlers.on_alarm_events
    for kind in handlers.policy.rules:
        registry.register(kind, opener)
    for kind in handlers.policy.restores:
        registry.register(kind, handlers.on_restore_events)
    for kind in LINKAGE_KINDS:
        registry.register(kind, handlers.on_linkage_events)
    return handlers
