"""Batch ingest: one transaction per batch, exactly-once effects, a contiguous ack watermark.

DESIGN §2 rule 3: an event's position is (site, epoch, seq) and its identity its ``id``. Insert
the batch with ``ON CONFLICT (site_id, epoch, seq) DO NOTHING``; a row not inserted is a
duplicate only when the stored row has the same ``id``, otherwise it is a **conflict**: kept in
``ingest_conflicts`` (once per incoming id), counted, raised as an ``ingest.conflict`` alarm,
never stored as the event and never acked as stored (a conflict above its epoch's mark holds the
mark below it until the event stored there is delivered again). Run the domain handlers for the
rows actually inserted, advance each epoch's watermark, commit — and only then may the caller
ack, per epoch. A crash before commit leaves nothing behind, so the redelivered batch applies
exactly once. A batch's ``gaps`` are clipped to the highest seq it carries: nothing in a batch
can move the mark past what the edge really sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.dialect import dialect_insert, dialect_name, pg_driver
from cloud.db.models import LEGACY_EPOCH, Device, Event, IngestConflict, IngestEpoch, SeqGap, Site
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.ingest.result import IngestResult, IngestStats
from cloud.ingest.watermark import advance_watermark
from contract import (
    Ack,
    Batch,
    Clock,
    ContractError,
    Envelope,
    Kind,
    Priority,
    Rejected,
    decode_batch_lenient,
    jsoncodec,
    topics,
)
from contract.envelope import parse_ts

log = structlog.get_logger(__name__)

MAX_DEVICE, MAX_KIND, MAX_ID = 128, 64, 64

EVENTS = cast(Table, Event.__table__)
DEVICES = cast(Table, Device.__table__)
SITES = cast(Table, Site.__table__)
GAPS = cast(Table, SeqGap.__table__)
EPOCHS = cast(Table, IngestEpoch.__table__)
CONFLICTS = cast(Table, IngestConflict.__table__)

CONFLICT_EPOCH = "cloud:conflict"
"""Where the cloud stores its ``ingest.conflict`` events (seq = the conflict's row id); the
colon keeps it apart from every epoch an edge can send (``contract.batch.EPOCH_RE``)."""
CONFLICT_DEVICE = "(ingest)"
IN_CHUNK = 5000


def clip_gaps(gaps: Sequence[tuple[int, int]], top: int) -> list[tuple[int, int]]:
    """``gaps`` cut at ``top``, the highest seq the edge really sent in the epoch (this batch
    or one stored before): a declared gap never moves the mark past it."""
    return [(a, min(b, top)) for a, b in gaps if a <= top]


def _stored_limit_problem(ev: Envelope) -> tuple[str, str] | None:
    """What the database would refuse in this event (field, reason), checked up front so one
    bad event never makes its whole batch fail to commit."""
    for name, value, limit in (("device", ev.device, MAX_DEVICE), ("kind", ev.kind, MAX_KIND),
                               ("id", ev.id, MAX_ID)):
        if len(value) > limit:
            return name, f"longer than {limit} characters"
        if "\x00" in value:
            return name, "contains a NUL character"
    return None


QUARANTINE_RAW_CHARS = 2000


def _quarantined(rejected: Rejected, now: datetime) -> tuple[Envelope, str]:
    """The event stored under a rejected event's seq: it keeps the seq accounted for (the
    watermark moves on, the site does not stall on one bad event) and keeps the evidence."""
    raw = rejected.raw

    def text(key: str, limit: int) -> str | None:
        v = raw.get(key)
        return v if isinstance(v, str) and v and len(v) <= limit and "\x00" not in v else None

    body = jsoncodec.dumps(raw).replace("\\u0000", "\\ufffd")
    data = {"field": rejected.field, "reason": rejected.reason, "kind": text("kind", MAX_KIND),
            "raw": body[:QUARANTINE_RAW_CHARS], "raw_truncated": len(body) > QUARANTINE_RAW_CHARS}
    try:
        ts = parse_ts(raw.get("ts"))
    except ContractError:
        ts = now
    env = Envelope(seq=rejected.seq, id=text("id", MAX_ID) or "", ts=ts,
                   device=text("device", MAX_DEVICE) or "(unknown)",
                   kind=Kind.INGEST_QUARANTINED, data=data, priority=Priority.TELEMETRY)
    return env, jsoncodec.dumps(data)


@dataclass(frozen=True, slots=True)
class Decoded:
    """An ``up/events`` batch that passed the contract checks, ready for ``Ingestor.store``."""

    batch: Batch
    #: Each event's ``data`` as JSON text, in event order.
    data_json: list[str]
    #: Events stored as ``ingest.quarantined`` in place of what broke the contract.
    quarantined: int = 0

    @property
    def site(self) -> str:
        return self.batch.site

    @property
    def events(self) -> int:
        return len(self.batch.events)


class Ingestor:
    """Turns ``up/events`` and ``up/status`` payloads into committed records."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock,
                 registry: HandlerRegistry) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.registry = registry
        self.stats = IngestStats()
        #: Per site, the highest seq stored before epochs (0: none). Those rows never change,
        #: so any worker may cache it.
        self._legacy_top: dict[int, int] = {}

    def _refuse(self, reason: str, topic: str, site: str | None = None,
                field: str | None = None, detail: str | None = None) -> IngestResult:
        self.stats.rejected[reason] += 1
        log.warning("ingest.refused", reason=reason, topic=topic, site=site, field=field,
                    detail=detail)
        return IngestResult.refused(reason, site=site, field=field, detail=detail)

    async def handle(self, topic: str, payload: bytes) -> IngestResult:
        """Store one batch; the result's ``ack_upto`` may be acked once this returns.

        Database errors propagate (nothing was committed): the caller must not ack.
        """
        return await self.handle_many(topic, [payload])

    async def handle_many(self, topic: str, payloads: Sequence[bytes]) -> IngestResult:
        """Store several queued batches of one site's topic in ONE transaction (see ``store``);
        refused payloads among them are counted and left out. When every payload was refused
        the result is the last refusal (``ack_upto`` None)."""
        decoded: list[Decoded] = []
        refusal: IngestResult | None = None
        for payload in payloads:
            d = self.decode(topic, payload)
            if isinstance(d, IngestResult):
                refusal = d
            else:
                decoded.append(d)
        if not decoded:
            assert refusal is not None
            return refusal
        return await self.store(decoded)

    def decode(self, topic: str, payload: bytes) -> Decoded | IngestResult:
        """Check one ``up/events`` message against the contract, before any database work.

        Returns what ``store`` takes, or the refusal (already counted) when the topic, the
        payload or its site is wrong.
        """
        parsed = topics.parse(topic)
        if parsed is None or parsed[1:] != ("up", "events"):
            return self._refuse("bad_topic", topic, field="topic", detail="not an up/events topic")
        site = parsed[0]
        try:
            batch, rejected = decode_batch_lenient(payload)
        except ContractError as exc:
            return self._refuse("malformed", topic, site=site, field=exc.field, detail=exc.reason)
        if batch.site != site:
            return self._refuse("wrong_site", topic, site=site, field="site",
                                detail=f"batch for {batch.site!r} on {site!r}'s topic")
        events: list[Envelope] = []
        texts: list[str] = []
        for ev in batch.events:
            problem = _stored_limit_problem(ev)
            data = jsoncodec.dumps(ev.data)
            if problem is None and "\\u0000" in data:  # JSON escapes control characters
                problem = "data", "contains a NUL character"
            if problem is not None:
                rejected.append(Rejected(ev.seq, f"events[seq={ev.seq}].{problem[0]}",
                                         problem[1], ev.to_dict()))
                continue
            events.append(ev)
            texts.append(data)
        if rejected:
            now = self._clock.now()
            for r in rejected:
                self.stats.quarantined += 1
                log.warning("ingest.event_quarantined", site=site, seq=r.seq, field=r.field,
                            reason=r.reason)
                env, data = _quarantined(r, now)
                events.append(env)
                texts.append(data)
            batch = Batch(site=batch.site, epoch=batch.epoch, events=events, gaps=batch.gaps)
        if batch.gaps and not batch.events:  # gaps alone move nothing
            self.stats.gaps_clipped += len(batch.gaps)
            batch = replace(batch, gaps=[])
        return Decoded(batch, texts, quarantined=len(rejected))

    async def store(self, decoded: Sequence[Decoded]) -> IngestResult:
        """Store decoded batches of ONE site, in arrival order, in one transaction.

        The batches are applied as one, epoch by epoch (a replaced box's last resends may
        queue up beside its successor's batches): duplicates dropped by identity (the first
        copy of a position wins), conflicts set aside, handlers run once over the new events,
        each epoch's watermark advances, commit. The result's ``acks`` hold each epoch's
        watermark after that commit (publish one ``down/ack`` per entry); ``ack_upto`` is the
        last one's. Database errors propagate (nothing was committed): do not ack.
        """
        if not decoded:
            raise ValueError("store needs at least one batch")
        site = decoded[0].batch.site
        if any(d.batch.site != site for d in decoded):
            raise ValueError("store takes the batches of one site")
        by_epoch: dict[str, list[Decoded]] = {}
        for d in decoded:
            by_epoch.setdefault(d.batch.epoch, []).append(d)
        bound = log.bind(site=site)
        results: list[IngestResult] = []
        async with self._sessions() as session, session.begin():
            now = self._clock.now()
            site_id, shown = await self._lock_site(session, site, now)
            for epoch, group in by_epoch.items():
                batch, texts = _merge(site, epoch, group)
                results.append(await self._apply(session, site_id, batch, texts, now,
                                                 bound.bind(epoch=epoch)))
            last = results[-1]
            if last.ack_upto != shown:
                await session.execute(update(SITES).where(SITES.c.id == site_id)
                                      .values(acked_seq=last.ack_upto))
        result = IngestResult(
            ok=True, site=site, ack_upto=last.ack_upto, epoch=last.epoch,
            acks=tuple(Ack(r.epoch, r.ack_upto) for r in results
                       if r.epoch is not None and r.ack_upto is not None),
            inserted=sum(r.inserted for r in results),
            duplicates=sum(r.duplicates for r in results),
            conflicts=sum(r.conflicts for r in results),
            gaps=sum(r.gaps for r in results))
        self.stats.batches += len(decoded)
        self.stats.transactions += 1
        self.stats.events_inserted += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.conflicts += result.conflicts
        self.stats.gaps_declared += result.gaps
        bound.debug("ingest.batch", batches=len(decoded), inserted=result.inserted,
                    duplicates=result.duplicates, conflicts=result.conflicts,
                    acks=[tuple(a) for a in result.acks])
        return result

    async def _apply(self, session: AsyncSession, site_id: int, batch: Batch,
                     texts: Sequence[str], now: datetime, blog: Any) -> IngestResult:
        epoch = batch.epoch
        acked, held = await self._lock_epoch(session, site_id, epoch, now)
        held_before = held
        first: dict[int, int] = {}
        later: list[Envelope] = []  # another copy of a position already in this batch
        for i, e in enumerate(batch.events):
            if first.setdefault(e.seq, i) != i:
                later.append(e)
        events = [batch.events[i] for i in first.values()]
        data_json = [texts[i] for i in first.values()]
        twins = await self._legacy_twins(session, site_id, epoch, events)
        if twins:
            data_json = [t for e, t in zip(events, data_json, strict=True) if e.seq not in twins]
            events = [e for e in events if e.seq not in twins]
            blog.info("ingest.stored_before_epochs", events=len(twins))
        pg = dialect_name(session) == "postgresql"
        keys = {e.device for e in events}
        if pg:
            driver = await pg_driver(session)
            device_ids = await _pg_ensure_devices(driver, site_id, keys)
            inserted = await _pg_insert_events(driver, site_id, epoch, events, data_json,
                                               device_ids, now)
        else:
            device_ids = await self._ensure_devices(session, site_id, keys)
            inserted = await self._insert_events(session, site_id, epoch, events, device_ids,
                                                 now)
        again = [e for e in events if e.seq not in inserted] + later
        duplicates, conflicting = await _classify(session, driver if pg else None, site_id,
                                                  epoch, again, inserted,
                                                  {e.seq: e.id for e in events})
        gaps = batch.gaps
        if gaps:
            gaps = await self._clip(session, site_id, epoch, gaps, events, blog)
        if twins:  # stored under ``legacy``: this epoch's positions are accounted for
            gaps = list(dict.fromkeys([*gaps, *_runs(sorted(twins))]))
        if gaps:
            await session.execute(
                dialect_insert(session, GAPS)
                .values([{"site_id": site_id, "epoch": epoch, "seq_from": a, "seq_to": b,
                          "declared_at": now} for a, b in gaps])
                .on_conflict_do_nothing(
                    index_elements=["site_id", "epoch", "seq_from", "seq_to"]))
        new = [StoredEvent(id=inserted[e.seq], seq=e.seq, ts=e.ts, kind=e.kind, device=e.device,
                           device_id=device_ids[e.device], data=e.data, priority=int(e.priority))
               for e in events if e.seq in inserted]
        new.sort(key=lambda e: e.seq)
        if duplicates and held is not None:
            held = await _release_holds(session, site_id, epoch, duplicates, now, blog)
        if conflicting:
            alarms, held = await self._conflicts(session, site_id, batch.site, epoch,
                                                 conflicting, acked, held, now, blog)
            new.extend(alarms)
        if new:
            if pg:
                await _pg_touch_devices(driver, new)
            else:
                await self._touch_devices(session, new)
            ctx = HandlerContext(session=session, site_id=site_id, site=batch.site, now=now,
                                 log=blog)
            await self.registry.dispatch(ctx, new)
            await session.flush()
            for name, n in ctx.counters.items():
                self.stats.handlers[name] += n
        upto = await advance_watermark(session, site_id, epoch, acked,
                                       (e.seq for e in events), gaps)
        duplicates.extend(batch.events[first[s]] for s in twins)
        if held is not None:
            upto = max(acked, min(upto, held - 1))
        if (upto, held) != (acked, held_before):
            await session.execute(
                update(EPOCHS).where(EPOCHS.c.site_id == site_id, EPOCHS.c.epoch == epoch)
                .values(acked_seq=upto, held_at=held))
        stored = sum(1 for e in events if e.seq in inserted)
        return IngestResult(ok=True, site=batch.site, epoch=epoch, ack_upto=upto,
                            inserted=stored, duplicates=len(duplicates),
                            conflicts=len(conflicting), gaps=len(gaps))

    async def _legacy_twins(self, session: AsyncSession, site_id: int, epoch: str,
                            events: Sequence[Envelope]) -> set[int]:
        """Seqs of ``events`` already stored before epochs, same seq and same id.

        An outbox upgraded past epochs keeps its seqs and resends, under its new epoch, what no
        ack had covered; some of that the cloud may have stored under ``legacy`` (the ack was
        lost). Those are the same events: storing them again would double their effects."""
        if epoch == LEGACY_EPOCH or not events:
            return set()
        top = self._legacy_top.get(site_id)
        if top is None:
            top = int((await session.execute(
                select(func.max(EVENTS.c.seq)).where(EVENTS.c.site_id == site_id,
                                                     EVENTS.c.epoch == LEGACY_EPOCH))
            ).scalar_one() or 0)
            self._legacy_top[site_id] = top
        low = sorted({e.seq for e in events if e.seq <= top})
        if not low:
            return set()
        ids: dict[int, str] = {}
        for i in range(0, len(low), IN_CHUNK):
            part = low[i:i + IN_CHUNK]
            rows = await session.execute(
                select(EVENTS.c.seq, EVENTS.c.uuid).where(
                    EVENTS.c.site_id == site_id, EVENTS.c.epoch == LEGACY_EPOCH,
                    EVENTS.c.seq.between(part[0], part[-1]), EVENTS.c.seq.in_(part)))
            ids.update((int(q), str(u)) for q, u in rows.all())
        return {e.seq for e in events if ids.get(e.seq) == e.id}

    async def _clip(self, session: AsyncSession, site_id: int, epoch: str,
                    gaps: list[tuple[int, int]], events: Sequence[Envelope],
                    blog: Any) -> list[tuple[int, int]]:
        """The batch's gaps cut at the highest seq the edge really sent in this epoch: the
        batch's own, or one stored before (the drop notice that follows a dropped range may
        have travelled in an earlier batch). A forged ``[24, 1000000000]`` stops there."""
        top = max((e.seq for e in events), default=0)
        if any(b > top for _, b in gaps):
            stored = (await session.execute(
                select(func.max(EVENTS.c.seq)).where(EVENTS.c.site_id == site_id,
                                                     EVENTS.c.epoch == epoch))).scalar_one()
            top = max(top, int(stored or 0))
        kept = clip_gaps(gaps, top)
        if kept != gaps:
            self.stats.gaps_clipped += sum(1 for g in gaps if g not in kept)
            blog.warning("ingest.gaps_clipped", declared=gaps[:8], kept=kept[:8], top=top)
        return kept

    async def _conflicts(self, session: AsyncSession, site_id: int, site: str, epoch: str,
                         conflicting: list[tuple[Envelope, str]], acked: int, held: int | None,
                         now: datetime, blog: Any) -> tuple[list[StoredEvent], int | None]:
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
        self.stats.conflicts_new += len(fresh)
        if not fresh:
            return [], held
        device_id = (await self._ensure_devices(session, site_id, {CONFLICT_DEVICE}))[
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

    async def _lock_site(self, session: AsyncSession, slug: str,
                         now: datetime) -> tuple[int, int]:
        """Create the site on first contact and lock its row for the rest of the transaction;
        its id and the acked mark it shows.

        The upsert's DO UPDATE takes the row lock on PostgreSQL (a concurrent batch of the same
        site waits here, so the watermarks are read and written by one transaction at a time);
        on SQLite, being the transaction's first write, it takes the database write lock.
        """
        ins = dialect_insert(session, SITES).values(
            slug=slug, name=slug, last_batch_at=now, last_seen_at=now)
        stmt = ins.on_conflict_do_update(
            index_elements=["slug"],
            set_={"last_batch_at": ins.excluded.last_batch_at,
                  "last_seen_at": ins.excluded.last_seen_at},
        ).returning(SITES.c.id, SITES.c.acked_seq)
        row = (await session.execute(stmt)).one()
        return int(row[0]), int(row[1])

    async def _lock_epoch(self, session: AsyncSession, site_id: int, epoch: str,
                          now: datetime) -> tuple[int, int | None]:
        """The epoch's (acked mark, held_at), creating it on first sight (under the site lock)."""
        ins = dialect_insert(session, EPOCHS).values(
            site_id=site_id, epoch=epoch, acked_seq=0, first_seen_at=now, last_batch_at=now)
        row = (await session.execute(
            ins.on_conflict_do_update(index_elements=["site_id", "epoch"],
                                      set_={"last_batch_at": ins.excluded.last_batch_at})
            .returning(EPOCHS.c.acked_seq, EPOCHS.c.held_at))).one()
        return int(row[0]), (None if row[1] is None else int(row[1]))

    async def _ensure_devices(self, session: AsyncSession, site_id: int,
                              keys: set[str]) -> dict[str, int]:
        if not keys:
            return {}
        query = select(Device.key, Device.id).where(Device.site_id == site_id)
        found = {k: i for k, i in (await session.execute(query.where(Device.key.in_(keys)))).all()}
        missing = keys - found.keys()
        if missing:
            await session.execute(
                dialect_insert(session, DEVICES)
                .values([{"site_id": site_id, "key": k} for k in sorted(missing)])
                .on_conflict_do_nothing(index_elements=["site_id", "key"]))
            found.update((await session.execute(query.where(Device.key.in_(missing)))).all())
        return {k: int(v) for k, v in found.items()}

    async def _insert_events(self, session: AsyncSession, site_id: int, epoch: str,
                             events: Sequence[Envelope], device_ids: dict[str, int],
                             now: datetime) -> dict[int, int]:
        """Insert what is new; return ``{seq: row id}`` of the rows this batch inserted."""
        stmt = (dialect_insert(session, EVENTS)
                .on_conflict_do_nothing(index_elements=["site_id", "epoch", "seq"])
                .returning(EVENTS.c.seq, EVENTS.c.id))
        rows = [{"site_id": site_id, "epoch": epoch, "seq": e.seq, "uuid": e.id, "ts": e.ts,
                 "kind": e.kind, "device": e.device, "device_id": device_ids[e.device],
                 "priority": int(e.priority), "data": e.data, "received_at": now}
                for e in events]
        inserted: dict[int, int] = {}
        if rows:
            # executemany + RETURNING: compiled once, sent as multi-row VALUES pages.
            result = await session.execute(stmt, rows)
            inserted.update((int(s), int(i)) for s, i in result.all())
        return inserted

    async def _touch_devices(self, session: AsyncSession, new: Sequence[StoredEvent]) -> None:
        latest: dict[int, datetime] = {}
        for e in new:
            if e.device_id not in latest or e.ts > latest[e.device_id]:
                latest[e.device_id] = e.ts
        stmt = (update(DEVICES)
                .where(DEVICES.c.id == bindparam("b_id"),
                       or_(DEVICES.c.last_event_at.is_(None),
                           DEVICES.c.last_event_at < bindparam("b_ts")))
                .values(last_event_at=bindparam("b_ts")))
        await session.execute(stmt, [{"b_id": i, "b_ts": ts} for i, ts in latest.items()])

    async def handle_status(self, topic: str, payload: bytes) -> IngestResult:
        """Apply the edge's retained ``online``/``offline`` (its Last Will) to the site."""
        parsed = topics.parse(topic)
        if parsed is None or parsed[1:] != ("up", "status"):
            return self._refuse("bad_topic", topic, field="topic", detail="not an up/status topic")
        site = parsed[0]
        text = payload.decode("utf-8", "replace").strip().strip('"').lower()
        if not text:
            return IngestResult(ok=True, site=site)  # a cleared retained message
        if text not in ("online", "offline"):
            return self._refuse("malformed", topic, site=site, field="payload",
                                detail=f"expected online or offline, got {text[:40]!r}")
        online = text == "online"
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            site_id, _ = await self._lock_site(session, site, now)
            changed = await session.execute(
                update(SITES).where(SITES.c.id == site_id, SITES.c.online.is_not(online))
                .values(online=online, status_changed_at=now))
        self.stats.status_updates += 1
        if getattr(changed, "rowcount", 0):
            log.info("site.status", site=site, online=online)
        return IngestResult(ok=True, site=site)


# -- PostgreSQL: one statement per step, rows as arrays (no per-row SQLAlchemy work) ---------

_PG_SELECT_DEVICES = "SELECT key, id FROM devices WHERE site_id = $1 AND key = ANY($2::text[])"
_PG_INSERT_DEVICES = (
    "INSERT INTO devices (site_id, key, online) SELECT $1, k, true FROM unnest($2::text[]) AS k"
    " ON CONFLICT (site_id, key) DO NOTHING")
_PG_INSERT_EVENTS = (
    "INSERT INTO events (site_id, epoch, seq, uuid, ts, kind, device, device_id, priority,"
    " data, received_at)"
    " SELECT $1, $11, v.seq, v.uuid, v.ts, v.kind, v.device, v.device_id, v.priority,"
    " v.data::jsonb, $2"
    " FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],"
    " $8::int[], $9::smallint[], $10::text[])"
    " AS v(seq, uuid, ts, kind, device, device_id, priority, data)"
    " ON CONFLICT (site_id, epoch, seq) DO NOTHING RETURNING seq, id")
#: The range bounds make the index scan stop at the batch's seqs (a generic plan would filter
#: ``= ANY`` over every row of the epoch).
_PG_STORED_IDS = (
    "SELECT seq, uuid FROM events WHERE site_id = $1 AND epoch = $2"
    " AND seq BETWEEN $3 AND $4 AND seq = ANY($5::bigint[])")
_PG_TOUCH_DEVICES = (
    "UPDATE devices AS d SET last_event_at = v.ts"
    " FROM unnest($1::int[], $2::timestamptz[]) AS v(id, ts)"
    " WHERE d.id = v.id AND (d.last_event_at IS NULL OR d.last_event_at < v.ts)")


async def _pg_ensure_devices(driver: Any, site_id: int, keys: set[str]) -> dict[str, int]:
    if not keys:
        return {}
    wanted = sorted(keys)
    found = {r[0]: int(r[1]) for r in await driver.fetch(_PG_SELECT_DEVICES, site_id, wanted)}
    missing = [k for k in wanted if k not in found]
    if missing:
        await driver.execute(_PG_INSERT_DEVICES, site_id, missing)
        found.update((r[0], int(r[1]))
                     for r in await driver.fetch(_PG_SELECT_DEVICES, site_id, missing))
    return found


async def _pg_insert_events(driver: Any, site_id: int, epoch: str,
                            events: Sequence[Envelope], data_json: Sequence[str],
                            device_ids: dict[str, int], now: datetime) -> dict[int, int]:
    """Insert what is new in one statement; return ``{seq: row id}`` of the inserted rows."""
    if not events:
        return {}
    rows = await driver.fetch(
        _PG_INSERT_EVENTS, site_id, now,
        [e.seq for e in events], [e.id for e in events], [e.ts for e in events],
        [e.kind for e in events], [e.device for e in events],
        [device_ids[e.device] for e in events], [int(e.priority) for e in events],
        list(data_json), epoch)
    return {int(r[0]): int(r[1]) for r in rows}


async def _pg_touch_devices(driver: Any, new: Sequence[StoredEvent]) -> None:
    latest: dict[int, datetime] = {}
    for e in new:
        if e.device_id not in latest or e.ts > latest[e.device_id]:
            latest[e.device_id] = e.ts
    await driver.execute(_PG_TOUCH_DEVICES, list(latest), list(latest.values()))


# -- identity: duplicates, conflicts, holds ----------------------------------------------------


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seqs as inclusive runs of consecutive integers."""
    out: list[tuple[int, int]] = []
    for q in seqs:
        if out and q == out[-1][1] + 1:
            out[-1] = (out[-1][0], q)
        else:
            out.append((q, q))
    return out


def _merge(site: str, epoch: str, group: Sequence[Decoded]) -> tuple[Batch, list[str]]:
    """The batches of one epoch as one (events in arrival order, gaps once each)."""
    if len(group) == 1:
        return group[0].batch, group[0].data_json
    gaps = list(dict.fromkeys(g for d in group for g in d.batch.gaps))
    return (Batch(site=site, epoch=epoch, events=[e for d in group for e in d.batch.events],
                  gaps=gaps),
            [t for d in group for t in d.data_json])


async def _classify(session: AsyncSession, driver: Any, site_id: int, epoch: str,
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
    for i in range(0, len(seqs), IN_CHUNK):
        part = seqs[i:i + IN_CHUNK]
        rows = await session.execute(
            select(EVENTS.c.seq, EVENTS.c.uuid).where(
                EVENTS.c.site_id == site_id, EVENTS.c.epoch == epoch,
                EVENTS.c.seq.between(part[0], part[-1]), EVENTS.c.seq.in_(part)))
        stored.update((int(s), str(u)) for s, u in rows.all())
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


async def _release_holds(session: AsyncSession, site_id: int, epoch: str,
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
