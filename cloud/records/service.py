"""Creating, changing and deleting register records, each with its audit row, and queries.

Each function works inside the caller's transaction: the change and its ``audit_log`` row
commit together or not at all. Vehicles and spaces are the parking dataset the edge decides
from, so their writes bump the site's dataset version first (``cloud.parking.dataset``), which
also serialises concurrent edits of one site's parking records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record, snapshot
from cloud.auth.tables import AuditEntry
from cloud.db.models import Site
from cloud.parking import dataset as ds
from cloud.parking.records import RecordError
from cloud.parking.tables import ParkingSpace, ParkingVehicle
from cloud.records import hooks
from cloud.records.fields import Field, parse_field
from cloud.records.kinds import (
    BUILDING_REF,
    BUILDINGS,
    COMPANIES,
    METERS,
    UNIT_REF,
    UNITS,
    Kind,
    Labels,
    check_register,
    input_of,
    parse_input,
    present,
)
from cloud.records.meter_registers import check_device_register
from cloud.records.tables import BillingMeter, Building, Resident, SiteCompany, Unit

MAX_ID = 2**31 - 1


def not_found(kind: Kind, row_id: object) -> RecordError:
    return RecordError("id", f"{kind.zh}不存在：{row_id}", f"no such {kind.en}: {row_id}",
                       code="not_found", status=404)


def zone(name: str, fallback: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def site_zone(site: Site | None, default: str) -> ZoneInfo:
    return zone((site.timezone if site is not None else None) or default, default)


async def visible_site(session: AsyncSession, actor: Actor, slug: Any,
                       field: str = "site") -> Site:
    """The site named ``slug``; 404 when it does not exist or the actor may not see it."""
    if not isinstance(slug, str) or not slug.strip():
        raise RecordError(field, "必填：小区标识", "required: the site slug")
    if len(slug) > 63 or any(ord(ch) < 32 for ch in slug):
        raise RecordError(field, "小区标识无效", "invalid site slug")
    site = (await session.scalars(select(Site).where(Site.slug == slug.strip()))).one_or_none()
    if site is None or not actor.may_see(site.id):
        raise RecordError(field, f"小区不存在：{slug[:63]}", f"no such site: {slug[:63]}",
                          code="not_found", status=404)
    return site


async def labels_for(session: AsyncSession, rows: Sequence[Any]) -> Labels:
    """Site slugs and building/unit codes of the ids these rows refer to (three queries)."""
    labels = Labels()
    site_ids = {r.site_id for r in rows if getattr(r, "site_id", None)}
    b_ids = {r.building_id for r in rows if getattr(r, "building_id", None)}
    u_ids = {r.unit_id for r in rows if getattr(r, "unit_id", None)}
    if site_ids:
        labels.sites = dict((await session.execute(
            select(Site.id, Site.slug).where(Site.id.in_(site_ids)))).all())
    if b_ids:
        labels.buildings = dict((await session.execute(
            select(Building.id, Building.code).where(Building.id.in_(b_ids)))).all())
    if u_ids:
        labels.units = dict((await session.execute(
            select(Unit.id, Unit.code).where(Unit.id.in_(u_ids)))).all())
    return labels


async def building_id(session: AsyncSession, site_id: int, code: str,
                      field: str = BUILDING_REF) -> int:
    found = (await session.scalars(select(Building.id).where(
        Building.site_id == site_id, Building.code == code))).first()
    if found is None:
        raise RecordError(field, f"楼栋不存在：{code}（先建楼栋）",
                          f"unknown building: {code} (create it first)")
    return int(found)


async def unit_id(session: AsyncSession, site_id: int, code: str, field: str = UNIT_REF) -> int:
    found = (await session.scalars(select(Unit.id).where(
        Unit.site_id == site_id, Unit.code == code))).first()
    if found is None:
        raise RecordError(field, f"房屋不存在：{code}（先导入房屋）",
                          f"unknown unit: {code} (create the unit first)")
    return int(found)


async def resolve(session: AsyncSession, kind: Kind, site_id: int | None,
                  values: Mapping[str, Any]) -> dict[str, Any]:
    """Model attributes from parsed input: building and unit codes become ids."""
    attrs: dict[str, Any] = dict(kind.fixed)
    for f in kind.fields:
        value = values[f.key]
        if f.key == BUILDING_REF:
            assert site_id is not None
            attrs["building_id"] = (None if value is None
                                    else await building_id(session, site_id, value))
        elif f.key == UNIT_REF:
            assert site_id is not None
            uid = None if value is None else await unit_id(session, site_id, value)
            if kind.parking:
                attrs[f.name] = value
            else:
                attrs["unit_id"] = uid
        else:
            attrs[f.name] = value
    return attrs


def _key_where(kind: Kind, attrs: Mapping[str, Any]) -> list[Any]:
    m = kind.model
    conds = []
    for a in kind.key:
        col = getattr(m, a)
        conds.append(col.is_(None) if attrs.get(a) is None else col == attrs[a])
    if kind is METERS:
        conds.append(BillingMeter.removed_at.is_(None))
    return conds


async def check_unique(session: AsyncSession, kind: Kind, site_id: int | None,
                       attrs: Mapping[str, Any], exclude_id: int | None = None) -> None:
    """409 naming the first key field when another row has the same natural key."""
    m = kind.model
    query = select(m.id).where(*_key_where(kind, attrs))
    if kind.site_scoped:
        query = query.where(m.site_id == site_id)
    if exclude_id is not None:
        query = query.where(m.id != exclude_id)
    other = (await session.scalars(query.limit(1))).first()
    if other is not None:
        key_field = next((f.key for f in kind.fields if f.name == kind.key[0]
                          or (kind.key[0] == "unit_id" and f.key == UNIT_REF)), kind.key[0])
        raise RecordError(key_field, f"{kind.zh}已存在（id {other}），请修改它而不是重复创建",
                          f"this {kind.en} already exists (id {other}); update it instead",
                          code="duplicate", status=409, existing_id=int(other))


@dataclass
class Change:
    row: Any
    site: Site | None
    #: The parking dataset version this change made (vehicles, spaces), else None.
    version: int | None = None
    #: Other datasets the change bumped through a hook (``cloud.records.hooks``).
    announce: list[tuple[str, int]] = field(default_factory=list)


async def _bump(session: AsyncSession, kind: Kind, site: Site | None, now: datetime
                ) -> int | None:
    if kind.parking and site is not None:
        return await ds.bump_version(session, site.id, now)
    return None


async def create(session: AsyncSession, kind: Kind, data: Mapping[str, Any], *, actor: Actor,
                 now: datetime, default_tz: str) -> Change:
    site = None
    if kind.site_scoped:
        site = await visible_site(session, actor, data.get("site"))
    version = await _bump(session, kind, site, now)
    values = parse_input(kind, data, site_zone(site, default_tz))
    site_id = site.id if site is not None else None
    attrs = await resolve(session, kind, site_id, values)
    await check_unique(session, kind, site_id, attrs)
    if kind is METERS:
        await check_device_register(session, site_id, attrs["device_key"], attrs["register"])
    row = kind.model(**attrs, created_at=now, updated_at=now)
    if site_id is not None:
        row.site_id = site_id
    session.add(row)
    await session.flush()
    record(session, at=now, actor=actor, action="create", entity=kind.entity,
           entity_id=row.id, site_id=site_id, after=snapshot(row, kind.audited))
    return Change(row, site, version)


async def get_row(session: AsyncSession, kind: Kind, row_id: int, actor: Actor) -> Any:
    """The row, 404 when absent, of another kind (an owner asked as a tenant) or unseen site."""
    m = kind.model
    row = await session.get(m, row_id) if 0 < row_id <= MAX_ID else None
    if row is None or any(getattr(row, k) != v for k, v in kind.fixed.items()):
        raise not_found(kind, row_id)
    if kind.site_scoped and not actor.may_see(row.site_id):
        raise not_found(kind, row_id)
    if not kind.site_scoped and actor.sites is not None:
        runs = set((await session.scalars(select(SiteCompany.site_id).where(
            SiteCompany.company_id == row.id))).all())
        if not runs & actor.sites:
            raise not_found(kind, row_id)
    return row


async def site_of(session: AsyncSession, row: Any) -> Site | None:
    site_id = getattr(row, "site_id", None)
    return None if site_id is None else await session.get(Site, site_id)


async def update(session: AsyncSession, kind: Kind, row: Any, patch: Mapping[str, Any], *,
                 actor: Actor, now: datetime, default_tz: str) -> Change:
    """A partial update: the fields given replace the row's, then the whole is checked."""
    site = await site_of(session, row)
    if "site" in patch and site is not None and patch["site"] != site.slug:
        raise RecordError("site", "不能修改所属小区（删除后在另一小区重建）",
                          "the site cannot be changed (delete and create it there)")
    version = await _bump(session, kind, site, now)
    tz = site_zone(site, default_tz)
    current = input_of(kind, present(kind, row, await labels_for(session, [row]), tz))
    merged = current | {k: v for k, v in patch.items() if k != "site"}
    values = parse_input(kind, merged, tz)
    site_id = site.id if site is not None else None
    attrs = await resolve(session, kind, site_id, values)
    await check_unique(session, kind, site_id, attrs, exclude_id=row.id)
    if kind is METERS:
        await check_device_register(session, site_id, attrs["device_key"], attrs["register"])
    before = snapshot(row, kind.audited)
    moving_out = isinstance(row, Resident) and row.move_out is None
    for k, v in attrs.items():
        setattr(row, k, v)
    after = snapshot(row, kind.audited)
    announce: list[tuple[str, int]] = []
    if before != after:
        row.updated_at = now
        await session.flush()
        record(session, at=now, actor=actor, action="update", entity=kind.entity,
               entity_id=row.id, site_id=site_id, before=before, after=after)
        if moving_out and row.move_out is not None:
            for hook in hooks.MOVE_OUT:
                announce += await hook(session, row, now, actor)
    return Change(row, site, version, announce)


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int((await session.execute(query)).scalar_one())


