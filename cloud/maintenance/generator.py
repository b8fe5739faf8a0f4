"""Turn due PM visits into work orders, once each.

Each visit gets its own savepoint holding both its order and its ``maintenance_visits`` row;
if another generator created the visit first, the unique ``pm_key`` refuses ours and the
savepoint takes our order away with it, so two runs (or two servers) never make two orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import date, datetime, time, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.maintenance.model import Plan
from cloud.maintenance.schedule import Due, occurrences, release, site_today
from cloud.maintenance.store import PlanInvalid, asset_model, plan_from_json
from cloud.maintenance.tables import AssetRecord, MaintenancePlan, MaintenanceVisit
from cloud.workorders.service import Source, auto_assign, open_or_fold, site_zone
from contract.clock import Clock

log = structlog.get_logger(__name__)

#: PM visits are planned work: the technician confirms within a day of the due morning.
RESPONSE_S = 24 * 3600
#: The visit's due time, site time: SLA clocks run from the due date's working morning.
DUE_AT = time(9, 0)


def _description(plan: Plan, due: Due) -> str:
    """The checklists of every tier the visit covers, biggest first (TSG T5002: the bigger
    visit includes the smaller ones)."""
    parts = []
    for name in due.covers or (due.tier,):
        tier = plan.tier(name)
        parts.append(f"{tier.zh} / {tier.en}\n" + "\n".join(f"- {c}" for c in tier.checklist))
    return "\n\n".join(parts)


async def _create(session: AsyncSession, row: MaintenancePlan, plan: Plan,
                  asset: AssetRecord, due: Due, now: datetime) -> int | None:
    tier = plan.tier(due.tier)
    tz = await site_zone(session, row.site_id)
    cause = datetime.combine(due.due_date, DUE_AT, tz)
    try:
        async with session.begin_nested():
            order, folded = await open_or_fold(
                session, site_id=row.site_id, fold_key=due.key, category=plan.category,
                priority="normal", sla_response_s=RESPONSE_S, sla_resolve_s=plan.sla_resolve_s,
                skill=plan.skill,
                title=(f"{tier.zh}：{asset.name}（{asset.code}）",
                       f"{tier.en}: {asset.name} ({asset.code})"),
                cause_ts=cause, source=Source("plan", device=asset.device), now=now,
                description=_description(plan, due))
            session.add(MaintenanceVisit(
                pm_key=due.key, work_order_id=order.id, asset_id=asset.id, plan_id=row.id,
                tier=due.tier, covers=list(due.covers), due_date=due.due_date))
            await session.flush()
    except IntegrityError:
        return None  # another run made this visit's order first
    if folded:
        return None
    await auto_assign(session, order, now)
    return order.id


async def generate(session: AsyncSession, today: date, now: datetime,
                   site_ids: Collection[int] | None = None) -> list[int]:
    """Create the orders of every visit released by ``today`` (site calendar) and not yet
    made, for every active plan and active asset of its kind at its site; the new order ids.
    ``site_ids`` limits the run to those sites (None: every site, as the hourly timer runs).
    """
    query = select(MaintenancePlan).where(MaintenancePlan.active.is_(True))
    if site_ids is not None:
        query = query.where(MaintenancePlan.site_id.in_(sorted(site_ids)))
    plans = (await session.execute(query.order_by(MaintenancePlan.id))).scalars().all()
    created: list[int] = []
    for row in plans:
        try:
            plan = plan_from_json(row.definition)
        except PlanInvalid as exc:  # stored by an older version: skip it, keep the others
            log.error("maintenance.plan_invalid", plan=row.plan_id, error=str(exc))
            continue
        assets = (await session.execute(select(AssetRecord).where(
            AssetRecord.site_id == row.site_id, AssetRecord.kind == plan.asset_kind,
            AssetRecord.active.is_(True)).order_by(AssetRecord.id))).scalars().all()
        horizon = today + timedelta(days=plan.release_days_ahead + 1)
        for asset in assets:
            dues = occurrences(plan, asset_model(asset), plan.start, horizon)
            done = (await session.execute(select(MaintenanceVisit.pm_key).where(
                MaintenanceVisit.asset_id == asset.id,
                MaintenanceVisit.plan_id == row.id))).scalars().all()
            for due in release(today, dues, done):
                order_id = await _create(session, row, plan, asset, due, now)
                if order_id is not None:
                    created.append(order_id)
    return created


async def run_generator(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                        interval: float = 3600) -> None:
    """Until cancelled: make the due PM orders every ``interval`` seconds."""
    while True:
        try:
            now = clock.now()
            async with sessions() as session, session.begin():
                created = await generate(session, site_today(clock), now)
            if created:
                log.info("maintenance.generated", orders=len(created))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bad plan or a database hiccup must not end the loop
            log.error("maintenance.generate_failed", error=repr(exc))
        await asyncio.sleep(interval)
