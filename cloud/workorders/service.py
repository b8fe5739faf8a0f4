"""Opening (or folding into) work orders, dispatching them, people's actions, SLA checks.

Every function works inside the caller's transaction and takes ``now`` from an injected
clock. State changes are conditional UPDATEs (``WHERE state = <the state checked>``), so two
people acting at once cannot both win, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Site
from cloud.lifecycle import TransitionRefused as TransitionRefused  # raised by act()
from cloud.workorders import dispatch
from cloud.workorders.states import LIFECYCLE, OPEN_STATES, PRIORITIES, ROLES, TRANSITIONS
from cloud.workorders.tables import Technician, WorkOrder, WorkOrderAction, WorkOrderLine

DEFAULT_TZ = "Asia/Shanghai"
SUPERVISOR = "supervisor"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Source:
    """Where an order comes from: a device event, a person's request, or a PM plan."""

    kind: str  # event | request | plan
    device: str | None = None
    event_uuid: str | None = None
    request_id: str | None = None
    requested_by: str | None = None


@dataclass(frozen=True)
class Escalation:
    order_id: int
    clock: str  # response | resolve
    due: datetime


class OrderNotFound(LookupError):
    pass


class InvalidField(ValueError):
    """An action's input is wrong (HTTP 400), naming the field."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field = field
        self.zh = zh
        self.en = en


class DuplicateRequest(Exception):
    """A request id already used at the site (HTTP 409): the form was sent twice."""

    def __init__(self, order: WorkOrder) -> None:
        super().__init__(f"request already filed as work order {order.id}")
        # Plain values: the transaction is rolled back (and the row expired) before a
        # caller reports them.
        self.order_id = order.id
        self.state = order.state


class FoldConflict(Exception):
    """Reopening would make a second open order for the same fault (HTTP 409)."""

    def __init__(self, other_id: int) -> None:
        super().__init__(f"work order {other_id} is already open for this fault")
        self.other_id = other_id


async def site_zone(session: AsyncSession, site_id: int) -> ZoneInfo:
    name = (await session.execute(select(Site.timezone).where(Site.id == site_id))).scalar()
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (KeyError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def record(session: AsyncSession, order_id: int, action: str, by: str | None, now: datetime,
            *, before: str | None = None, after: str | None = None, note: str | None = None,
            detail: dict[str, Any] | None = None) -> None:
    """One history row (who, when, what, from → to): every change of an order leaves one."""
    session.add(WorkOrderAction(order_id=order_id, action=action, from_state=before,
                                to_state=after, by=by, at=now, note=note, detail=detail))


async def _open_order(session: AsyncSession, site_id: int, fold_key: str) -> WorkOrder | None:
    query = select(WorkOrder).where(WorkOrder.site_id == site_id,
                                    WorkOrder.fold_key == fold_key,
                                    WorkOrder.state.in_(OPEN_STATES))
    return (await session.execute(query.with_for_update())).scalar_one_or_none()


async def _refuse_duplicate(session: AsyncSession, site_id: int, request_id: str) -> None:
    same = (await session.execute(select(WorkOrder).where(
        WorkOrder.site_id == site_id, WorkOrder.request_id == request_id))).scalar()
    if same is not None:
        raise DuplicateRequest(same)


async def open_or_fold(session: AsyncSession, *, site_id: int, fold_key: str, category: str,
                       priority: str, sla_response_s: int, sla_resolve_s: int,
                       skill: str | None, title: tuple[str, str], cause_ts: datetime,
                       source: Source, now: datetime,
                       description: str = "") -> tuple[WorkOrder, bool]:
    """The open order for this fault with one more repeat, or a new one in ``pool``.

    SLA deadlines run from ``cause_ts`` (when the device saw it), so an event delivered
    late by a gateway that was offline is not given extra time."""
    if priority not in PRIORITIES:
        raise InvalidField("priority", f"优先级须为 {'/'.join(PRIORITIES)}",
                           f"priority must be one of {', '.join(PRIORITIES)}")
    if source.request_id is not None:
        await _refuse_duplicate(session, site_id, source.request_id)
    for _ in range(2):
        existing = await _open_order(session, site_id, fold_key)
        if existing is not None:
            existing.count += 1
            existing.last_event_ts = max(existing.last_event_ts, cause_ts)
            existing.updated_at = now
            await session.flush()
            return existing, True
        order = WorkOrder(
            site_id=site_id, category=category, priority=priority, state="pool",
            title_zh=title[0], title_en=title[1], description=description,
            source_kind=source.kind, source_device=source.device,
            source_event_uuid=source.event_uuid, request_id=source.request_id,
            requested_by=source.requested_by, fold_key=fold_key, count=1,
            last_event_ts=cause_ts, opened_at=now, cause_ts=cause_ts,
            response_due=cause_ts + timedelta(seconds=sla_response_s),
            resolve_due=cause_ts + timedelta(seconds=sla_resolve_s),
            skill=skill, assignee_ids=[], updated_at=now)
        try:
            async with session.begin_nested():
                session.add(order)
                await session.flush()
        except IntegrityError:
            if source.request_id is not None:
                await _refuse_duplicate(session, site_id, source.request_id)
            continue  # another writer opened it first: fold into theirs
        order.number = f"WO-{cause_ts:%Y%m%d}-{order.id:06d}"
        record(session, order.id, "opened", source.requested_by or "system", now,
                after="pool", detail={"source": source.kind, "device": source.device,
                                      "event_uuid": source.event_uuid})
        await session.flush()
        return order, False
    raise RuntimeError("work order fold race did not settle")


async def auto_assign(session: AsyncSession, order: WorkOrder, now: datetime, *,
                      round_robin: bool = False) -> Technician | None:
    """Dispatch a pooled order; ``None`` (and it stays in ``pool`` to be grabbed or assigned
    by hand) when nobody qualified is on duty."""
    if order.state != "pool":
        return None
    tz = await site_zone(session, order.site_id)
    techs = await dispatch.candidates(session, site_id=order.site_id, skill=order.skill,
                                      now=now, tz=tz)
    chosen = dispatch.choose(techs, await dispatch.open_loads(session), round_robin)
    if chosen is None:
        return None
    await act(session, order.id, "assign", "system", None, now, role="system",
              assignee_ids=[chosen.id])
    return chosen


# --- actions ------------------------------------------------------------------------------------


async def _technicians(session: AsyncSession, ids: Any, field: str) -> list[Technician]:
    if (not isinstance(ids, list) or not ids
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):
        raise InvalidField(field, "须为技工 id 的非空列表", "must be a non-empty list of "
                                                          "technician ids")
    techs = (await session.execute(
        select(Technician).where(Technician.id.in_(ids), Technician.active.is_(True))
    )).scalars().all()
    missing = sorted(set(ids) - {t.id for t in techs})
    if missing:
        raise InvalidField(field, f"技工不存在或已停用：{missing}",
                           f"no such active technician: {missing}")
    return list(techs)


def _decimal(fields: dict[str, Any], name: str, default: str | None = None) -> Decimal:
    raw = fields.get(name, default)
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise InvalidField(name, "须为十进制数（字符串）", "must be a decimal number") from None
    if raw is None or isinstance(raw, (bool, float)) or not value.is_finite() or value < 0:
        raise InvalidField(name, "须为非负的十进制数字符串，例如 \"1.5\"",
                           "must be a non-negative decimal string, e.g. \"1.5\"")
    return value


async def _log_work(session: AsyncSession, order: WorkOrder, by: str, now: datetime,
                    fields: dict[str, Any]) -> None:
    tech_id = fields.get("technician_id")
    if "hours" in fields:
        hours = _decimal(fields, "hours")
        rate = _decimal(fields, "rate", "0")
        session.add(WorkOrderLine(order_id=order.id, kind="labour", technician_id=tech_id,
                                  hours=hours, qty=hours, unit_price=rate,
                                  cost=(hours * rate).quantize(CENT), by=by, at=now))
    if "part" in fields:
        part = fields["part"]
        if not isinstance(part, str) or not part.strip() or len(part) > 128:
            raise InvalidField("part", "备件名称须为 1–128 字的文本",
                               "part must be a name of 1–128 characters")
        qty = _decimal(fields, "qty", "1")
        price = _decimal(fields, "unit_price")
        session.add(WorkOrderLine(order_id=order.id, kind="part", technician_id=tech_id,
                                  part=part.strip(), qty=qty, unit_price=price,
                                  cost=(qty * price).quantize(CENT), by=by, at=now))
    if "hours" not in fields and "part" not in fields:
        raise InvalidField("hours", "须登记工时（hours）或备件（part）",
                           "give hours (labour) or part (a part used)")


async def _values(session: AsyncSession, order: WorkOrder, action: str, by: str,
                  note: str | None, now: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    """Column changes an action makes besides the state (validating its fields)."""
    values: dict[str, Any] = {"updated_at": now}
    if action in ("assign", "transfer"):
        ids = fields.get("assignee_ids")
        techs = await _technicians(session, ids, "assignee_ids")
        values["assignee_ids"] = list(dict.fromkeys(ids or []))  # as given: lead first
        for t in techs:
            t.last_assigned_at = now
    elif action == "grab":
        tech = (await _technicians(session, [fields.get("technician_id")],
                                   "technician_id"))[0]
        if order.skill and order.skill not in (tech.skills or []):
            # Dispatch only offers an order to those with its skill; grabbing is no way round.
            raise InvalidField("technician_id",
                               f"{tech.name} 不具备此工单所需技能 {order.skill}，请由主管派单",
                               f"{tech.name} lacks the skill this order needs "
                               f"({order.skill}); a supervisor can assign it")
        values["assignee_ids"] = [tech.id]
        tech.last_assigned_at = now
    if action in ("grab", "accept", "start") and order.responded_at is None:
        values["responded_at"] = now
    if action == "complete":
        values["resolved_at"] = now
    elif action == "close":
        values |= {"closed_at": now, "rating_requested_at": now}
    elif action == "reopen":
        values |= {"resolved_at": None, "closed_at": None, "rating_requested_at": None}
    elif action == "rate":
        rating = fields.get("rating")
        if order.rating is not None:
            raise InvalidField("rating", "该工单已评价", "this work order is already rated")
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise InvalidField("rating", "评分须为 1–5 的整数",
                               "rating must be an integer from 1 to 5")
        values |= {"rating": rating, "rating_note": note}
    elif action == "return_visit":
        values["return_visit_note"] = note
    elif action == "log_work":
        await _log_work(session, order, by, now, fields)
    return values


async def act(session: AsyncSession, order_id: int, action: str, by: str,
              note: str | None, now: datetime, *, role: str | None = None,
              **fields: Any) -> WorkOrder:
    """Apply ``action`` as the transition table says; the order after it.

    ``role`` (when known) must be one the table allows. Raises ``OrderNotFound``,
    ``TransitionRefused`` (naming the state and what is allowed), ``InvalidField`` or
    ``FoldConflict``."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise InvalidField("action", f"未知操作，可选：{', '.join(TRANSITIONS)}",
                           f"unknown action; one of {', '.join(TRANSITIONS)}")
    if role is not None and role not in t.roles:
        raise InvalidField("role", f"“{t.zh}”只能由 {', '.join(t.roles)} 执行",
                           f"{action} may be done by {', '.join(t.roles)} only"
                           + ("" if role in ROLES else f" (unknown role {role!r})"))
    if t.note_required and not note:
        raise InvalidField("note", f"“{t.zh}”须填写说明", f"a note is required to {action}")
    order = await session.get(WorkOrder, order_id, populate_existing=True)
    if order is None:
        raise OrderNotFound(order_id)
    before = order.state
    LIFECYCLE.check(action, before)
    values = await _values(session, order, action, by, note, now, fields)
    after = t.after(before)
    values["state"] = after
    try:
        async with session.begin_nested():
            done = await session.execute(
                update(WorkOrder).where(WorkOrder.id == order_id, WorkOrder.state == before)
                .values(**values).execution_options(synchronize_session=False))
    except IntegrityError:
        other = await _open_order(session, order.site_id, order.fold_key)
        raise FoldConflict(other.id if other else 0) from None
    if getattr(done, "rowcount", 0) != 1:
        await session.refresh(order)
        raise LIFECYCLE.refused(action, order.state)
    detail = {k: v for k, v in fields.items() if v is not None} or None
    record(session, order_id, action, by, now, before=before, after=after, note=note,
            detail=detail)
    if action == "close":
        record(session, order_id, "rating_requested", "system", now,
                note="已邀请报修人评价 / the requester was asked to rate the work")
    await session.flush()
    await session.refresh(order)
    return order