async def dependants(session: AsyncSession, kind: Kind, row: Any) -> dict[str, int]:
    """What still refers to the row (non-zero counts only)."""
    counts: dict[str, int] = {}
    if kind is BUILDINGS:
        counts["units"] = await _count(session, select(func.count()).where(
            Unit.building_id == row.id))
        counts["meters"] = await _count(session, select(func.count()).where(
            BillingMeter.building_id == row.id))
    elif kind is UNITS:
        counts["residents"] = await _count(session, select(func.count()).where(
            Resident.unit_id == row.id))
        counts["meters"] = await _count(session, select(func.count()).where(
            BillingMeter.unit_id == row.id))
        counts["vehicles"] = await _count(session, select(func.count()).where(
            ParkingVehicle.site_id == row.site_id, ParkingVehicle.unit_ref == row.code))
        counts["spaces"] = await _count(session, select(func.count()).where(
            ParkingSpace.site_id == row.site_id, ParkingSpace.unit_ref == row.code))
    elif kind is COMPANIES:
        counts["sites"] = await _count(session, select(func.count()).where(
            SiteCompany.company_id == row.id))
    return {k: v for k, v in counts.items() if v}


_DEP_ZH = {"units": "房屋", "meters": "计费表", "residents": "业主/租户", "vehicles": "车辆",
           "spaces": "车位", "sites": "小区"}


