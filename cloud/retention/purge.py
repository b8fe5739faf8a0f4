"""The purge: delete, in batches, what is older than each class's window, for one site.

Each batch is its own transaction (a year of a busy site's events is millions of rows; one
transaction would hold locks and the WAL for minutes), so a purge stopped half-way is simply
finished by the next run. One audit row per site and class says what went
(``action='purge'``, ``entity='retention'``, detail: class, cutoff, rows, blobs).

What is never reached: money (bills, lines, payments, receipts, refunds, late fees, their
audit rows) is in no class; ``view_audit`` takes only ``view`` rows. An event above its
epoch's ack mark is kept whatever its age: ingest decides duplicates by the stored row, and
the mark by the seqs stored past it (``cloud.ingest.watermark``), so only rows the mark
already covers may go; the edge never resends those (it deletes what an ack covers).

``plate_images`` removes the images of plate events older than its window (the refs, or the
base64 of events stored before the blob store) and forgets the blobs; the event itself stays
until ``plate_reads`` takes it. ``resident_identity`` deletes nothing: it pseudonymises
residents who moved out longer ago than its window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, Table, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import Actor, record
from cloud.auth.tables import AuditEntry
from cloud.blobs import forget
from cloud.blobs.store import BlobStore, is_ref
from cloud.db.models import Event, IngestEpoch, Reading
from cloud.patrol.tables import PatrolRound, PatrolScan, PatrolVisit
from cloud.records.tables import Resident
from cloud.retention.classes import (
    CLASSES,
    IMAGE_INLINE,
    IMAGE_REFS,
    PLATE_KINDS,
    VIEW_ACTION,
    DataClass,
    Source,
)
from cloud.retention.pseudonymise import pseudonymise_resident
from cloud.retention.windows import effective_windows
from cloud.workorders.photo_tables import WorkOrderPhoto
from cloud.workorders.tables import WorkOrder

log = structlog.get_logger(__name__)

Sessions = async_sessionmaker[AsyncSession]

EVENTS = cast(Table, Event.__table__)
EPOCHS = cast(Table, IngestEpoch.__table__)
#: The tables a class's ``Source`` may name (imported, so the purge needs no registry).
TABLES: dict[str, Table] = {
    cast(Table, m.__table__).name: cast(Table, m.__table__)
    for m in (Event, Reading, PatrolVisit, PatrolScan, PatrolRound, WorkOrderPhoto, WorkOrder,
              AuditEntry, Resident)}
_IMAGE_KEYS = IMAGE_REFS + IMAGE_INLINE
#: How ``cloud.blobs.detach`` names the images taken out of an event that stays.
PURGED = "images_purged"


@dataclass(slots=True)
class ClassResult:
    data_class: str
    days: int
    cutoff: datetime
    rows: int = 0
    blobs: int = 0


@dataclass(slots=True)
class PurgeReport:
    site_id: int
    dry_run: bool
    classes: list[ClassResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """``{class: rows}`` (rows deleted, images removed or residents pseudonymised)."""
        return {c.data_class: c.rows for c in self.classes}

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, for a job's result: per class its days, cutoff (UTC ISO), rows, blobs."""
        return {"site_id": self.site_id, "dry_run": self.dry_run, "classes": {
            c.data_class: {"days": c.days, "cutoff": c.cutoff.isoformat(), "rows": c.rows,
                           "blobs": c.blobs} for c in self.classes}}


async def purge_site(sessions: Sessions, *, site_id: int, now: datetime, actor: Actor,
                     blobs: BlobStore | None, batch: int = 5000,
                     dry_run: bool = False) -> PurgeReport:
    """Purge one site by its effective windows; ``dry_run`` counts and changes nothing."""
    bound = log.bind(site_id=site_id, dry_run=dry_run)
    async with sessions() as session:
        windows = await effective_windows(session, site_id)
    report = PurgeReport(site_id, dry_run)
    for cls in CLASSES:
        days = windows[cls.name].days
        result = ClassResult(cls.name, days, now - timedelta(days=days))
        if cls.name == "plate_images":
            await _strip_images(sessions, site_id, result, blobs, batch, dry_run)
        elif cls.name == "resident_identity":
            await _pseudonymise(sessions, site_id, result, now, actor, batch, dry_run)
        else:
            for source in cls.sources:
                await _delete(sessions, cls, source, site_id, result, blobs, batch, dry_run)
        report.classes.append(result)
        bound.info("retention.purged", data_class=cls.name, cutoff=result.cutoff.isoformat(),
                   rows=result.rows, blobs=result.blobs)
        if not dry_run:
            async with sessions() as session, session.begin():
                record(session, at=now, actor=actor, action="purge", entity="retention",
                       entity_id=cls.name, site_id=site_id,
                       detail={"class": cls.name, "cutoff": result.cutoff, "days": days,
                               "rows": result.rows, "blobs": result.blobs})
    return report


def _below_mark() -> ColumnElement[bool]:
    """The event is at or below its epoch's ack mark (or of an epoch with no mark: the
    cloud's own ``ingest.conflict`` events)."""
    return ~exists().where(EPOCHS.c.site_id == EVENTS.c.site_id,
                           EPOCHS.c.epoch == EVENTS.c.epoch, EPOCHS.c.acked_seq < EVENTS.c.seq)


