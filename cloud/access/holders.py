"""Who a holder id is, for the pages: ``resident-<id>``, ``staff:<name>`` or ``visitor-<id>``.

Cards, passes and door events carry the holder id the access dataset gives the edge; staff
read a person. A resident's name is personal data: a role without ``people.read`` gets it
masked the way the register masks it (``张**``), and a role with it has the view written to the
audit log (``cloud.records.mask.guard_people``), one row per request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.tables import AccessPass
from cloud.auth.audit import Actor
from cloud.db.models import Site
from cloud.records.mask import guard_people, mask_rows
from cloud.records.tables import Resident, Unit

RESIDENT = re.compile(r"^resident-([1-9][0-9]{0,9})$")
VISITOR = re.compile(r"^visitor-([1-9][0-9]{0,9})$")
STAFF_PREFIX = "staff:"
MAX_ID = 2**31 - 1


def is_holder_id(text: str) -> bool:
    """Whether ``text`` has the form of a holder id (the log's ``holder`` filter)."""
    m = RESIDENT.match(text) or VISITOR.match(text)
    if m is not None:
        return int(m.group(1)) <= MAX_ID
    return text.startswith(STAFF_PREFIX) and len(text) > len(STAFF_PREFIX)


def _resident_id(holder: str) -> int | None:
    m = RESIDENT.match(holder)
    return int(m.group(1)) if m is not None and int(m.group(1)) <= MAX_ID else None


def _pass_id(holder: str) -> int | None:
    m = VISITOR.match(holder)
    return int(m.group(1)) if m is not None and int(m.group(1)) <= MAX_ID else None


async def describe(session: AsyncSession, actor: Actor, site: Site, holders: Iterable[str | None],
                   *, now: datetime, reason: str, reveal: bool = True
                   ) -> dict[str, dict[str, Any]]:
    """holder id → ``{kind: resident|staff|visitor|unknown, name, unit}``.

    A visitor is named by the pass (``visitor-<pass id>``): the visitor's name and the host
    unit, masked like a resident's. ``name`` is None when it is not known (a resident or pass
    not of this site). ``reveal`` False masks the names for everyone (a screen that polls,
    such as the guard's door view, would otherwise audit a view every few seconds). The
    caller's session must commit (the audit row goes with it).
    """

    async def shown(entity: str, rows: list[dict[str, Any]]) -> None:
        if reveal:
            await guard_people(session, actor, entity, rows, ("name",), at=now, reason=reason)
        else:
            mask_rows(rows, ("name",))

    wanted = {h for h in holders if isinstance(h, str) and h}
    ids = {rid for h in wanted if (rid := _resident_id(h)) is not None}
    people: list[dict[str, Any]] = []
    if ids:
        rows = (await session.execute(
            select(Resident.id, Resident.name, Unit.code).join(Unit, Unit.id == Resident.unit_id)
            .where(Resident.site_id == site.id, Resident.id.in_(ids)))).all()
        people = [{"id": rid, "name": name, "unit": code, "site": site.slug}
                  for rid, name, code in rows]
        await shown("resident", people)
    by_id = {p["id"]: p for p in people}
    pass_ids = {pid for h in wanted if (pid := _pass_id(h)) is not None}
    visitors: list[dict[str, Any]] = []
    if pass_ids:
        rows = (await session.execute(
            select(AccessPass.id, AccessPass.visitor_name, Unit.code)
            .join(Unit, Unit.id == AccessPass.unit_id)
            .where(AccessPass.site_id == site.id, AccessPass.id.in_(pass_ids)))).all()
        visitors = [{"id": pid, "name": name, "unit": code, "site": site.slug}
                    for pid, name, code in rows]
        await shown("access_pass", visitors)
    by_pass = {v["id"]: v for v in visitors}
    out: dict[str, dict[str, Any]] = {}
    for h in wanted:
        rid = _resident_id(h)
        if rid is not None:
            p = by_id.get(rid)
            out[h] = {"kind": "resident", "name": p["name"] if p else None,
                      "unit": p["unit"] if p else None}
        elif (pid := _pass_id(h)) is not None:
            v = by_pass.get(pid)
            out[h] = {"kind": "visitor", "name": v["name"] if v else None,
                      "unit": v["unit"] if v else None}
        elif h.startswith(STAFF_PREFIX):
            out[h] = {"kind": "staff", "name": h[len(STAFF_PREFIX):], "unit": None}
        else:
            out[h] = {"kind": "unknown", "name": None, "unit": None}
    return out


async def residents_named(session: AsyncSession, site: Site, name: str) -> list[str]:
    """The holder ids of the site's residents called exactly ``name`` (the log's filter by a
    name, offered only to roles with ``people.read``)."""
    ids = (await session.scalars(select(Resident.id).where(
        Resident.site_id == site.id, Resident.name == name).limit(50))).all()
    return [f"resident-{i}" for i in ids]