async def delete(session: AsyncSession, kind: Kind, row: Any, *, actor: Actor,
                 now: datetime) -> Change:
    """Delete the row, or 409 naming what still depends on it."""
    site = await site_of(session, row)
    version = await _bump(session, kind, site, now)
    deps = await dependants(session, kind, row)
    if deps:
        zh = "、".join(f"{_DEP_ZH[k]} {n} 条" for k, n in deps.items())
        en = ", ".join(f"{n} {k}" for k, n in deps.items())
        raise RecordError("id", f"不能删除：仍有 {zh} 引用此{kind.zh}",
                          f"cannot delete: {en} still refer to this {kind.en}",
                          code="has_dependants", status=409, dependants=deps)
    before = snapshot(row, kind.audited)
    await session.delete(row)
    await session.flush()
    record(session, at=now, actor=actor, action="delete", entity=kind.entity, entity_id=row.id,
           site_id=getattr(row, "site_id", None), before=before)
    return Change(row, site, version)


# --- queries ------------------------------------------------------------------------------


def scoped(query: Select[Any], kind: Kind, actor: Actor) -> Select[Any]:
    m = kind.model
    for k, v in kind.fixed.items():
        query = query.where(getattr(m, k) == v)
    if kind.site_scoped and actor.sites is not None:
        query = query.where(m.site_id.in_(actor.sites))
    if not kind.site_scoped and actor.sites is not None:
        query = query.where(m.id.in_(select(SiteCompany.company_id).where(
            SiteCompany.site_id.in_(actor.sites))))
    return query


def like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_match(column: Any, text: str) -> Any:
    return column.like(like(text), escape="\\")


