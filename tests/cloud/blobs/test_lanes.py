"""The lanes page's image links serve the bytes from the blob store (and, for events stored
before it, from inline base64), only to staff of the read's site whose role reads parking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.blobs import FsBlobStore, ref_of
from cloud.db.models import Event
from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import topics
from tests.cloud.blobs.plates import b64, envelope, jpeg, payload, read_data
from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites

P = f"/api/sites/{SITE_A}/parking"


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[TwoSites]:
    async with two_sites(db_url, blob_dir=str(tmp_path / "blobs")) as w:
        yield w


async def _image(world: TwoSites, url: str) -> tuple[int, bytes]:
    async with world.admin.http.get(url, headers=world.admin.headers) as resp:
        return resp.status, await resp.read()


async def test_lane_images_come_from_the_store_and_from_old_inline_events(
        world: TwoSites, tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    full, crop, later, old = jpeg(40), jpeg(200), jpeg(120), jpeg(15)
    with_store = Ingestor(world.sessions, world.clock, default_registry(), blobs=store)
    inline = Ingestor(world.sessions, world.clock, default_registry())
    read = envelope(2, "plate.read", read_data("粤B22222", camera="cam-out"), "cam-out")
    assert (await inline.handle(topics.up_events(SITE_A), payload(
        SITE_A, envelope(1, "plate.read", read_data("粤B11111", old)))) ).ok
    assert (await with_store.handle(topics.up_events(SITE_A), payload(
        SITE_A, read, envelope(3, "plate.read", read_data("粤B33333", full, crop)),
        envelope(4, "plate.evidence", {"v": 1, "read": read.id, "evidence_jpeg_b64": b64(later),
                                       "crop_jpeg_b64": None}, "cam-out")))).ok
    async with world.sessions() as s:
        assert (await s.scalars(select(Event.data["evidence_blob"].as_string())
                                .where(Event.seq == 4))).one() == ref_of(later)

    lanes = {lane["camera"]: lane["reads"]
             for lane in (await world.admin.call("GET", f"{P}/lanes?limit=5"))["lanes"]}
    newest, oldest = lanes["cam-in"]
    [exit_read] = lanes["cam-out"]
    assert oldest["evidence_url"] and oldest["crop_url"] is None
    assert newest["evidence_url"] and newest["crop_url"]
    assert exit_read["evidence_url"] and exit_read["crop_url"] is None
    for url, image in ((newest["evidence_url"], full), (newest["crop_url"], crop),
                       (exit_read["evidence_url"], later), (oldest["evidence_url"], old)):
        assert await _image(world, url) == (200, image)

    # Another site's staff are told the site does not exist (the console's scope rule); a
    # role without parking.read at the site is refused.
    urls = (newest["evidence_url"], newest["crop_url"], f"{P}/lanes")
    for caller in (await world.staff("south-guard", "guard", [SITE_B]),
                   await world.token("admin", [SITE_B])):
        for url in urls:
            got = await caller.call("GET", url, 404)
            assert got["error"]["field"] == "site", got
    technician = await world.token("technician", [SITE_A])
    for url in urls:
        await technician.call("GET", url, 403)

    # A blob gone from the store (purged) is a 404, not an error.
    assert await store.delete(ref_of(full))
    assert (await _image(world, newest["evidence_url"]))[0] == 404
