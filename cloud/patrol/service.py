"""Lookups for patrol edits and the site's ``patrol`` dataset document.

Writes run inside the caller's transaction right after the ``patrol`` version bump, which
also serialises the edits of one site, so "one active tag per key" and "the route's
checkpoints exist" cannot race. The document is a pure function of the version: sorted, only
active entries, a plan only while its route is active, no timestamps of its own.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.roles import allows
from cloud.auth.tables import StaffUser
from cloud.parking.dataset import current_version
from cloud.patrol.tables import (
    PATROL_DATASET,
    PatrolCheckpoint,
    PatrolPlan,
    PatrolRoute,
    PatrolTag,
)
from cloud.patrol.validate import Invalid
from contract.patrol import CheckpointEntry, PatrolDocument, PlanEntry, RouteEntry, TagEntry

CONSISTENT_READ_ATTEMPTS = 5

Coded = PatrolCheckpoint | PatrolRoute | PatrolPlan


R = TypeVar("R", PatrolCheckpoint, PatrolRoute, PatrolPlan)


async def by_code(session: AsyncSession, table: type[R], site_id: int, code: str) -> R | None:
    return (await session.scalars(select(table).where(
        table.site_id == site_id, table.code == code))).first()


async def active_checkpoints(session: AsyncSession, site_id: int, codes: list[str]) -> None:
    """Refuse (naming the route point) a checkpoint that is not an active one of the site."""
    found = set((await session.scalars(select(PatrolCheckpoint.code).where(
        PatrolCheckpoint.site_id == site_id, PatrolCheckpoint.code.in_(codes),
        PatrolCheckpoint.active.is_(True)))).all())
    for i, code in enumerate(codes):
        if code not in found:
            raise Invalid(f"points[{i}].checkpoint", f"没有启用的巡更点 {code}",
                          f"no active checkpoint {code}")


async def route_in_use(session: AsyncSession, site_id: int, checkpoint: str) -> str | None:
    """The code of an active route through ``checkpoint`` (a checkpoint on one stays active)."""
    routes = (await session.scalars(select(PatrolRoute).where(
        PatrolRoute.site_id == site_id, PatrolRoute.active.is_(True)))).all()
    return next((r.code for r in routes
                 if any(p["checkpoint"] == checkpoint for p in r.points)), None)


async def guard_login(session: AsyncSession, site_id: int, raw: Any,
                      field: str = "guard") -> str:
    """A staff login name of an active account serving the site (the tag's holder)."""
    if not isinstance(raw, str) or not 0 < len(raw.strip()) <= 64:
        raise Invalid(field, "须为保安的登录名", "must be the guard's login name")
    user = (await session.scalars(select(StaffUser).where(
        StaffUser.username == raw.strip()))).first()
    if (user is None or not user.active
            or (user.site_ids is not None and site_id not in user.site_ids)):
        raise Invalid(field, f"本小区没有登录名为 {raw.strip()} 的员工",
                      f"no staff login {raw.strip()!r} at this site")
    return user.username


async def active_tag(session: AsyncSession, site_id: int, key: str) -> PatrolTag | None:
    return (await session.scalars(select(PatrolTag).where(
        PatrolTag.site_id == site_id, PatrolTag.tag == key,
        PatrolTag.retired_at.is_(None)))).first()


def checkpoint_entry(c: PatrolCheckpoint) -> CheckpointEntry:
    return {"name": c.name, "building": c.building, "floor": c.floor, "area": c.area,
            "receiver": c.receiver, "qr": c.qr}


def route_entry(r: PatrolRoute) -> RouteEntry:
    return {"name": r.name, "ordered": r.ordered,
            "points": [{"checkpoint": p["checkpoint"], "offset_s": int(p["offset_s"])}
                       for p in r.points]}


def plan_entry(p: PatrolPlan) -> PlanEntry:
    return {"name": p.name, "route": p.route, "days": [int(d) for d in p.days],
            "start": p.start_time, "end": p.end_time, "every_s": p.every_s,
            "start_window_s": p.start_window_s, "tolerance_s": p.tolerance_s,
            "late_s": p.late_s, "tolerances": {k: int(v) for k, v in p.tolerances.items()},
            "escalate_s": p.escalate_s}


async def _contents(session: AsyncSession, site_id: int) -> PatrolDocument:
    def active(table: type[Coded]) -> Any:
        return select(table).where(table.site_id == site_id,
                                   table.active.is_(True)).order_by(table.code)

    checkpoints = (await session.scalars(active(PatrolCheckpoint))).all()
    routes = (await session.scalars(active(PatrolRoute))).all()
    plans = (await session.scalars(active(PatrolPlan))).all()
    tags = (await session.scalars(select(PatrolTag).where(
        PatrolTag.site_id == site_id, PatrolTag.retired_at.is_(None))
        .order_by(PatrolTag.tag))).all()
    route_codes = {r.code for r in routes}
    tag_doc: dict[str, TagEntry] = {t.tag: {"guard": t.guard, "label": t.label} for t in tags}
    return {"version": 0,
            "checkpoints": {c.code: checkpoint_entry(c) for c in checkpoints},
            "routes": {r.code: route_entry(r) for r in routes},
            "plans": {p.code: plan_entry(p) for p in plans if p.route in route_codes},
            "tags": tag_doc}


async def document(session: AsyncSession, site_id: int) -> PatrolDocument:
    """The site's ``contract.patrol.PatrolDocument``, consistent with its version (equal
    versions before and after the reads prove no write came in between)."""
    for _ in range(CONSISTENT_READ_ATTEMPTS):
        before = await current_version(session, site_id, PATROL_DATASET)
        doc = await _contents(session, site_id)
        if await current_version(session, site_id, PATROL_DATASET) == before:
            doc["version"] = before
            return doc
    raise RuntimeError("patrol dataset kept changing while it was read")


async def guard_names(session: AsyncSession, logins: set[str | None]) -> dict[str, str]:
    """login → display name, for the guards the pages list (a login no longer on file
    keeps its login)."""
    wanted = sorted(x for x in logins if x)
    if not wanted:
        return {}
    rows = (await session.execute(select(StaffUser.username, StaffUser.display_name).where(
        StaffUser.username.in_(wanted)))).all()
    return {u: d or u for u, d in rows}


async def site_guards(session: AsyncSession, site_id: int) -> list[StaffUser]:
    """Active staff serving the site who may carry a tag (their role records patrol scans):
    guards first, then by name."""
    rows = (await session.scalars(select(StaffUser).where(StaffUser.active.is_(True)))).all()
    mine = [u for u in rows if (u.site_ids is None or site_id in u.site_ids)
            and allows(u.role, "patrol.scan")]
    return sorted(mine, key=lambda u: (u.role != "guard", u.display_name, u.username))
