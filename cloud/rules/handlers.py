"""Device events become work orders through the rules (DESIGN §4, issue 6).

Runs inside the batch's transaction for newly inserted events only, so a redelivered batch
opens nothing twice; a rule that fires again for the same device folds into the open order
(``fold_key``) and counts. Only the kinds some work-order rule can match are registered (again
after each rule edit, ``RuleEngine.use``), so meter readings never pass through here unless a
work-order rule names them. ``device.online`` is registered when a rule waits
for a device to stay offline, because it cancels that wait.

The rule engine's memory (repeat windows, offline timers) is in the database when the engine
is ``shared`` (the console: ``cloud.rules.shared_state``, written in the batch's transaction),
else in the engine; the timers fire from :func:`run_workorder_timers`, which also checks the
SLA clocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Event, Site
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.rules.evaluate import Decision, EventFacts, RuleEngine
from cloud.rules.model import OpenWorkOrder, RuleSet
from cloud.rules.shared_state import claim_due, decide_shared, prune_windows
from cloud.workorders.service import Source, auto_assign, check_sla, open_or_fold
from contract import Clock, Kind

log = structlog.get_logger(__name__)


def _needed(ruleset: RuleSet) -> tuple[set[str], set[str]]:
    """The exact kinds and the prefixes some enabled work-order rule can match."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    waits = False
    for rule in ruleset.rules:
        if not rule.enabled or not isinstance(rule.then, OpenWorkOrder):
            continue
        waits = waits or rule.when.offline_for_s is not None
        for pattern in rule.on:
            if pattern.endswith("*"):
                prefixes.add(pattern[:-1])
            else:
                exact.add(pattern)
    if waits:
        exact.add(Kind.DEVICE_ONLINE)
    return exact, prefixes


def register_workorder_handlers(registry: HandlerRegistry, engine: RuleEngine) -> None:
    """Register for the kinds the rules name now, and for newly named ones after each swap.

    A handler is never unregistered: after an edit drops a rule the engine simply decides
    nothing for that kind (and skips it before deciding when no work-order rule names it).
    """
    exact: set[str] = set()
    prefixes: set[str] = set()
    wanted: dict[str, bool] = {}  # per kind, for the rule set in force; emptied on swap

    def wants(kind: str) -> bool:
        found = wanted.get(kind)
        if found is None:
            now_exact, now_prefixes = _needed(engine.ruleset)
            found = wanted[kind] = kind in now_exact or any(
                kind.startswith(p) for p in now_prefixes)
        return found

    async def on_events(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
        uuids: dict[int, str] | None = None
        for ev in events:
            if not wants(ev.kind):
                continue
            facts = EventFacts(site=ctx.site, kind=ev.kind, device=ev.device,
                               device_type=_text(ev.data.get("device_type")), ts=ev.ts,
                               data=ev.data)
            decisions = (await decide_shared(engine, ctx.session, facts) if engine.shared
                         else engine.decide(facts))
            for d in decisions:
                if uuids is None:
                    uuids = await _uuids(ctx.session, [e.id for e in events])
                opened = await apply_decision(ctx.session, ctx.site_id, d, ctx.now,
                                              event_uuid=uuids.get(ev.id))
                ctx.count("workorders_opened" if opened else "workorders_folded")

    def sync(ruleset: RuleSet) -> None:
        wanted.clear()
        need_exact, need_prefixes = _needed(ruleset)
        for kind in sorted(need_exact - exact):
            registry.register(kind, on_events)
        for prefix in sorted(need_prefixes - prefixes):
            registry.register_prefix(prefix, on_events)
        exact.update(need_exact)
        prefixes.update(need_prefixes)

    sync(engine.ruleset)
    engine.on_use(sync)


async def apply_decision(session: AsyncSession, site_id: int, d: Decision, now: datetime, *,
                         event_uuid: str | None = None) -> bool:
    """Open (and dispatch) or fold one decision; True when a new order was opened.

    Only work-order decisions act here: alarms come from the alarm policy
    (``cloud.alarms``), and "nothing" is nothing."""
    action = d.action
    if not isinstance(action, OpenWorkOrder):
        return False
    order, folded = await open_or_fold(
        session, site_id=site_id, fold_key=d.fold_key, category=action.category,
        priority=action.priority, sla_response_s=int(action.sla_response_s),
        sla_resolve_s=int(action.sla_resolve_s), skill=action.skill or None,
        title=(action.title_zh, action.title_en), cause_ts=d.cause_ts,
        source=Source("event", device=d.device, event_uuid=event_uuid), now=now,
        description=f"{d.kind} · {d.device} · rule {d.rule_id}")
    if not folded:
        await auto_assign(session, order, now)
    return not folded


async def timers_round(sessions: async_sessionmaker[AsyncSession], engine: RuleEngine,
                       now: datetime, *, sla: bool = False) -> tuple[int, int]:
    """One round: open or fold the orders whose wait is over and, with ``sla``, escalate the
    orders past their SLA; (decisions applied, orders escalated). The console checks SLAs
    in a duty of its own (``cloud.jobs.console.duty_set``), taken by one console at a time,
    so its timer rounds leave them alone."""
    async with sessions() as session, session.begin():
        # Claimed in this transaction: fired once across consoles, back if it fails.
        due = (await claim_due(session, engine.ruleset, now) if engine.shared
               else engine.due(now))
        sites = {name: sid for sid, name in (await session.execute(
            select(Site.id, Site.slug))).all()} if due else {}
        for d in due:
            if d.site in sites:
                await apply_decision(session, sites[d.site], d, now)
        if engine.shared:
            await prune_windows(session, engine.ruleset, now)
        escalated = await check_sla(session, now) if sla else []
    return len(due), len(escalated)


async def run_workorder_timers(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                               engine: RuleEngine, interval: float = 5.0) -> None:
    """Until cancelled: open the orders whose wait is over (a device still offline after
    N minutes). SLAs are the console's ``sla`` duty."""
    while True:
        try:
            fired, escalated = await timers_round(sessions, engine, clock.now())
            if fired or escalated:
                log.info("workorders.timers", opened_or_folded=fired, escalated=escalated)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database hiccup must not end the loop
            log.error("workorders.timers_failed", error=repr(exc))
        await asyncio.sleep(interval)


async def _uuids(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    rows = await session.execute(select(Event.id, Event.uuid).where(Event.id.in_(ids)))
    return {int(i): str(u) for i, u in rows.all()}


def _text(value: object) -> str | None:
    return None if value is None else str(value)
