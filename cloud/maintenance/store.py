"""Plans and assets as stored: a plan definition as JSON (the YAML's shape) checked field by
field, ledger rows turned into the pure ``model`` types, and one asset's statistics.

A JSON plan is checked with the same rules as the YAML loader (``Plan`` itself refuses
misaligned tiers), but an error names a JSON path (``tiers[1].every``) instead of a line:
an API client has no line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.maintenance.model import Asset, Plan, Tier, cadence_units
from cloud.maintenance.stats import FaultRecord, OrderRecord, asset_stats, sla_compliance
from cloud.maintenance.tables import AssetRecord, MaintenanceVisit
from cloud.workorders.service import DEFAULT_TZ
from cloud.workorders.tables import WorkOrder

PLAN_KEYS = ("id", "asset_kind", "skill", "category", "release_days_ahead", "sla_resolve_s",
             "start", "tiers")
TIER_KEYS = ("name", "zh", "en", "every", "checklist")


class PlanInvalid(ValueError):
    """A plan definition is wrong; ``field`` is its JSON path."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field = field
        self.zh = zh
        self.en = en


def _fields(doc: Any, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise PlanInvalid(where or "plan", "须为 JSON 对象", "must be a JSON object")
    prefix = f"{where}." if where else ""
    for name in doc:
        if name not in keys:
            raise PlanInvalid(f"{prefix}{name}", f"未知字段，可用：{', '.join(keys)}",
                              f"unknown field; known fields: {', '.join(keys)}")
    for name in keys:
        if name not in doc:
            raise PlanInvalid(f"{prefix}{name}", "缺少此字段", "is missing")
    return doc


def _text(value: Any, field: str, max_len: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise PlanInvalid(field, f"须为 1–{max_len} 字的文本",
                          f"must be text of 1–{max_len} characters")
    return value.strip()


def _int(value: Any, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlanInvalid(field, f"须为不小于 {minimum} 的整数",
                          f"must be a whole number of at least {minimum}")
    return value


def _tier(doc: Any, where: str) -> Tier:
    f = _fields(doc, TIER_KEYS, where)
    every = _text(f["every"], f"{where}.every", 8)
    try:
        cadence_units(every)
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        raise PlanInvalid(f"{where}.every", zh, en) from None
    items = f["checklist"]
    if not isinstance(items, list) or not items:
        raise PlanInvalid(f"{where}.checklist", "须为非空列表", "must be a non-empty list")
    checklist = tuple(_text(v, f"{where}.checklist[{i}]", 500) for i, v in enumerate(items))
    return Tier(_text(f["name"], f"{where}.name", 64), _text(f["zh"], f"{where}.zh"),
                _text(f["en"], f"{where}.en"), every, checklist)


def plan_from_json(doc: Any) -> Plan:
    """The plan a JSON definition describes, or ``PlanInvalid`` naming the first bad field."""
    f = _fields(doc, PLAN_KEYS, "")
    try:
        start = date.fromisoformat(f["start"]) if isinstance(f["start"], str) else None
    except ValueError:
        start = None
    if start is None:
        raise PlanInvalid("start", "须为日期 YYYY-MM-DD", "must be a date, YYYY-MM-DD")
    tiers = f["tiers"]
    if not isinstance(tiers, list) or not tiers:
        raise PlanInvalid("tiers", "须为非空列表", "must be a non-empty list")
    parsed = tuple(_tier(t, f"tiers[{i}]") for i, t in enumerate(tiers))
    try:
        return Plan(_text(f["id"], "id", 64), _text(f["asset_kind"], "asset_kind", 32),
                    parsed, _int(f["release_days_ahead"], "release_days_ahead", 0),
                    _text(f["skill"], "skill", 32), _text(f["category"], "category", 64),
                    _int(f["sla_resolve_s"], "sla_resolve_s", 1), start)
    except ValueError as exc:
        if isinstance(exc, PlanInvalid):
            raise
        zh, _, en = str(exc).partition(" / ")
        raise PlanInvalid("tiers", zh, en) from None


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The YAML shape, as stored in ``maintenance_plans.definition`` and served."""
    return {"id": plan.id, "asset_kind": plan.asset_kind, "skill": plan.skill,
            "category": plan.category, "release_days_ahead": plan.release_days_ahead,
            "sla_resolve_s": plan.sla_resolve_s, "start": plan.start.isoformat(),
            "tiers": [{"name": t.name, "zh": t.zh, "en": t.en, "every": t.every,
                       "checklist": list(t.checklist)} for t in plan.tiers]}


def asset_model(row: AssetRecord) -> Asset:
    """The ledger row as ``schedule`` sees it: the row id (unique everywhere) is its id."""
    return Asset(str(row.id), str(row.site_id), row.kind, row.make, row.model, row.serial,
                 row.install_date, row.warranty_until, row.contract, row.building)


@dataclass(frozen=True)
class AssetReport:
    visits: list[MaintenanceVisit]
    orders: list[WorkOrder]
    faults: int
    mtbf: timedelta | None
    mttr: timedelta | None
    sla_compliance: Any  # Decimal | None


async def asset_report(session: AsyncSession, row: AssetRecord, since: datetime,
                       until: datetime, tz: str = DEFAULT_TZ) -> AssetReport:
    """Its PM visits, its orders (PM and faults from its device) and the window's figures.

    A fault is a work order opened from an event of the asset's device: it started at the
    event (``cause_ts``) and ended when resolved. SLA compliance judges every order of the
    asset by its resolve deadline.
    """
    visits = list((await session.execute(select(MaintenanceVisit).where(
        MaintenanceVisit.asset_id == row.id).order_by(MaintenanceVisit.due_date))).scalars())
    from_device = (WorkOrder.site_id == row.site_id) & (WorkOrder.source_kind == "event") & (
        WorkOrder.source_device == row.device) if row.device else None
    pm = WorkOrder.id.in_([v.work_order_id for v in visits])
    query = select(WorkOrder).where(or_(pm, from_device) if from_device is not None else pm)
    orders = list((await session.execute(query.order_by(WorkOrder.id))).scalars())
    faults = [FaultRecord(str(row.id), o.cause_ts, o.resolved_at) for o in orders
              if o.source_kind == "event"]
    stats = asset_stats(asset_model(row), faults, since, until, tz)
    judged = [OrderRecord(o.opened_at, o.resolve_due, o.resolved_at, str(row.id))
              for o in orders if since <= o.cause_ts < until]
    return AssetReport(visits, orders, stats.faults, stats.mtbf, stats.mttr,
                       sla_compliance(judged, until))
