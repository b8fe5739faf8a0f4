"""``courtyard cloud blobs migrate``: images still inline in events stored before the blob store
move into it, batch by batch with progress per site; a run stopped half-way is resumed by the
next, and events already converted are left alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.blobs import Blob, FsBlobStore, ref_of
from cloud.blobs.migrate import migrate
from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Event, Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import FakeClock, topics
from courtyard.cli import main
from tests.cloud.blobs.plates import T0, b64, envelope, files, jpeg, payload, read_data
from tests.support.services import migrated_sqlite_copy

IMAGES = [jpeg(s) for s in (10, 60, 110, 160)]


async def _old_events(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What a console before the blob store kept: base64 in the events."""
    inline = Ingestor(sessions, FakeClock(T0), default_registry())
    a, b, c, d = IMAGES
    read = envelope(2, "plate.read", read_data("粤B22222"))
    assert (await inline.handle(topics.up_events("north"), payload(
        "north", envelope(1, "plate.read", read_data("粤B11111", a, b)), read,
        envelope(3, "plate.evidence", {"v": 1, "read": read.id, "evidence_jpeg_b64": b64(c)}),
        envelope(4, "plate.read", {**read_data("粤B44444"), "crop_jpeg_b64": "@@bad@@"}),
        envelope(5, "meter.reading", {"values": {"energy_import_kwh": 2.0}}, "m-1")))).ok
    assert (await inline.handle(topics.up_events("south"), payload(
        "south", envelope(1, "plate.read", read_data("粤B55555", d))))).ok


async def _by_site(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, int], Any]:
    async with sessions() as s:
        rows = (await s.execute(select(Site.slug, Event.seq, Event.data)
                                .join(Site, Site.id == Event.site_id))).all()
    return {(slug, int(seq)): data for slug, seq, data in rows}


class Stop(Exception):
    pass


async def test_migrate_moves_inline_images_and_resumes_where_it_stopped(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await _old_events(sessions)
    before = await _by_site(sessions)
    store = FsBlobStore(tmp_path / "blobs")
    said: list[str] = []

    def stop_after_first(line: str) -> None:
        said.append(line)
        raise Stop  # killed right after the first batch committed

    with pytest.raises(Stop):
        await migrate(sessions, store, FakeClock(T0), batch=1, say=stop_after_first)
    half = await _by_site(sessions)
    assert half[("north", 1)]["evidence_blob"] == ref_of(IMAGES[0])
    assert half[("north", 3)] == before[("north", 3)]  # not reached yet

    await migrate(sessions, store, FakeClock(T0), batch=1, say=said.append)
    after = await _by_site(sessions)
    a, b, c, d = IMAGES
    assert (after[("north", 1)]["evidence_blob"], after[("north", 1)]["crop_blob"]) == (
        ref_of(a), ref_of(b))
    assert after[("north", 3)]["evidence_blob"] == ref_of(c)
    assert after[("north", 4)]["crop_blob"] is None
    assert after[("north", 4)]["images_dropped"] == ["crop"]
    assert after[("south", 1)]["evidence_blob"] == ref_of(d)
    assert after[("north", 2)] == before[("north", 2)]  # no image: untouched
    assert after[("north", 5)] == before[("north", 5)]
    for data in after.values():
        assert not any(data.get(k) for k in ("evidence_jpeg_b64", "crop_jpeg_b64")), data
    for image in IMAGES:
        assert await store.get(ref_of(image)) == image
    async with sessions() as s:
        assert set((await s.scalars(select(Blob.ref))).all()) == {ref_of(i) for i in IMAGES}
    # Per batch and per site, zh then en; the resumed run starts with what was left.
    assert said[0] == "站点 north: 已迁移 1 条事件、2 张图片 / 1 events, 2 images moved"
    assert "站点 north: 已迁移 2 条事件、1 张图片 / 2 events, 1 images moved" in said
    assert any(line.startswith("站点 south 完成 / done: 1 条事件") for line in said)

    # Run again: nothing left to move.
    said.clear()
    done = await migrate(sessions, store, FakeClock(T0), batch=50, say=said.append)
    assert [(m.site, m.events, m.images) for m in done] == [("north", 0, 0), ("south", 0, 0)]
    assert await _by_site(sessions) == after and len(files(tmp_path / "blobs")) == 4


@pytest.mark.usefixtures("restore_logging")
def test_the_command_migrates_one_site_and_refuses_an_unknown_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = migrated_sqlite_copy(tmp_path / "cloud.db")
    monkeypatch.setenv("COURTYARD_DATABASE_URL", url)
    monkeypatch.setenv("COURTYARD_BLOB_DIR", str(tmp_path / "images"))

    async def seed() -> dict[tuple[str, int], Any]:
        engine = make_engine(url)
        try:
            await _old_events(session_factory(engine))
            return await _by_site(session_factory(engine))
        finally:
            await engine.dispose()

    before = asyncio.run(seed())
    capsys.readouterr()  # the seeding's log lines
    assert main(["cloud", "blobs", "migrate", "--site", "south", "--batch", "10"]) == 0
    out = capsys.readouterr().out
    assert "站点 south: 已迁移 1 条事件、1 张图片 / 1 events, 1 images moved" in out
    assert "north" not in out

    async def read() -> dict[tuple[str, int], Any]:
        engine = make_engine(url)
        try:
            return await _by_site(session_factory(engine))
        finally:
            await engine.dispose()

    after = asyncio.run(read())
    assert after[("south", 1)]["evidence_blob"] == ref_of(IMAGES[3])
    assert after[("north", 1)] == before[("north", 1)]  # another site: not asked
    assert [p.name for p in files(tmp_path / "images")] == [ref_of(IMAGES[3])[7:]]

    assert main(["cloud", "blobs", "migrate", "--site", "east"]) == 2
    assert "no site 'east'" in capsys.readouterr().err
    assert main(["cloud", "blobs", "migrate", "--batch", "0"]) == 2
