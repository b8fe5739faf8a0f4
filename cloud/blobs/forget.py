"""Forgetting blobs: the index rows and files of refs no stored event still references.

Retention (``cloud/retention``) and erasure (``cloud/privacy``) delete events, then hand the
refs those events carried to ``forget``. A ref another event still names (the same picture
sent for two reads, or the same bytes at another site) is kept. The check reads the plate
events of the refs' sites (the ``(site_id, kind, seq)`` index, then the refs in their data);
a shared blob (``site_id`` NULL) or one missing from the index is checked against every site.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.blobs.images import IMAGE_KINDS, REF_KEYS
from cloud.blobs.store import BlobStore, is_ref
from cloud.blobs.tables import Blob
from cloud.db.models import Event, Site

log = structlog.get_logger(__name__)

#: Refs per query (an ``IN`` list).
CHUNK = 500


async def referenced(session: AsyncSession, refs: Iterable[str],
                     site_ids: Iterable[int] | None = None) -> set[str]:
    """Which of ``refs`` some stored event's data names (in ``site_ids``; None: any site)."""
    wanted = sorted(set(refs))
    if not wanted:
        return set()
    if site_ids is None:
        sites = list((await session.scalars(select(Site.id))).all())
    else:
        sites = sorted(set(site_ids))
    found: set[str] = set()
    cols = [Event.data[k].as_string() for k in REF_KEYS]
    for i in range(0, len(wanted), CHUNK):
        part = wanted[i:i + CHUNK]
        rows = await session.execute(
            select(*cols).where(Event.site_id.in_(sites), Event.kind.in_(sorted(IMAGE_KINDS)),
                                or_(*(c.in_(part) for c in cols))))
        found.update(v for row in rows for v in row if v in part)
    return found


async def forget(session: AsyncSession, store: BlobStore, refs: Iterable[str]) -> int:
    """Delete the index rows and the stored bytes of those ``refs`` that no remaining event
    references; how many were forgotten. Strings that are not refs are ignored.

    Call it in the transaction that deleted the events, after deleting them. The files go at
    once, the index rows with the transaction: a rollback after this leaves index rows of
    deleted files (a later ``forget`` clears them) and events whose images answer 404.
    """
    wanted = sorted({r for r in refs if is_ref(r)})
    if not wanted:
        return 0
    owners: dict[str, int | None] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = await session.execute(
            select(Blob.ref, Blob.site_id).where(Blob.ref.in_(wanted[i:i + CHUNK])))
        owners.update((str(ref), site_id) for ref, site_id in rows.all())
    shared = [r for r in wanted if owners.get(r) is None]
    by_site: dict[int, list[str]] = {}
    for ref, site_id in owners.items():
        if site_id is not None:
            by_site.setdefault(site_id, []).append(ref)
    kept = await referenced(session, shared) if shared else set()
    for site_id, site_refs in by_site.items():
        kept |= await referenced(session, site_refs, [site_id])
    gone = [r for r in wanted if r not in kept]
    for i in range(0, len(gone), CHUNK):
        await session.execute(delete(Blob).where(Blob.ref.in_(gone[i:i + CHUNK])))
    forgotten = 0
    for ref in gone:
        deleted = await store.delete(ref)
        forgotten += int(deleted or ref in owners)
    log.info("blobs.forgotten", asked=len(wanted), kept=len(kept), forgotten=forgotten)
    return forgotten


async def detach(session: AsyncSession, site_id: int, refs: Iterable[str]) -> int:
    """Take ``refs`` out of the site's plate events that keep them (the event stays, its
    image is gone: the ref key becomes null and the image is named in ``images_purged``);
    how many events changed. Then ``forget`` the refs."""
    wanted = sorted({r for r in refs if is_ref(r)})
    changed = 0
    cols = [Event.data[k].as_string() for k in REF_KEYS]
    for i in range(0, len(wanted), CHUNK):
        part = set(wanted[i:i + CHUNK])
        rows = (await session.execute(
            select(Event.id, Event.data).where(
                Event.site_id == site_id, Event.kind.in_(sorted(IMAGE_KINDS)),
                or_(*(c.in_(sorted(part)) for c in cols))))).all()
        for event_id, data in rows:
            new = dict(data)
            purged = [k.removesuffix("_blob") for k in REF_KEYS if new.get(k) in part]
            for k in REF_KEYS:
                if new.get(k) in part:
                    new[k] = None
            before = new.get("images_purged")
            new["images_purged"] = list(dict.fromkeys(
                [*(before if isinstance(before, list) else []), *purged]))
            await session.execute(update(Event).where(Event.id == event_id).values(data=new))
            changed += 1
    return changed
