"""The contiguous ack watermark of one outbox epoch: the highest N such that every seq ≤ N of
that epoch is stored or declared dropped (each epoch of a site has its own).

The edge deletes what an ack covers, so the watermark must never pass a seq the cloud does not
hold. In the common in-order case the batch itself advances it and one indexed look-up shows
nothing beyond; after an out-of-order arrival the stored seqs past the old watermark are read
page by page.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Event, SeqGap

PAGE = 5000


def contiguous_upto(start: int, seqs: Iterable[int], gaps: Iterable[tuple[int, int]]) -> int:
    """Advance ``start`` through seqs and inclusive gap ranges while they leave no hole."""
    w = start
    pending = sorted(s for s in set(seqs) if s > w)
    ranges = sorted((a, b) for a, b in gaps if b > w)
    i = j = 0
    while True:
        moved = False
        while j < len(ranges) and ranges[j][0] <= w + 1:
            w = max(w, ranges[j][1])
            j += 1
            moved = True
        while i < len(pending) and pending[i] <= w + 1:
            w = max(w, pending[i])
            i += 1
            moved = True
        if not moved:
            return w


async def advance_watermark(session: AsyncSession, site_id: int, epoch: str, current: int,
                            batch_seqs: Iterable[int],
                            batch_gaps: Iterable[tuple[int, int]]) -> int:
    """New watermark of a site's epoch, inside the batch's transaction (the site row is
    locked). The batch's gaps must already be clipped (``identity.clip_gaps``)."""
    w = contiguous_upto(current, batch_seqs, batch_gaps)
    gap_rows = (await session.execute(
        select(SeqGap.seq_from, SeqGap.seq_to)
        .where(SeqGap.site_id == site_id, SeqGap.epoch == epoch, SeqGap.seq_to > w)
    )).all()
    gaps = [(int(a), int(b)) for a, b in gap_rows]
    while True:
        seqs = list((await session.scalars(
            select(Event.seq).where(Event.site_id == site_id, Event.epoch == epoch,
                                    Event.seq > w)
            .order_by(Event.seq).limit(PAGE)
        )).all())
        new_w = contiguous_upto(w, seqs, gaps)
        if new_w == w or len(seqs) < PAGE or new_w < seqs[-1]:
            return new_w
        w = new_w