async def history(session: AsyncSession, kind: Kind, row_id: int, after_id: int,
                  limit: int) -> list[AuditEntry]:
    return list((await session.scalars(select(AuditEntry).where(
        AuditEntry.entity == kind.entity, AuditEntry.entity_id == str(row_id),
        AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit))).all())


# --- meter replacement --------------------------------------------------------------------

_FINAL = Field("final_reading", "最终读数", "final reading", "quantity", required=True, lo=0)
_AT = Field("at", "更换时间", "replacement time", "moment", required=True)
_NEW_CODE = Field("code", "新表号", "new meter code", required=True, max_len=64)
_NEW_INITIAL = Field("initial_reading", "新表初始读数", "new meter's initial reading",
                     "quantity", required=True, lo=0)
_CARRY = ("device_key", "register", "multiplier", "rollover_at")
REPLACE_FIELDS = ("final_reading", "at", "code", "initial_reading", *_CARRY)


async def replace_meter(session: AsyncSession, old: BillingMeter, body: Mapping[str, Any], *,
                        actor: Actor, now: datetime, default_tz: str) -> BillingMeter:
    """Close ``old`` with its final reading and open its successor, in the caller's
    transaction; the new meter keeps the old one's unit, utility and reader unless given."""
    for k in body:
        if k not in REPLACE_FIELDS:
            raise RecordError(str(k)[:40], f"未知字段；可用字段：{', '.join(REPLACE_FIELDS)}",
                              f"unknown field; expected one of {', '.join(REPLACE_FIELDS)}")
    if old.removed_at is not None:
        raise RecordError("id",
                          f"表 {old.code} 已于 {old.removed_at.isoformat()} 拆除，不能再次更换",
                          f"meter {old.code} was already removed at "
                          f"{old.removed_at.isoformat()}", code="already_removed", status=409)
    site = await site_of(session, old)
    tz = site_zone(site, default_tz)
    final = parse_field(_FINAL, body.get("final_reading"), tz)
    at = parse_field(_AT, body.get("at"), tz)
    code = parse_field(_NEW_CODE, body.get("code"), tz)
    initial = parse_field(_NEW_INITIAL, body.get("initial_reading"), tz)
    if at <= old.installed_at:
        raise RecordError("at", "更换时间须晚于旧表安装时间",
                          "the replacement time must be after the old meter was installed")
    if at > now:
        raise RecordError("at", "更换时间不能在将来", "the replacement time must not be in "
                                                     "the future")
    if final < old.initial_reading and old.rollover_at is None:
        raise RecordError("final_reading", f"最终读数小于旧表初始读数 {old.initial_reading}",
                          f"the final reading is below the old meter's initial reading "
                          f"{old.initial_reading}")
    if old.rollover_at is not None and final >= old.rollover_at:
        raise RecordError("final_reading", "最终读数须小于翻转值",
                          "the final reading must be below rollover_at")
    carried: dict[str, Any] = {}
    for key in _CARRY:
        f = METERS.by_key(key)
        carried[key] = (parse_field(f, body[key], tz) if key in body
                        else getattr(old, key))
    if carried["multiplier"] is None:
        carried["multiplier"] = Decimal(1)
    check_register(old.utility, carried["register"])
    await check_device_register(session, old.site_id, carried["device_key"], carried["register"])
    before = snapshot(old, METERS.audited)
    old.removed_at, old.final_reading, old.updated_at = at, final, now
    new = BillingMeter(site_id=old.site_id, code=code, utility=old.utility, scope=old.scope,
                       unit_id=old.unit_id, building_id=old.building_id, installed_at=at,
                       initial_reading=initial, replaces_id=old.id, created_at=now,
                       updated_at=now, **carried)
    await session.flush()
    await check_unique(session, METERS, old.site_id, {"code": code})
    session.add(new)
    await session.flush()
    record(session, at=now, actor=actor, action="replace", entity=METERS.entity,
           entity_id=old.id, site_id=old.site_id, before=before,
           after=snapshot(old, METERS.audited), detail={"replaced_by": new.id})
    record(session, at=now, actor=actor, action="create", entity=METERS.entity,
           entity_id=new.id, site_id=old.site_id, after=snapshot(new, METERS.audited),
           detail={"replaces": old.id})
    return new


def search(query: Select[Any], columns: Sequence[Any], q: str | None) -> Select[Any]:
    if not q:
        return query
    return query.where(or_(*(text_match(c, q) for c in columns)))
