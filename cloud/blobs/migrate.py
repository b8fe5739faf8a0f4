"""``courtyard cloud blobs migrate [--site SLUG] [--batch N]``: move the plate images still
inline in stored events (``evidence_jpeg_b64`` / ``crop_jpeg_b64``, from before the blob store)
into the store, leaving refs in the events as ingest does now.

Per site, ``batch`` events at a time, in id order: read them, put their images in the store
(outside any transaction: file writes are slow), then in one short transaction rewrite those
events' data and index the blobs. Printing one line per batch. Resumable: a converted event
has no inline image left, so a run stopped half-way (or run twice) picks up what is left; a
blob put before a crash is simply put again (content-addressed). Ingest only inserts events,
so it never races with this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs.images import IMAGE_KINDS, IMAGES, externalise
from cloud.blobs.store import BlobStore
from cloud.blobs.tables import BlobRow, index_blobs
from cloud.db.models import Event, Site
from cloud.db.site_selection import sites_named
from contract import Clock

log = structlog.get_logger(__name__)

DEFAULT_BATCH = 200


@dataclass
class SiteMigration:
    site: str
    events: int = 0
    images: int = 0
    dropped: int = 0


def _inline() -> Any:
    return or_(*(Event.data[k].as_string().is_not(None) for k in IMAGES))


async def migrate_site(sessions: async_sessionmaker[AsyncSession], store: BlobStore,
                       site: Site, clock: Clock, batch: int = DEFAULT_BATCH,
                       say: Callable[[str], None] = print) -> SiteMigration:
    """Convert one site's events with inline images, ``batch`` per transaction."""
    done = SiteMigration(site.slug)
    after = 0
    while True:
        async with sessions() as session:
            rows = (await session.execute(
                select(Event.id, Event.data)
                .where(Event.site_id == site.id, Event.kind.in_(sorted(IMAGE_KINDS)),
                       Event.id > after, _inline())
                .order_by(Event.id).limit(batch))).all()
        if not rows:
            return done
        changed: list[tuple[int, dict[str, object]]] = []
        blobs: list[BlobRow] = []
        for event_id, data in rows:
            new, taken, dropped = await externalise(data or {}, store)
            changed.append((int(event_id), new))
            blobs.extend(taken)
            done.dropped += dropped
        async with sessions() as session, session.begin():
            for event_id, new in changed:
                await session.execute(update(Event).where(Event.id == event_id)
                                      .values(data=new))
            await index_blobs(session, site.id, blobs, clock.now())
        after = changed[-1][0]
        done.events += len(changed)
        done.images += len(blobs)
        say(f"站点 {site.slug}: 已迁移 {done.events:,} 条事件、{done.images:,} 张图片 / "
            f"{done.events:,} events, {done.images:,} images moved")


async def migrate(sessions: async_sessionmaker[AsyncSession], store: BlobStore, clock: Clock,
                  *, site: str | None = None, batch: int = DEFAULT_BATCH,
                  say: Callable[[str], None] = print) -> list[SiteMigration]:
    """Migrate ``site`` (every site when None); ``LookupError`` for an unknown site."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    out = []
    for s in await sites_named(sessions, site):
        done = await migrate_site(sessions, store, s, clock, batch, say)
        log.info("blobs.migrated", site=s.slug, events=done.events, images=done.images,
                 dropped=done.dropped)
        say(f"站点 {s.slug} 完成 / done: {done.events:,} 条事件 / events, {done.images:,} 张图片 / "
            f"images, {done.dropped:,} 张无法解码已丢弃 / undecodable, dropped")
        out.append(done)
    return out


def main(site: str | None, batch: int) -> int:
    """The CLI: migrate the database, move the images, print per batch; 2 for bad input."""
    import sys

    from cloud.blobs import blob_store_from_settings
    from cloud.cli_task import run_on_console_db, say
    from contract import SystemClock

    if batch < 1:
        print(f"--batch: 至少 1 / at least 1 (got {batch})", file=sys.stderr)
        return 2

    async def work(sessions: Any, settings: Any) -> None:
        await migrate(sessions, blob_store_from_settings(settings), SystemClock(), site=site,
                      batch=batch, say=say)

    return run_on_console_db(work, site=site)
