"""Importing a sheet into the register: check every row, then apply all or nothing.

A dry run (and any import with a bad row) lists every bad row with its sheet row number,
column header and reason, and changes nothing. A real import runs in one transaction. Rows are
matched to existing records by their natural key (unit code; resident unit + role + name +
phone; vehicle plate; space lot + code; meter code among meters in service), so importing the
same sheet twice changes nothing the second time: each row is counted as created, updated
(with its audit row, before and after) or unchanged.

The work is batched for large sheets: existing records are read with one query per kind,
inserts and updates go out in chunks of ``CHUNK`` rows, audit rows likewise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import Actor, jsonable
from cloud.auth.tables import AuditEntry
from cloud.db.models import Site
from cloud.imports.reader import Sheet
from cloud.parking import dataset as ds
from cloud.parking.records import RecordError
from cloud.records.fields import Field, parse_field
from cloud.records.kinds import BUILDING_REF, KINDS, METERS, UNIT_REF, UNITS, Kind
from cloud.records.service import site_zone, visible_site
from cloud.records.tables import Building, Unit

log = structlog.get_logger(__name__)

CHUNK = 1000
#: Over this many rows the console runs the import as a background job.
JOB_THRESHOLD = 2000

#: (phase, rows done, rows total): phase is "checking" or "applying".
Progress = Callable[[str, int, int], None]


@dataclass
class RowError:
    row: int
    column: str
    field: str | None
    zh: str
    en: str

    def json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "field": self.field,
                "message": f"{self.zh} / {self.en}", "zh": self.zh, "en": self.en}


@dataclass
class ImportResult:
    kind: str
    site: str
    dry_run: bool
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False
    #: The parking dataset version the import made (vehicles, spaces).
    version: int | None = None
    buildings_created: int = 0

    def json(self) -> dict[str, Any]:
        return {"kind": self.kind, "site": self.site, "dry_run": self.dry_run,
                "applied": self.applied, "rows_total": self.rows_total,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "buildings_created": self.buildings_created,
                "error_count": len(self.errors), "errors": [e.json() for e in self.errors],
                "version": self.version}


class _NothingApplied(Exception):
    """Leaves the transaction by rolling it back (dry run, or bad rows)."""


def _noop(phase: str, done: int, total: int) -> None:
    del phase, done, total


def map_columns(kind: Kind, headers: Sequence[str]) -> tuple[dict[int, Field], list[RowError]]:
    """Column index → field; unknown, repeated and missing required columns are row-1 errors."""
    names: dict[str, Field] = {}
    for f in kind.fields:
        for alias in (f.header, f.key, f.column or f.key, f.zh):
            names.setdefault(" ".join(alias.lower().split()), f)
    found: dict[int, Field] = {}
    errors: list[RowError] = []
    for i, header in enumerate(headers):
        norm = " ".join(header.lower().split())
        if not norm:
            continue
        match = names.get(norm)
        if match is None:
            expected = "、".join(x.header for x in kind.fields)
            errors.append(RowError(1, header, None, f"未知列；模板的列为：{expected}",
                                   f"unknown column; the template's columns are: "
                                   f"{', '.join(x.header for x in kind.fields)}"))
        elif match in found.values():
            errors.append(RowError(1, header, match.key, "重复的列", "repeated column"))
        else:
            found[i] = match
    for f in kind.fields:
        if f.required and f not in found.values():
            errors.append(RowError(1, f.header, f.key, "缺少必填列", "required column missing"))
    return found, errors


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)


def _error(number: int, f: Field | None, err: RecordError, kind: Kind) -> RowError:
    if f is None and err.field is not None:
        f = next((x for x in kind.fields if x.key == err.field), None)
    return RowError(number, f.header if f is not None else (err.field or ""),
                    f.key if f is not None else err.field, err.zh, err.en)


async def parse_rows(kind: Kind, sheet: Sheet, columns: Mapping[int, Field], tz: Any,
                     progress: Progress) -> tuple[list[_Row], list[RowError]]:
    """Every row's values, and every field error of every row (not only the first).

    Yields to the event loop every ``CHUNK`` rows: the console keeps answering (the import
    page polls its job) while a large sheet is checked."""
    good: list[_Row] = []
    errors: list[RowError] = []
    total = len(sheet.rows)
    for n, (number, cells) in enumerate(sheet.rows, start=1):
        raw = {f.key: (cells[i] if i < len(cells) else None) for i, f in columns.items()}
        values: dict[str, Any] = {}
        bad = False
        for f in kind.fields:
            try:
                values[f.key] = parse_field(f, raw.get(f.key), tz)
            except RecordError as err:
                errors.append(_error(number, f, err, kind))
                bad = True
        if not bad and kind.check is not None:
            try:
                kind.check(values | dict(kind.fixed))
            except RecordError as err:
                errors.append(_error(number, None, err, kind))
                bad = True
        if not bad:
            good.append(_Row(number, values))
        if n % CHUNK == 0:
            progress("checking", n, total)
            await asyncio.sleep(0)
    return good, errors


async def _codes(session: AsyncSession, model: Any, site_id: int) -> dict[str, int]:
    return {str(c): int(i) for i, c in (await session.execute(
        select(model.id, model.code).where(model.site_id == site_id))).all()}


def _key(kind: Kind, attrs: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(attrs.get(a) for a in kind.key)


def _key_text(kind: Kind, row: _Row) -> str:
    return " / ".join(str(row.values.get(f.key) or "") for f in kind.fields
                      if f.name in kind.key or (f.key == UNIT_REF and "unit_id" in kind.key))


async def _existing(session: AsyncSession, kind: Kind, site_id: int
                    ) -> dict[tuple[Any, ...], dict[str, Any]]:
    table = cast(Table, kind.model.__table__)
    cols = [table.c.id, *(table.c[a] for a in kind.audited)]
    query = select(*cols).where(table.c.site_id == site_id)
    for k, v in kind.fixed.items():
        query = query.where(table.c[k] == v)
    if kind is METERS:
        query = query.where(table.c.removed_at.is_(None))
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in (await session.execute(query)).mappings():
        row = dict(r)
        out[_key(kind, row)] = row
    return out


def _audit(at: datetime, actor: Actor, action: str, entity: str, entity_id: int,
           site_id: int, before: dict[str, Any] | None, after: dict[str, Any] | None,
           detail: dict[str, Any]) -> dict[str, Any]:
    """An ``audit_log`` row as ``cloud.auth.audit.record`` writes it (changed fields only)."""
    if before is not None and after is not None:
        keys = [k for k in after if before.get(k) != after.get(k)]
        before = {k: before.get(k) for k in keys}
        after = {k: after[k] for k in keys}
    return {"at": at, "actor": actor.ref[:64], "actor_name": actor.name[:100],
            "action": action, "entity": entity, "entity_id": str(entity_id),
            "site_id": site_id, "before": None if before is None else jsonable(before),
            "after": None if after is None else jsonable(after), "detail": detail}


async def _insert(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i:i + CHUNK]
        result = await session.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True), chunk)
        ids.extend(int(x) for x in result.scalars().all())
    return ids


async def _audit_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(AuditEntry), rows[i:i + CHUNK])


class _Plan:
    def __init__(self) -> None:
        self.create: list[_Row] = []
        self.update: list[tuple[_Row, dict[str, Any]]] = []
        self.unchanged = 0
        self.new_buildings: list[str] = []


async def _plan(session: AsyncSession, kind: Kind, site: Site, rows: list[_Row],
                errors: list[RowError]) -> _Plan:
    plan = _Plan()
    buildings = await _codes(session, Building, site.id)
    units = await _codes(session, Unit, site.id)
    b_field = next((f for f in kind.fields if f.key == BUILDING_REF), None)
    u_field = next((f for f in kind.fields if f.key == UNIT_REF), None)
    seen: dict[tuple[Any, ...], int] = {}
    existing = await _existing(session, kind, site.id)
    for row in rows:
        attrs: dict[str, Any] = dict(kind.fixed)
        bad = False
        for f in kind.fields:
            value = row.values[f.key]
            if f.key == BUILDING_REF:
                if value is None:
                    attrs["building_id"] = None
                elif value in buildings:
                    attrs["building_id"] = buildings[value]
                elif kind is UNITS:
                    attrs["building_id"] = ("new", value)
                    if value not in plan.new_buildings:
                        plan.new_buildings.append(value)
                else:
                    assert b_field is not None
                    errors.append(RowError(row.number, b_field.header, f.key,
                                           f"楼栋不存在：{value}", f"unknown building: {value}"))
                    bad = True
            elif f.key == UNIT_REF:
                if value is not None and value not in units:
                    assert u_field is not None
                    errors.append(RowError(row.number, u_field.header, f.key,
                                           f"房屋不存在：{value}（先导入房屋）",
                                           f"unknown unit: {value} (import units first)"))
                    bad = True
                elif kind.parking:
                    attrs[f.name] = value
                else:
                    attrs["unit_id"] = None if value is None else units[value]
            else:
                attrs[f.name] = value
        if bad:
            continue
        key = _key(kind, attrs)
        if key in seen:
            first = kind.fields[0]
            errors.append(RowError(row.number, first.header, first.key,
                                   f"与第 {seen[key]} 行重复（{_key_text(kind, row)}）",
                                   f"same record as row {seen[key]} ({_key_text(kind, row)})"))
            continue
        seen[key] = row.number
        row.attrs = attrs
        old = existing.get(key)
        if old is None:
            plan.create.append(row)
        elif any(old[a] != attrs[a] for a in attrs):
            plan.update.append((row, old))
        else:
            plan.unchanged += 1
    return plan


async def _apply(session: AsyncSession, kind: Kind, site: Site, plan: _Plan, *,
                 actor: Actor, now: datetime, detail: dict[str, Any], progress: Progress,
                 total: int) -> int:
    """Write the plan; the number of buildings created."""
    audits: list[dict[str, Any]] = []
    stamps = {"created_at": now, "updated_at": now}
    b_ids: dict[str, int] = {}
    if plan.new_buildings:
        b_rows = [{"site_id": site.id, "code": c, "name": c, "floors": None, **stamps}
                  for c in plan.new_buildings]
        for code, new_id in zip(plan.new_buildings,
                                await _insert(session, Building, b_rows), strict=True):
            b_ids[code] = new_id
            audits.append(_audit(now, actor, "create", "building", new_id, site.id, None,
                                 {"code": code, "name": code}, detail))
    done = 0
    for i in range(0, len(plan.create), CHUNK):
        chunk = plan.create[i:i + CHUNK]
        for row in chunk:
            b = row.attrs.get("building_id")
            if isinstance(b, tuple):
                row.attrs["building_id"] = b_ids[b[1]]
        ids = await _insert(session, kind.model, [
            {"site_id": site.id, **row.attrs, **stamps} for row in chunk])
        for row, new_id in zip(chunk, ids, strict=True):
            audits.append(_audit(now, actor, "create", kind.entity, new_id, site.id, None,
                                 {a: row.attrs.get(a) for a in kind.audited}, detail))
        done += len(chunk)
        progress("applying", done, total)
    for i in range(0, len(plan.update), CHUNK):
        pairs = plan.update[i:i + CHUNK]
        await session.execute(update(kind.model), [
            {"id": old["id"], **row.attrs, "updated_at": now} for row, old in pairs])
        for row, old in pairs:
            before = {a: old[a] for a in kind.audited}
            audits.append(_audit(now, actor, "update", kind.entity, int(old["id"]), site.id,
                                 before, before | row.attrs, detail))
        done += len(pairs)
        progress("applying", done, total)
    await _audit_rows(session, audits)
    return len(b_ids)


async def import_sheet(sessions: async_sessionmaker[AsyncSession], kind_name: str,
                       site_slug: str, sheet: Sheet, *, actor: Actor, now: datetime,
                       default_tz: str, dry_run: bool, source: str = "",
                       progress: Progress = _noop) -> ImportResult:
    """Check ``sheet`` as rows of ``kind_name`` for the site and, unless ``dry_run`` or a row
    is bad, apply it in one transaction. Raises RecordError for an unknown or hidden site."""
    kind = KINDS[kind_name]
    result = ImportResult(kind_name, site_slug, dry_run, rows_total=len(sheet.rows))
    columns, header_errors = map_columns(kind, sheet.headers)
    result.errors.extend(header_errors)
    async with sessions() as session:
        try:
            async with session.begin():
                site = await visible_site(session, actor, site_slug)
                if header_errors:
                    raise _NothingApplied
                progress("checking", 0, result.rows_total)
                rows, errors = await parse_rows(kind, sheet, columns, site_zone(site, default_tz),
                                          progress)
                if kind.parking and not dry_run:
                    # Lock the site's parking records first, so the plan below stays true.
                    result.version = await ds.bump_version(session, site.id, now)
                plan = await _plan(session, kind, site, rows, errors)
                progress("checking", result.rows_total, result.rows_total)
                result.errors = sorted(errors, key=lambda e: (e.row, e.column))
                result.created, result.unchanged = len(plan.create), plan.unchanged
                result.updated = len(plan.update)
                result.buildings_created = len(plan.new_buildings)
                if dry_run or result.errors:
                    raise _NothingApplied
                work = len(plan.create) + len(plan.update)
                if work == 0:  # every row unchanged: nothing to write, no new parking version
                    result.applied = True
                    raise _NothingApplied
                progress("applying", 0, work)
                detail = {"import": kind_name, "source": source[:200]}
                await _apply(session, kind, site, plan, actor=actor, now=now, detail=detail,
                             progress=progress, total=work)
            result.applied = True
        except _NothingApplied:
            result.version = None
        except IntegrityError as exc:
            log.warning("records.import_conflict", kind=kind_name, site=site_slug,
                        error=str(exc.orig)[:200])
            result.applied, result.version = False, None
            result.errors.append(RowError(0, "", None,
                                          "与同时进行的另一修改冲突，未导入任何行，请重试",
                                          "conflicts with another change made at the same "
                                          "time; nothing was imported, retry"))
    log.info("records.imported", kind=kind_name, site=site_slug, dry_run=dry_run,
             created=result.created, updated=result.updated, unchanged=result.unchanged,
             errors=len(result.errors))
    return result
