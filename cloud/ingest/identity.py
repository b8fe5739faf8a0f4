"""Event identity at ingest: which resent events are duplicates and which are conflicts, the
conflicts kept as evidence and alarmed, the holds they put on an epoch's mark, and gaps cut at
what the edge really sent (``ingestor`` module docstring, DESIGN §2 rule 3)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.dialect import dialect_insert
from cloud.db.models import Event, IngestConflict
from cloud.ingest.handlers import StoredEvent
from cloud.ingest.result import IngestStats
from contract import Envelope, Kind, Priority

EVENTS = cast(Table, Event.__table__)
CONFLICTS = cast(Table, IngestConflict.__table__)

#: ``ensure_devices(session, site_id, keys)`` → ``{key: device id}``, creating what is missing.
EnsureDevices = Callable[[AsyncSession, int, set[str]], Awaitable[dict[str, int]]]

CONFLICT_EPOCH = "cloud:conflict"
"""Where the cloud stores its ``ingest.conflict`` events (seq = the conflict's row id); the
colon keeps it apart from every epoch an edge can send (``contract.batch.EPOCH_RE``)."""
CONFLICT_DEVICE = "(ingest)"
IN_CHUNK = 5000


def clip_gaps(gaps: Sequence[tuple[int, int]], top: int) -> list[tuple[int, int]]:
    """``gaps`` cut at ``top``, the highest seq the edge really sent in the epoch (this batch
    or one stored before): a declared gap never moves the mark past it."""
    return [(a, min(b, top)) for a, b in gaps if a <= top]


#: The range bounds make the index scan stop at the batch's seqs (a generic plan would filter
#: ``= ANY`` over every row of the epoch).
_PG_STORED_IDS = (
    "SELECT seq, uuid FROM events WHERE site_id = $1 AND epoch = $2"
    " AND seq BETWEEN $3 AND $4 AND seq = ANY($5::bigint[])")


async def stored_ids(session: AsyncSession, site_id: int, epoch: str,
                     seqs: Sequence[int]) -> dict[int, str]:
    """``{seq: id}`` of the events stored at these sorted seqs of the epoch (range-bounded
    chunks: the index scan stops at the batch's seqs)."""
    out: dict[int, str] = {}
    for i in range(0, len(seqs), IN_CHUNK):
        part = seqs[i:i + IN_CHUNK]
        rows = await session.execute(
            select(EVENTS.c.seq, EVENTS.c.uuid).where(
                EVENTS.c.site_id == site_id, EVENTS.c.epoch == epoch,
                EVENTS.c.seq.between(part[0], part[-1]), EVENTS.c.seq.in_(part)))
        out.update((int(q), str(u)) for q, u in rows.all())
    return out


def runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seqs as inclusive runs of consecutive integers."""
    out: list[tuple[int, int]] = []
    for q in seqs:
        if out and q == out[-1][1] + 1:
            out[-1] = (out[-1][0], q)
        else:
            out.append((q, q))
    return out


async def classify(session: AsyncSession, driver: Any, site_id: int, epoch: str,
                   again: list[Envelope], inserted: dict[int, int], first_ids: dict[int, str]
                   ) -> tuple[list[Envelope], list[tuple[Envelope, str]]]:
    """Split events whose position was taken into duplicates (the stored row has their id)
    and conflicts (``(event, stored id)``). Costs a query only when something came again
    (on PostgreSQL one array-bound statement, however many: resends are common)."""
    if not again:
        return [], []
    stored: dict[int, str] = {}
    seqs = sorted({e.seq for e in again if e.seq not in inserted})
    if driver is not None and seqs:
        stored.update((int(r[0]), str(r[1]))
                      for r in await driver.fetch(_PG_STORED_IDS, site_id, epoch, seqs[0],
                                                  seqs[-1], seqs))
        seqs = []
    stored.update(await stored_ids(session, site_id, epoch, seqs))
    duplicates: list[Envelope] = []
    conflicts: list[tuple[Envelope, str]] = []
    for e in again:
        held_id = first_ids[e.seq] if e.seq in inserted else stored.get(e.seq)
        if held_id is None:  # cannot happen: the position was taken in this transaction
            raise RuntimeError(f"event position {epoch}/{e.seq} vanished during ingest")
        if held_id == e.id:
            duplicates.append(e)
        else:
            conflicts.append((e, held_id))
    return duplicates, conflicts


async def release_holds(session: AsyncSession, site_id: int, epoch: str,
                        duplicates: Sequence[Envelope], now: datetime,
                        blog: Any) -> int | None:
    """The event stored at a held position came again: the edge that owns the mark holds
    that event, so the conflicting one was the stranger; release its hold. Returns the
    epoch's new ``held_at`` (the lowest hold left, or None)."""
    open_hold = (CONFLICTS.c.site_id == site_id, CONFLICTS.c.epoch == epoch,
                 CONFLICTS.c.holds.is_(True), CONFLICTS.c.released_at.is_(None))
    seqs = sorted({e.seq for e in duplicates})
    for i in range(0, len(seqs), IN_CHUNK):
        released = await session.execute(
            update(CONFLICTS).where(*open_hold, CONFLICTS.c.seq.in_(seqs[i:i + IN_CHUNK]))
            .values(released_at=now).returning(CONFLICTS.c.seq))
        for (seq,) in released.all():
            blog.info("ingest.conflict_hold_released", seq=int(seq))
    low = (await session.execute(
        select(func.min(CONFLICTS.c.seq)).where(*open_hold))).scalar_one()
    return None if low is None else int(low)


async def record_conflicts(session: AsyncSession, site_id: int, epoch: str,
                           conflicting: list[tuple[Envelope, str]], acked: int,
                           held: int | None, now: datetime, blog: Any, stats: IngestStats,
                           ensure_devices: EnsureDevices
                           ) -> tuple[list[StoredEvent], int | None]:
    """Keep each conflict once (a repeat counts ``repeats``); a new one also becomes an
    ``ingest.conflict`` event for the alarm handlers. One above the mark holds the mark.
    Returns those events and the epoch's new ``held_at``."""
    seqs = sorted({e.seq for e, _ in conflicting})
    known = {(int(s), str(u)): int(i) for s, u, i in (await session.execute(
        select(CONFLICTS.c.seq, CONFLICTS.c.incoming_uuid, CONFLICTS.c.id).where(
            CONFLICTS.c.site_id == site_id, CONFLICTS.c.epoch == epoch,
            CONFLICTS.c.seq.in_(seqs)))).all()}
    fresh: list[tuple[Envelope, str]] = []
    for ev, stored_id in conflicting:
        key = (ev.seq, ev.id)
        if key in known:
            await session.execute(
                update(CONFLICTS).where(CONFLICTS.c.id == known[key])
                .values(repeats=CONFLICTS.c.repeats + 1, last_seen_at=now))
        elif key not in {(e.seq, e.id) for e, _ in fresh}:
            fresh.append((ev, stored_id))
    for ev, _ in conflicting:
        if ev.seq > acked:
            held = ev.seq if held is None else min(held, ev.seq)
    stats.conflicts_new += len(fresh)
    if not fresh:
        return [], held
    device_id = (await ensure_devices(session, site_id, {CONFLICT_DEVICE}))[
        CONFLICT_DEVICE]
    out: list[StoredEvent] = []
    for ev, stored_id in fresh:
        holds = ev.seq > acked
        raw = ev.to_dict()
        conflict_id = int((await session.execute(
            dialect_insert(session, CONFLICTS).values(
                site_id=site_id, epoch=epoch, seq=ev.seq, stored_uuid=stored_id[:64],
                incoming_uuid=ev.id[:64], raw=raw, holds=holds, repeats=1,
                detected_at=now, last_seen_at=now)
            .returning(CONFLICTS.c.id))).scalar_one())
        data = {"epoch": epoch, "seq": ev.seq, "stored_id": stored_id,
                "incoming_id": ev.id, "incoming_kind": ev.kind,
                "incoming_device": ev.device, "conflict_id": conflict_id,
                "holds_mark": holds}
        row_id = int((await session.execute(
            dialect_insert(session, EVENTS).values(
                site_id=site_id, epoch=CONFLICT_EPOCH, seq=conflict_id,
                uuid=str(uuid.uuid4()), ts=now, kind=Kind.INGEST_CONFLICT,
                device=CONFLICT_DEVICE, device_id=device_id,
                priority=int(Priority.ALARM), data=data, received_at=now)
            .returning(EVENTS.c.id))).scalar_one())
        await session.execute(update(CONFLICTS).where(CONFLICTS.c.id == conflict_id)
                              .values(event_id=row_id))
        out.append(StoredEvent(id=row_id, seq=conflict_id, ts=now,
                               kind=Kind.INGEST_CONFLICT, device=CONFLICT_DEVICE,
                               device_id=device_id, data=data,
                               priority=int(Priority.ALARM)))
        blog.warning("ingest.conflict", seq=ev.seq, stored_id=stored_id,
                     incoming_id=ev.id, kind=ev.kind, device=ev.device, holds_mark=holds)
    return out, held