# --- SLA ----------------------------------------------------------------------------------------


async def check_sla(session: AsyncSession, now: datetime) -> list[Escalation]:
    """Mark every open order past a deadline as breached and escalate it to the supervisor
    (once per clock); what was escalated."""
    late_response = and_(WorkOrder.response_breached.is_(False),
                         WorkOrder.responded_at.is_(None), WorkOrder.response_due <= now)
    late_resolve = and_(WorkOrder.resolve_breached.is_(False),
                        WorkOrder.resolved_at.is_(None), WorkOrder.resolve_due <= now)
    orders = (await session.execute(
        select(WorkOrder).where(WorkOrder.state.in_(OPEN_STATES),
                                or_(late_response, late_resolve)).order_by(WorkOrder.id)
    )).scalars().all()
    out: list[Escalation] = []
    for order in orders:
        for clock, flag, due, done_at in (
                ("response", "response_breached", order.response_due, order.responded_at),
                ("resolve", "resolve_breached", order.resolve_due, order.resolved_at)):
            if getattr(order, flag) or done_at is not None or due > now:
                continue
            column = getattr(WorkOrder, flag)
            won = await session.execute(
                update(WorkOrder).where(WorkOrder.id == order.id, column.is_(False))
                .values({flag: True, "updated_at": now})
                .execution_options(synchronize_session=False))
            if getattr(won, "rowcount", 0) != 1:
                continue
            what = "响应" if clock == "response" else "完成"
            record(session, order.id, "escalated", "system", now, before=order.state,
                    after=order.state,
                    note=f"{what}超时，已通知主管 / {clock} SLA breached, supervisor notified",
                    detail={"role": SUPERVISOR, "clock": clock, "due": due.isoformat()})
            out.append(Escalation(order.id, clock, due))
    await session.flush()
    return out
