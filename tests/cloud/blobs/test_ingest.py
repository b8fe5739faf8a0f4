"""Ingest takes plate images out of event data into the blob store (SQLite and PostgreSQL):
the stored event carries refs, the bytes are the edge's, a redelivered batch stores nothing
twice, bad base64 drops only that image, and an edge cannot plant a ref of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs import Blob, FsBlobStore, ref_of
from cloud.db.models import Event, Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import FakeClock, topics
from tests.cloud.blobs.plates import T0, b64, envelope, files, jpeg, payload, read_data


def _ingestor(sessions: async_sessionmaker[AsyncSession], store: FsBlobStore | None) -> Ingestor:
    return Ingestor(sessions, FakeClock(T0), default_registry(), blobs=store)


async def _events(sessions: async_sessionmaker[AsyncSession]) -> dict[int, dict[str, Any]]:
    async with sessions() as s:
        return {int(q): d for q, d in (await s.execute(select(Event.seq, Event.data))).all()}


async def _blobs(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[Any, ...]]:
    async with sessions() as s:
        rows = (await s.execute(select(Blob.ref, Site.slug, Blob.data_class, Blob.content_type,
                                       Blob.bytes).outerjoin(Site, Site.id == Blob.site_id))).all()
    return {r[0]: tuple(r[1:]) for r in rows}


async def test_a_plate_read_is_stored_with_refs_and_its_images_in_the_store(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    ingestor = _ingestor(sessions, store)
    full, crop, later = jpeg(40), jpeg(200), jpeg(120)
    read = envelope(1, "plate.read", read_data("粤B22222", full, crop))
    evidence = envelope(2, "plate.evidence", {"v": 1, "read": read.id, "camera": "cam-in",
                                              "evidence_jpeg_b64": b64(later),
                                              "crop_jpeg_b64": None})
    meter = envelope(3, "meter.reading", {"values": {"energy_import_kwh": 1.5}}, "meter-1")
    body = payload("north", read, evidence, meter)
    result = await ingestor.handle(topics.up_events("north"), body)
    assert result.ok and result.inserted == 3

    stored = await _events(sessions)
    assert stored[1]["evidence_blob"] == ref_of(full) and stored[1]["crop_blob"] == ref_of(crop)
    assert stored[2]["evidence_blob"] == ref_of(later) and stored[2]["crop_blob"] is None
    for data in stored.values():
        assert not any(k.endswith("_jpeg_b64") for k in data), data
    assert stored[1]["plate_raw"] == "粤B22222" and stored[3] == meter.data
    for image in (full, crop, later):
        assert await store.get(ref_of(image)) == image
    assert await _blobs(sessions) == {
        ref_of(i): ("north", "plate_images", "image/jpeg", len(i)) for i in (full, crop, later)}
    assert ingestor.stats.as_dict()["ingest_images_stored"] == 3

    # Redelivered (the ack was lost): one copy of each blob, one index row, one event.
    on_disk = files(tmp_path / "blobs")
    again = await ingestor.handle(topics.up_events("north"), body)
    assert again.ok and again.inserted == 0 and again.duplicates == 3
    assert files(tmp_path / "blobs") == on_disk and len(on_disk) == 3
    assert len(await _blobs(sessions)) == 3 and await _events(sessions) == stored


async def test_bad_base64_drops_that_image_only_and_is_counted(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    ingestor = _ingestor(sessions, store)
    full = jpeg(60)
    data = {**read_data("粤B33333", full), "crop_jpeg_b64": "not base64!!",
            "images_dropped": ["crop"]}
    odd = {**read_data("粤B44444"), "evidence_jpeg_b64": 12345}
    result = await ingestor.handle(topics.up_events("north"), payload(
        "north", envelope(1, "plate.read", data), envelope(2, "plate.read", odd)))
    assert result.ok and result.inserted == 2 and result.ack_upto == 2
    stored = await _events(sessions)
    assert stored[1]["evidence_blob"] == ref_of(full) and stored[1]["crop_blob"] is None
    assert stored[1]["images_dropped"] == ["crop"]
    assert stored[2]["evidence_blob"] is None and stored[2]["images_dropped"] == ["evidence"]
    counters = ingestor.stats.as_dict()
    assert counters["ingest_images_dropped"] == 2 and counters["ingest_images_stored"] == 1
    assert len(files(tmp_path / "blobs")) == 1


async def test_a_ref_sent_by_the_edge_is_not_kept(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    planted = "sha256:" + "ab" * 32
    for seq, ingestor in ((1, _ingestor(sessions, store)), (2, _ingestor(sessions, None))):
        data = {**read_data("粤B55555"), "evidence_blob": planted, "crop_blob": "sha256:../x"}
        assert (await ingestor.handle(topics.up_events("north"), payload(
            "north", envelope(seq, "plate.read", data)))).ok
    stored = await _events(sessions)
    assert stored[1]["evidence_blob"] is None and stored[1]["crop_blob"] is None
    assert "evidence_blob" not in stored[2] and "crop_blob" not in stored[2]


async def test_without_a_store_images_stay_inline(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    full = jpeg(30)
    assert (await _ingestor(sessions, None).handle(topics.up_events("north"), payload(
        "north", envelope(1, "plate.read", read_data("粤B66666", full))))).ok
    assert (await _events(sessions))[1]["evidence_jpeg_b64"] == b64(full)
    assert await _blobs(sessions) == {}


async def test_the_same_bytes_at_two_sites_are_one_shared_blob(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    ingestor = _ingestor(sessions, store)
    image = jpeg(77)
    for seq, site in ((1, "north"), (2, "north"), (1, "south")):  # the same frame twice
        assert (await ingestor.handle(topics.up_events(site), payload(
            site, envelope(seq, "plate.read", read_data("粤B77777", image))))).ok
    assert await _blobs(sessions) == {ref_of(image): (None, "plate_images", "image/jpeg",
                                                      len(image))}
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Event))).scalar_one() == 3
