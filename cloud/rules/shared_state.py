"""The rule engine's state in the database, so several console processes decide as one.

Per event, the ingest handler loads the device's rows (``rule_windows``, ``rule_timers``) into
a ``MemoryState``, lets ``RuleEngine.decide`` run on it unchanged, and writes back what
changed, in the batch's own transaction: a batch that fails leaves no half-counted window. On
PostgreSQL a transaction lock per site serialises two processes' batches of one site for
this, so a repeat counted on each process reaches the threshold once.

Due timers are claimed by deleting them (``DELETE … WHERE id IN (SELECT … FOR UPDATE SKIP
LOCKED) RETURNING``) in the transaction that opens or folds their work order: two consoles
never fire the same timer, and a failure puts it back. The action is the rule's action when
the timer fires, so a rule edited (or removed, or disabled) meanwhile applies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.rules.evaluate import Decision, EventFacts, RuleEngine, fold_key
from cloud.rules.model import Nothing, RuleSet
from cloud.rules.state import Key, MemoryState, Pending
from cloud.rules.state_tables import RuleTimer, RuleWindowHit

#: The ``rule_windows`` row of a device's last "online" (rule ids start with [a-z0-9]).
ONLINE = "@online"
#: Timers claimed per round.
CLAIM_LIMIT = 500
#: Window rows are kept at least this long (an edge's backlog can replay old events).
MIN_KEEP = timedelta(days=1)


def _pg(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _lock_site(session: AsyncSession, site: str) -> None:
    if _pg(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                              {"k": f"courtyard-rules|{site}"})


async def _load(session: AsyncSession, site: str, device: str) -> MemoryState:
    state = MemoryState()
    hits = await session.execute(
        select(RuleWindowHit.rule_id, RuleWindowHit.ts)
        .where(RuleWindowHit.site == site, RuleWindowHit.device == device)
        .order_by(RuleWindowHit.ts))
    for rule_id, ts in hits.all():
        if rule_id == ONLINE:
            state.online[(site, device)] = ts
        else:
            state.windows.setdefault((site, device, rule_id), []).append(ts)
    timers = await session.execute(
        select(RuleTimer.rule_id, RuleTimer.due_at, RuleTimer.cause_ts)
        .where(RuleTimer.site == site, RuleTimer.device == device))
    for rule_id, due_at, cause_ts in timers.all():  # only the key and times matter here
        state.pending[(site, device, rule_id)] = Pending(due_at, Decision(
            rule_id, Nothing(""), fold_key(site, device, rule_id), cause_ts, "", site, device))
    return state


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if _pg(session) else sqlite_insert


async def _store(session: AsyncSession, site: str, device: str,
                 windows: dict[Key, list[datetime]], timers: set[Key],
                 online: datetime | None, after: MemoryState) -> None:
    for key, times in after.windows.items():
        if windows.get(key) == times:
            continue
        await session.execute(delete(RuleWindowHit).where(
            RuleWindowHit.site == site, RuleWindowHit.device == device,
            RuleWindowHit.rule_id == key[2]))
        session.add_all([RuleWindowHit(site=site, device=device, rule_id=key[2], ts=t)
                         for t in times])
    back = after.online.get((site, device))
    if back is not None and back != online:
        await session.execute(delete(RuleWindowHit).where(
            RuleWindowHit.site == site, RuleWindowHit.device == device,
            RuleWindowHit.rule_id == ONLINE))
        session.add(RuleWindowHit(site=site, device=device, rule_id=ONLINE, ts=back))
    gone = [k[2] for k in timers - set(after.pending)]
    if gone:  # back online in time: the waits are over
        await session.execute(delete(RuleTimer).where(
            RuleTimer.site == site, RuleTimer.device == device, RuleTimer.rule_id.in_(gone)))
    for key in set(after.pending) - timers:
        p = after.pending[key]
        await session.execute(_insert(session)(RuleTimer).values(
            site=site, device=device, rule_id=key[2], due_at=p.due_at,
            cause_ts=p.decision.cause_ts,
            decision={"kind": p.decision.kind, "count": p.decision.count},
        ).on_conflict_do_nothing(index_elements=["site", "device", "rule_id"]))
    await session.flush()


async def decide_shared(engine: RuleEngine, session: AsyncSession,
                        event: EventFacts) -> list[Decision]:
    """``engine.decide(event)`` on the device's state in the database, inside the caller's
    transaction (never committed here)."""
    await _lock_site(session, event.site)
    state = await _load(session, event.site, event.device)
    windows = {k: list(v) for k, v in state.windows.items()}
    timers = set(state.pending)
    online = state.online.get((event.site, event.device))
    decisions = engine.decide(event, state)
    await _store(session, event.site, event.device, windows, timers, online, state)
    return decisions


async def claim_due(session: AsyncSession, ruleset: RuleSet, now: datetime,
                    limit: int = CLAIM_LIMIT) -> list[Decision]:
    """Delete and return the timers due by ``now`` (oldest first), as decisions of the rules
    in force; a timer whose rule is gone, disabled or no longer waits is dropped."""
    due = (select(RuleTimer.id).where(RuleTimer.due_at <= now).order_by(RuleTimer.due_at)
           .limit(limit).with_for_update(skip_locked=True))
    rows = (await session.execute(
        delete(RuleTimer).where(RuleTimer.id.in_(due.scalar_subquery()))
        .returning(RuleTimer.site, RuleTimer.device, RuleTimer.rule_id, RuleTimer.due_at,
                   RuleTimer.cause_ts, RuleTimer.decision))).all()
    by_id = {r.id: r for r in ruleset.rules}
    out: list[tuple[datetime, Decision]] = []
    for site, device, rule_id, due_at, cause_ts, doc in rows:
        rule = by_id.get(rule_id)
        if rule is None or rule.when.offline_for_s is None or not rule.enabled:
            continue
        out.append((due_at, Decision(rule_id, rule.then, fold_key(site, device, rule_id),
                                     cause_ts, str(doc.get("kind", "")), site, device,
                                     int(doc.get("count", 1)))))
    return [d for _, d in sorted(out, key=lambda x: x[0])]


def _keep(ruleset: RuleSet) -> timedelta:
    longest = max([r.when.repeat.within_s for r in ruleset.rules if r.when.repeat]
                  + [r.when.offline_for_s for r in ruleset.rules
                     if r.when.offline_for_s is not None] + [0.0])
    return max(MIN_KEEP, timedelta(seconds=2 * longest))


async def prune_windows(session: AsyncSession, ruleset: RuleSet, now: datetime) -> int:
    """Forget window rows no rule can count any more (devices long quiet); how many."""
    result = await session.execute(delete(RuleWindowHit).where(
        RuleWindowHit.ts < now - _keep(ruleset)))
    return int(getattr(result, "rowcount", 0) or 0)


async def pending_timers(session: AsyncSession) -> list[Key]:
    """The running offline timers (site, device, rule), for tests and the health view."""
    rows = await session.execute(select(RuleTimer.site, RuleTimer.device, RuleTimer.rule_id)
                                 .order_by(RuleTimer.site, RuleTimer.device, RuleTimer.rule_id))
    return [(s, d, r) for s, d, r in rows.all()]
