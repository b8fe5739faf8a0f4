"""Who acts on a work order, and in which role: always the logged-in principal.

The role an action is done in (``states.ROLES``) is derived, never read from the request:
the principal's staff role gives the roles it may act in (``states.STAFF_ACTS_AS``), and its
relation to the order adds or narrows them:

- a technician login is linked to the technician record of the same name (its display
  name); it may grab only for itself and do the technician's steps only on orders it is
  assigned to, and it names only itself on labour lines;
- whoever filed the order (the principal of its ``create`` audit row) is its requester,
  unless they are also on it as its technician (the fix is verified by someone else).

A request naming someone (``by``) or a role (``role``) is refused with a field error, so a
client that still sends them learns it at once instead of being silently re-labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor
from cloud.auth.tables import AuditEntry
from cloud.workorders.service import InvalidField
from cloud.workorders.states import STAFF_ACTS_AS, TRANSITIONS
from cloud.workorders.tables import Technician, WorkOrder

#: Body fields that used to name the actor; refused now (the login is the actor).
ACTOR_FIELDS = ("by", "role")
#: Technician steps a technician login may take on orders it is not (yet) assigned to.
UNASSIGNED_STEPS = frozenset({"grab"})


class NotPermitted(Exception):
    """The principal may not do this action on this order (HTTP 403), saying why."""

    def __init__(self, zh: str, en: str, field: str | None = None) -> None:
        super().__init__(en)
        self.zh, self.en, self.field = zh, en, field


@dataclass(frozen=True)
class Acting:
    """The lifecycle role an action is done in, and the name its history row shows."""

    role: str
    by: str
    fields: dict[str, Any]


def refuse_actor_fields(body: dict[str, Any]) -> str | None:
    """The first body field that names an actor or a role, if any."""
    return next((f for f in ACTOR_FIELDS if f in body), None)


async def own_technician(session: AsyncSession, actor: Actor) -> Technician | None:
    """The active technician record a login acts as (same name), or None."""
    return (await session.scalars(select(Technician).where(
        Technician.name == actor.name, Technician.active.is_(True)))).one_or_none()


async def filed_by(session: AsyncSession, order_id: int) -> str | None:
    """The principal (``user:…``/``token:…``) that filed the order through the console."""
    return (await session.scalars(select(AuditEntry.actor).where(
        AuditEntry.entity == "work_order", AuditEntry.entity_id == str(order_id),
        AuditEntry.action == "create").order_by(AuditEntry.id).limit(1))).first()


async def check_site_technicians(session: AsyncSession, order: WorkOrder,
                                 fields: dict[str, Any]) -> None:
    """Technicians named by an action must serve the order's site: another community's
    technician is refused as if unknown (their id reveals nothing, and they get no work)."""
    for name in ("assignee_ids", "technician_id"):
        value = fields.get(name)
        ids = value if isinstance(value, list) else [value] if value is not None else []
        wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
        if not wanted:
            continue
        serving = {t.id for t in (await session.scalars(select(Technician).where(
            Technician.id.in_(sorted(wanted))))).all() if order.site_id in (t.site_ids or [])}
        if wanted - serving:
            raise InvalidField(name, f"技工不存在或不服务此小区：{sorted(wanted - serving)}",
                               "no such technician serving this site: "
                               f"{sorted(wanted - serving)}")


async def acting_as(session: AsyncSession, actor: Actor, order: WorkOrder, action: str,
                    fields: dict[str, Any]) -> Acting:
    """The role the principal does ``action`` in, or NotPermitted naming who may."""
    t = TRANSITIONS[action]
    held = list(STAFF_ACTS_AS.get(actor.role, ()))
    restricted_tech = actor.role == "technician"  # admins act for anyone, recorded as admins
    own = await own_technician(session, actor) if "technician" in held else None
    on_order = own is not None and own.id in (order.assignee_ids or [])
    if "requester" not in held and not on_order and await filed_by(session, order.id) == actor.ref:
        held.append("requester")
    fields = dict(fields)
    for role in t.roles:
        if role not in held:
            continue
        if role == "technician" and restricted_tech:
            if own is None:
                raise NotPermitted(
                    f"当前登录（{actor.name}）没有对应的技工档案（技工姓名须与显示名一致）",
                    f"your login ({actor.name}) is not linked to a technician record (the "
                    "technician's name must equal your display name)")
            if action not in UNASSIGNED_STEPS and not on_order:
                raise NotPermitted("该工单未派给你", "this work order is not assigned to you",
                                   "id")
            named = fields.get("technician_id")
            if named is None and action in ("grab", "log_work"):
                fields["technician_id"] = own.id
            elif named is not None and named != own.id:
                raise NotPermitted("只能以本人身份登记（technician_id 须为你自己的）",
                                   "you can act only as yourself (technician_id must be yours)",
                                   "technician_id")
        await check_site_technicians(session, order, fields)
        return Acting(role, actor.name[:64], fields)
    raise NotPermitted(
        f"“{t.zh}”只能由 {', '.join(t.roles)} 执行；当前登录可作为："
        f"{', '.join(held) or '无'}",
        f"{action} may be done by {', '.join(t.roles)} only; your login acts as: "
        f"{', '.join(held) or 'none'}", "role")
