"""``forget`` (for purge and erasure) deletes the index row and the file of a ref only when no
remaining event references it; ``detach`` takes refs out of events that stay."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs import Blob, FsBlobStore, detach, forget, ref_of, refs_in
from cloud.db.models import Event, Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import FakeClock, topics
from tests.cloud.blobs.plates import T0, envelope, files, jpeg, payload, read_data


async def _indexed(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as s:
        return set((await s.scalars(select(Blob.ref))).all())


async def test_forget_keeps_what_a_remaining_event_references(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    ingestor = Ingestor(sessions, FakeClock(T0), default_registry(), blobs=store)
    a, b, shared = jpeg(10), jpeg(20), jpeg(30)
    assert (await ingestor.handle(topics.up_events("north"), payload(
        "north", envelope(1, "plate.read", read_data("粤B11111", a, shared)),
        envelope(2, "plate.read", read_data("粤B22222", b, shared))))).ok
    assert (await ingestor.handle(topics.up_events("south"), payload(
        "south", envelope(1, "plate.read", read_data("粤B33333", shared))))).ok
    async with sessions() as s:
        first = (await s.scalars(select(Event.data).where(Event.seq == 1).join(
            Site, Site.id == Event.site_id).where(Site.slug == "north"))).one()
    assert set(refs_in(first)) == {ref_of(a), ref_of(shared)}

    # Purge deletes north's first read, then forgets what it carried (and a stray string).
    async with sessions() as s, s.begin():
        north = (await s.scalars(select(Site.id).where(Site.slug == "north"))).one()
        await s.execute(delete(Event).where(Event.site_id == north, Event.seq == 1))
        assert await forget(s, store, [*refs_in(first), "sha256:../etc"]) == 1
    assert await _indexed(sessions) == {ref_of(b), ref_of(shared)}
    assert await store.get(ref_of(a)) is None and await store.get(ref_of(shared)) == shared

    # North's second read goes too: the shared frame stays for south's read.
    async with sessions() as s, s.begin():
        await s.execute(delete(Event).where(Event.site_id == north))
        assert await forget(s, store, [ref_of(b), ref_of(shared)]) == 1
    assert await _indexed(sessions) == {ref_of(shared)}
    assert [p.name for p in files(tmp_path / "blobs")] == [ref_of(shared)[7:]]

    # South keeps its read but its image is purged (images are kept shorter than reads).
    async with sessions() as s, s.begin():
        south = (await s.scalars(select(Site.id).where(Site.slug == "south"))).one()
        assert await detach(s, south, [ref_of(shared)]) == 1
        assert await forget(s, store, [ref_of(shared)]) == 1
    async with sessions() as s:
        data = (await s.scalars(select(Event.data).where(Event.site_id == south))).one()
    assert data["evidence_blob"] is None and data["images_purged"] == ["evidence"]
    assert data["plate_raw"] == "粤B33333"
    assert await _indexed(sessions) == set() and files(tmp_path / "blobs") == []