def _where(cls: DataClass, source: Source, site_id: int,
           cutoff: datetime) -> tuple[Table, list[ColumnElement[bool]]]:
    table = TABLES[source.table]
    conds: list[ColumnElement[bool]] = [table.c[source.ts_column] < cutoff]
    if source.via is None:
        conds.append(table.c.site_id == site_id)
    else:
        column, parent_name = source.via
        parent = TABLES[parent_name]
        conds.append(table.c[column].in_(select(parent.c.id).where(parent.c.site_id == site_id)))
    if source.kinds:
        conds.append(table.c.kind.in_(source.kinds))
    if table is EVENTS:
        conds.append(_below_mark())
    if cls.name == "view_audit":
        conds.append(table.c.action == VIEW_ACTION)
    return table, conds


async def _count(sessions: Sessions, table: Table, conds: list[ColumnElement[bool]]) -> int:
    async with sessions() as session:
        return int((await session.execute(
            select(func.count()).select_from(table).where(*conds))).scalar_one())


def _refs(rows: Iterable[Any]) -> set[str]:
    return {r for row in rows for r in row if is_ref(r)}


def _ref_columns() -> list[ColumnElement[Any]]:
    return [EVENTS.c.data[k].as_string() for k in IMAGE_REFS]


async def _delete(sessions: Sessions, cls: DataClass, source: Source, site_id: int,
                  result: ClassResult, blobs: BlobStore | None, batch: int,
                  dry_run: bool) -> None:
    table, conds = _where(cls, source, site_id, result.cutoff)
    if dry_run:
        result.rows += await _count(sessions, table, conds)
        return
    with_images = table is EVENTS and set(source.kinds) & set(PLATE_KINDS)
    while True:
        async with sessions() as session, session.begin():
            cols = [table.c.id, *(_ref_columns() if with_images else [])]
            rows = (await session.execute(
                select(*cols).where(*conds).order_by(table.c.id).limit(batch))).all()
            if rows:
                await session.execute(delete(table).where(table.c.id.in_([r[0] for r in rows])))
                if with_images:
                    result.blobs += await _forget(session, blobs,
                                                  _refs(tuple(r)[1:] for r in rows))
        result.rows += len(rows)
        if len(rows) < batch:
            return


def _without_images(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its images gone, named in ``images_purged`` as ``cloud.blobs.detach``
    does (the ref keys stay, null; inline base64 of events older than the store goes)."""
    out = {k: v for k, v in data.items() if k not in IMAGE_INLINE}
    purged = [k.removesuffix("_blob").removesuffix("_jpeg_b64") for k in _IMAGE_KEYS
              if data.get(k) is not None]
    for k in IMAGE_REFS:
        if k in out:
            out[k] = None
    before = data.get(PURGED)
    out[PURGED] = list(dict.fromkeys([*(before if isinstance(before, list) else []), *purged]))
    return out


async def _strip_images(sessions: Sessions, site_id: int, result: ClassResult,
                        blobs: BlobStore | None, batch: int, dry_run: bool) -> None:
    conds = [EVENTS.c.site_id == site_id, EVENTS.c.kind.in_(PLATE_KINDS),
             EVENTS.c.ts < result.cutoff,
             or_(*(EVENTS.c.data[k].as_string().is_not(None) for k in _IMAGE_KEYS))]
    if dry_run:
        result.rows += await _count(sessions, EVENTS, conds)
        return
    while True:
        async with sessions() as session, session.begin():
            rows = (await session.execute(
                select(EVENTS.c.id, EVENTS.c.data).where(*conds).order_by(EVENTS.c.id)
                .limit(batch))).all()
            refs: set[str] = set()
            for event_id, data in rows:
                refs |= _refs([tuple(data.get(k) for k in IMAGE_REFS)])
                await session.execute(update(EVENTS).where(EVENTS.c.id == event_id)
                                      .values(data=_without_images(data)))
            result.blobs += await _forget(session, blobs, refs)
        result.rows += len(rows)
        if len(rows) < batch:
            return


async def _pseudonymise(sessions: Sessions, site_id: int, result: ClassResult, now: datetime,
                        actor: Actor, batch: int, dry_run: bool) -> None:
    conds = [Resident.site_id == site_id, Resident.move_out.is_not(None),
             Resident.move_out < result.cutoff.date(), Resident.pseudonymised_at.is_(None)]
    if dry_run:
        result.rows += await _count(sessions, cast(Table, Resident.__table__), conds)
        return
    while True:
        async with sessions() as session, session.begin():
            residents = (await session.scalars(
                select(Resident).where(*conds).order_by(Resident.id).limit(batch))).all()
            for resident in residents:
                await pseudonymise_resident(session, resident, now, actor)
        result.rows += len(residents)
        if len(residents) < batch:
            return


async def _forget(session: AsyncSession, store: BlobStore | None, refs: set[str]) -> int:
    """Forget the blobs no remaining event references (``cloud.blobs.forget``); 0 without a
    store (images kept inline: removing them from the events was the purge)."""
    if store is None or not refs:
        return 0
    return await forget(session, store, sorted(refs))
