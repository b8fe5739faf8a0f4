"""A site's batches applied in seq order when several ingest workers share the subscription.

With ``$share`` two workers may each receive one of a site's consecutive batches (the edge keeps
several in flight). The site row lock and the contiguous watermark keep the acks right either
way, but the domain handlers would see batch N+1 before batch N. So a batch waits, before it is
stored, until the position just before it is accounted for: at or below its epoch's watermark,
stored, or declared dropped. The wait is bounded: a predecessor lost in transit is resent by the
edge after its ack timeout, which must not stall the site, so after ``bound`` seconds the batch
is stored anyway (``ingest.order_wait_timeout``, counted).

Cheap in the common case: what this worker stored itself answers without a query, and on
PostgreSQL so does what the others stored: each store announces, in its transaction, the top
position it accounted for (``INGEST_STORED``, delivered on commit), and every worker listens
(``listen``). A notice wakes the site's waiters at once. Polling the database remains the safety
net for a notice missed while a listener reconnects: a few ms apart and backing off without a
listener, rarely with one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import cast

import structlog
from sqlalchemy import Exists, Table, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import LEGACY_EPOCH, Event, IngestEpoch, SeqGap, Site
from cloud.db.notify import Channel, listen_pg
from cloud.ingest.ingestor import Decoded

log = structlog.get_logger(__name__)

EVENTS = cast(Table, Event.__table__)
GAPS = cast(Table, SeqGap.__table__)
EPOCHS = cast(Table, IngestEpoch.__table__)
SITES = cast(Table, Site.__table__)

#: "<site> <epoch> <top>": a committed store accounted for every position of that site's epoch
#: up to ``top`` (its batches waited for their turn, so the positions before them too).
INGEST_STORED = Channel("courtyard_ingest_stored")
LISTEN_APPLICATION_NAME = "courtyard-ingest-order"


def span(d: Decoded) -> tuple[int, int] | None:
    """The lowest and highest position a batch accounts for (its events and declared gaps)."""
    seqs = [e.seq for e in d.batch.events]
    if not seqs:
        return None
    low = min([*seqs, *(a for a, _ in d.batch.gaps)])
    return low, max(seqs)


def follows(prev: Decoded, nxt: Decoded) -> bool:
    """Whether ``nxt`` may be stored in one transaction after ``prev`` without skipping a
    position another worker may hold (another epoch: each is ordered on its own)."""
    if prev.batch.epoch != nxt.batch.epoch:
        return True
    a, b = span(prev), span(nxt)
    return a is None or b is None or b[0] <= a[1] + 1


class SeqOrder:
    """Per worker: waits for a batch's turn, remembers what this worker stored."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None, *, bound: float = 3.0,
                 poll: float = 0.005, max_poll: float = 0.05, listened_poll: float = 0.2,
                 listened_max_poll: float = 1.0) -> None:
        self._sessions = sessions
        #: No sessions (a stand-in ingestor): no waiting.
        self.bound = bound if sessions is not None else 0.0
        self._poll = poll
        self._max_poll = max(poll, max_poll)
        self._listened_poll = listened_poll
        self._listened_max_poll = max(listened_poll, listened_max_poll)
        #: (site, epoch) → highest position stored (committed) by this worker or, as heard in
        #: a notice, by another.
        self._tops: dict[tuple[str, str], int] = {}
        self._wake: dict[str, asyncio.Event] = {}
        #: PostgreSQL: stores announce what they accounted for (``listen`` found the dialect).
        self._announcing = False
        #: Notices are being heard now (between a listener's start and its loss).
        self.listening = False
        self.counters: dict[str, int] = {"order_waits": 0, "order_wait_timeouts": 0,
                                         "order_polls": 0, "order_notices": 0}

    def stored(self, site: str, group: Sequence[Decoded]) -> None:
        """Note committed batches and wake this worker's waiters of the site."""
        for d in group:
            s = span(d)
            if s is not None:
                key = (site, d.batch.epoch)
                self._tops[key] = max(self._tops.get(key, 0), s[1])
        self._wake_site(site)

    def _wake_site(self, site: str) -> None:
        ev = self._wake.pop(site, None)
        if ev is not None:
            ev.set()

    async def announce(self, session: AsyncSession, site: str,
                       group: Sequence[Decoded]) -> None:
        """In the storing transaction: tell every worker, on commit, the top position of each
        epoch these batches accounted for (nothing on a rollback)."""
        if not self._announcing:
            return
        tops: dict[str, int] = {}
        for d in group:
            s = span(d)
            if s is not None:
                tops[d.batch.epoch] = max(tops.get(d.batch.epoch, 0), s[1])
        for epoch, top in tops.items():
            await INGEST_STORED.send(session, f"{site} {epoch} {top}")

    def heard(self, payload: str) -> None:
        """A notice from a store that committed (possibly this worker's own)."""
        parts = payload.split(" ")
        if len(parts) != 3 or not parts[2].isascii() or not parts[2].isdigit():
            return  # not ours: ignored
        site, epoch, top = parts[0], parts[1], int(parts[2])
        self.counters["order_notices"] += 1
        key = (site, epoch)
        if top > self._tops.get(key, 0):
            self._tops[key] = top
        self._wake_site(site)

    async def listen(self) -> None:
        """Hear the other workers' stores until cancelled (PostgreSQL; elsewhere, return:
        several workers need PostgreSQL)."""
        if self._sessions is None or self.bound <= 0:
            return
        async with self._sessions() as session:
            bind = session.get_bind().engine
        if bind.dialect.name != "postgresql":
            return
        self._announcing = True
        dsn = bind.url.set(drivername="postgresql").render_as_string(hide_password=False)

        async def on_ready(_reconnected: bool) -> None:
            self.listening = True
            for site in list(self._wake):  # notices may have been missed: look again
                self._wake_site(site)

        def on_lost() -> None:
            self.listening = False

        await listen_pg(dsn, {INGEST_STORED.name: self.heard},
                        application_name=LISTEN_APPLICATION_NAME, on_ready=on_ready,
                        on_lost=on_lost, bound=log.bind(part="ingest_order"))

    async def wait_turn(self, site: str, d: Decoded) -> bool:
        """Return once the batch may be stored: True in its turn, False after the bound."""
        s = span(d)
        if s is None or self.bound <= 0:
            return True
        epoch, prev = d.batch.epoch, s[0] - 1
        if self._ready_here(site, epoch, prev) or await self._ready_in_db(site, epoch, prev):
            return True
        self.counters["order_waits"] += 1
        delay = self._listened_poll if self.listening else self._poll
        try:
            async with asyncio.timeout(self.bound):
                while True:
                    ev = self._wake.setdefault(site, asyncio.Event())
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await ev.wait()
                    if (self._ready_here(site, epoch, prev)
                            or await self._ready_in_db(site, epoch, prev)):
                        return True
                    delay = min(delay * 2, self._listened_max_poll if self.listening
                                else self._max_poll)
        except TimeoutError:
            self.counters["order_wait_timeouts"] += 1
            log.warning("ingest.order_wait_timeout", site=site, epoch=epoch, first=s[0],
                        waited_s=self.bound,
                        note="stored out of order; the edge resends the missing batch")
            return False

    def _ready_here(self, site: str, epoch: str, prev: int) -> bool:
        return prev <= 0 or prev <= self._tops.get((site, epoch), 0)

    async def _ready_in_db(self, site: str, epoch: str, prev: int) -> bool:
        """Is position ``prev`` accounted for: under the mark, stored, or declared dropped?
        A new epoch's first batch may follow events stored before epochs (an upgraded box)."""
        self.counters["order_polls"] += 1
        assert self._sessions is not None
        site_id = select(SITES.c.id).where(SITES.c.slug == site).scalar_subquery()
        mark = (select(EPOCHS.c.acked_seq)
                .where(EPOCHS.c.site_id == site_id, EPOCHS.c.epoch == epoch).scalar_subquery())

        def stored_at(ep: str) -> Exists:
            return exists().where(EVENTS.c.site_id == site_id, EVENTS.c.epoch == ep,
                                  EVENTS.c.seq == prev)

        dropped = exists().where(GAPS.c.site_id == site_id, GAPS.c.epoch == epoch,
                                 GAPS.c.seq_from <= prev, GAPS.c.seq_to >= prev)
        async with self._sessions() as session:
            row = (await session.execute(select(mark, stored_at(epoch), dropped,
                                                stored_at(LEGACY_EPOCH)))).one()
        acked, here, gap, legacy = row
        if acked is None:
            return bool(legacy)
        return int(acked) >= prev or bool(here) or bool(gap)
