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

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs import BlobStore, index_blobs, take_images
from cloud.db.dialect import dialect_insert, dialect_name, pg_driver
from cloud.db.models import LEGACY_EPOCH, Device, Event, IngestEpoch, SeqGap, Site
from cloud.ingest.handlers import HandlerContext, HandlerRegistry, StoredEvent
from cloud.ingest.health import handle_health
from cloud.ingest.identity import (
    classify,
    clip_gaps,
    record_conflicts,
    release_holds,
    runs,
    stored_ids,
)
from cloud.ingest.pg_steps import pg_ensure_devices, pg_insert_events, pg_touch_devices
from cloud.ingest.quarantine import quarantined, stored_limit_problem
from cloud.ingest.result import IngestResult, IngestStats
from cloud.ingest.watermark import advance_watermark
from contract import (
    Ack,
    Batch,
    Clock,
    ContractError,
    Envelope,
    Rejected,
    decode_batch_lenient,
    jsoncodec,
    topics,
)

log = structlog.get_logger(__name__)

EVENTS = cast(Table, Event.__table__)
DEVICES = cast(Table, Device.__table__)
SITES = cast(Table, Site.__table__)
GAPS = cast(Table, SeqGap.__table__)
EPOCHS = cast(Table, IngestEpoch.__table__)
#: (session, site, the stored batches) → None, awaited in the store's transaction.
Announce = Callable[[AsyncSession, str, Sequence["Decoded"]], Awaitable[None]]



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
    """Turns ``up/events``, ``up/status`` and ``up/health`` payloads into committed records."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock,
                 registry: HandlerRegistry, blobs: BlobStore | None = None) -> None:
        self.sessions = self._sessions = session_factory  # also for cloud.ingest.order
        self._blobs = blobs  # plate images go here before the transaction (None: inline)
        self._clock = clock
        self.registry = registry
        self.stats = IngestStats()
        #: Per site, the highest seq stored before epochs (0: none). Those rows never change,
        #: so any worker may cache it.
        self._legacy_top: dict[int, int] = {}
        #: Called in each store's transaction, last (``SeqOrder.announce`` of a shared worker).
        self.announce: Announce | None = None

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
            problem = stored_limit_problem(ev)
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
                env, data = quarantined(r, now)
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
        decoded, images = await take_images(self._blobs, decoded, self.stats.handlers)
        by_epoch: dict[str, list[Decoded]] = {}
        for d in decoded:
            by_epoch.setdefault(d.batch.epoch, []).append(d)
        bound = log.bind(site=site)
        results: list[IngestResult] = []
        async with self._sessions() as session, session.begin():
            now = self._clock.now()
            site_id, shown = await self._lock_site(session, site, now)
            await index_blobs(session, site_id, images, now)
            for epoch, group in by_epoch.items():
                batch, texts = _merge(site, epoch, group)
                results.append(await self._apply(session, site_id, batch, texts, now,
                                                 bound.bind(epoch=epoch)))
            last = results[-1]
            if last.ack_upto != shown:
                await session.execute(update(SITES).where(SITES.c.id == site_id)
                                      .values(acked_seq=last.ack_upto))
            if self.announce is not None:
                await self.announce(session, site, decoded)
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
            device_ids = await pg_ensure_devices(driver, site_id, keys)
            inserted = await pg_insert_events(driver, site_id, epoch, events, data_json,
                                               device_ids, now)
        else:
            device_ids = await self._ensure_devices(session, site_id, keys)
            inserted = await self._insert_events(session, site_id, epoch, events, device_ids,
                                                 now)
        again = [e for e in events if e.seq not in inserted] + later
        duplicates, conflicting = await classify(session, driver if pg else None, site_id,
                                                  epoch, again, inserted,
                                                  {e.seq: e.id for e in events})
        gaps = batch.gaps
        if gaps:
            gaps = await self._clip(session, site_id, epoch, gaps, events, blog)
        if twins:  # stored under ``legacy``: this epoch's positions are accounted for
            gaps = list(dict.fromkeys([*gaps, *runs(sorted(twins))]))
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
            held = await release_holds(session, site_id, epoch, duplicates, now, blog)
        if conflicting:
            alarms, held = await record_conflicts(session, site_id, epoch, conflicting, acked,
                                                  held, now, blog, self.stats,
                                                  self._ensure_devices)
            new.extend(alarms)
        if new:
            if pg:
                await pg_touch_devices(driver, new)
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
        ids = await stored_ids(session, site_id, LEGACY_EPOCH, low)
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

    async def handle_health(self, topic: str, payload: bytes) -> IngestResult:
        """Keep the edge's ``up/health`` report as its site's latest (cloud.ingest.health)."""
        return await handle_health(topic, payload, self._sessions, self._clock, self.registry,
                                   self.stats, self._refuse)


def _merge(site: str, epoch: str, group: Sequence[Decoded]) -> tuple[Batch, list[str]]:
    """The batches of one epoch as one (events in arrival order, gaps once each)."""
    if len(group) == 1:
        return group[0].batch, group[0].data_json
    gaps = list(dict.fromkeys(g for d in group for g in d.batch.gaps))
    return (Batch(site=site, epoch=epoch, events=[e for d in group for e in d.batch.events],
                  gaps=gaps),
            [t for d in group for t in d.data_json])
