"""Photos on work orders through the HTTP API on real SQLite and PostgreSQL: a phone photo
stored shrunk with a thumbnail and noted in the history; a retried upload; refusals for
bodies that are not images, too large, or sent to an order that is unknown or cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.settings import Settings
from cloud.web.errors import ApiError
from cloud.workorders.photo_routes import _read_body
from cloud.workorders.photos import MAX_UPLOAD_BYTES
from contract import FakeClock
from tests.support.auth import admin_headers

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
Client = TestClient[Any, Any]


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[Client]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Site(slug="garden", name="花园小区"))
    c = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions,
                                         FakeClock(T0))), headers=await admin_headers(sessions))
    await c.start_server()
    try:
        yield c
    finally:
        await c.close()
        await engine.dispose()


async def _order(c: Client, request_id: str = "app-1") -> int:
    resp = await c.post("/api/workorders", json={
        "site": "garden", "category": "plumbing", "title": "3-2-101 厨房漏水",
        "request_id": request_id, "requested_by": "3-2-101 业主"})
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


def _image(width: int, height: int, ext: str = ".png") -> bytes:
    """A photo-like picture: gradients plus noise, so it does not compress to nothing."""
    rng = np.random.default_rng(7)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    img = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    noise: np.ndarray = rng.normal(0.0, 12.0, size=(height, width, 3))
    img += noise.astype(np.float32)
    ok, buf = cv2.imencode(ext, np.clip(img, 0, 255).astype(np.uint8))
    assert ok
    return bytes(buf.tobytes())


def _decode(raw: bytes) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return int(img.shape[1]), int(img.shape[0])


async def _upload(c: Client, oid: int, body: bytes, status: int, *,
                  note: str | None = None, kind: str = "image/png") -> dict[str, Any]:
    params = {"note": note} if note else {}
    resp = await c.post(f"/api/workorders/{oid}/photos", params=params, data=body,
                        headers={"Content-Type": kind})
    assert resp.status == status, (resp.status, await resp.text())
    out: dict[str, Any] = await resp.json()
    return out


def _error(body: dict[str, Any], field: str) -> None:
    zh, en = body["error"]["message"].split(" / ", 1)
    assert zh and en and body["error"]["field"] == field, body


async def test_a_photo_is_stored_shrunk_with_a_thumbnail_and_in_the_history(
        client: Client) -> None:
    oid = await _order(client)
    photo = await _upload(client, oid, _image(2400, 1800, ".jpg"), 201,
                          note="漏水点在水槽下方", kind="image/jpeg")
    assert (photo["width"], photo["height"]) == (1600, 1200)
    # The uploader is the login (here the test's admin token), never a parameter.
    assert photo["by"].startswith("token:test-admin") and photo["created"] is True
    assert photo["uploaded_at"] == "2026-11-23T02:00:00.000Z"

    listed = await (await client.get(f"/api/workorders/{oid}/photos")).json()
    assert [p["id"] for p in listed["photos"]] == [photo["id"]]
    assert listed["photos"][0]["note"] == "漏水点在水槽下方"

    full = await client.get(photo["url"])
    assert full.status == 200 and full.content_type == "image/jpeg"
    assert "max-age" in full.headers["Cache-Control"]
    body = await full.read()
    assert _decode(body) == (1600, 1200) and len(body) == photo["bytes"]
    thumb = await client.get(photo["thumb_url"])
    assert thumb.status == 200 and _decode(await thumb.read()) == (320, 240)
    again = await client.get(photo["url"], headers={"If-None-Match": full.headers["ETag"]})
    assert again.status == 304

    detail = await (await client.get(f"/api/workorders/{oid}")).json()
    steps = [h for h in detail["history"] if h["action"] == "photo"]
    assert len(steps) == 1 and steps[0]["by"] == photo["by"]
    assert steps[0]["detail"]["photo_id"] == photo["id"]


async def test_a_small_photo_keeps_its_size_and_a_tall_one_is_fitted(client: Client) -> None:
    oid = await _order(client)
    small = await _upload(client, oid, _image(640, 480), 201)  # PNG
    assert (small["width"], small["height"]) == (640, 480)
    tall = await _upload(client, oid, _image(1000, 3000, ".jpg"), 201, kind="image/jpeg")
    assert (tall["width"], tall["height"]) == (533, 1600)
    thumb = await client.get(tall["thumb_url"])
    assert max(_decode(await thumb.read())) == 320


async def test_the_same_photo_sent_twice_is_stored_once(client: Client) -> None:
    oid = await _order(client)
    other = await _order(client, "app-2")
    image = _image(800, 600)
    first = await _upload(client, oid, image, 201)
    second = await _upload(client, oid, image, 200)
    assert second["id"] == first["id"] and second["created"] is False
    assert second["by"] == first["by"]
    listed = await (await client.get(f"/api/workorders/{oid}/photos")).json()
    assert len(listed["photos"]) == 1
    detail = await (await client.get(f"/api/workorders/{oid}")).json()
    assert [h["action"] for h in detail["history"]].count("photo") == 1
    # Another order may hold the same picture.
    assert (await _upload(client, other, image, 201))["id"] != first["id"]


async def test_bodies_that_are_not_images_are_refused(client: Client) -> None:
    oid = await _order(client)
    _error(await _upload(client, oid, b"hello, not a picture", 400), "body")
    broken = _image(800, 600, ".jpg")[:200]  # JPEG magic, then cut off
    _error(await _upload(client, oid, broken, 400, kind="image/jpeg"), "body")
    _error(await _upload(client, oid, b"", 400), "body")
    bomb = bytearray(_image(64, 48, ".jpg"))  # a small file claiming 30000 × 30000 pixels
    sof = bomb.index(b"\xff\xc0")
    bomb[sof + 5:sof + 9] = (30000).to_bytes(2, "big") * 2
    refused = await _upload(client, oid, bytes(bomb), 400, kind="image/jpeg")
    _error(refused, "body")
    assert "pixels" in refused["error"]["message"]
    _error(await _upload(client, oid, _image(80, 60), 415, kind="application/json"),
           "Content-Type")
    # Naming the uploader is refused: it is the login.
    resp = await client.post(f"/api/workorders/{oid}/photos?by=%E7%8E%8B", data=_image(80, 60),
                             headers={"Content-Type": "image/png"})
    assert resp.status == 400
    _error(await resp.json(), "by")
    listed = await (await client.get(f"/api/workorders/{oid}/photos")).json()
    assert listed["photos"] == []


async def test_a_body_over_8_mb_is_refused_while_it_streams(client: Client) -> None:
    oid = await _order(client)

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        yield _image(64, 48)
        for _ in range(9):
            yield b"\0" * (1024 * 1024)

    _error(await _upload(client, oid, stream(), 413), "body")  # type: ignore[arg-type]
    # Refused on the header alone; the connection is not reused after a short body.
    declared = await client.post(f"/api/workorders/{oid}/photos",
                                 data=b"\x89PNG", headers={"Content-Type": "image/png",
                                                           "Content-Length": "9000000",
                                                           "Connection": "close"})
    assert declared.status == 413
    listed = await (await client.get(f"/api/workorders/{oid}/photos")).json()
    assert listed["photos"] == []


class _EndlessBody:
    """A request body that never ends, counting what the handler asked for."""

    content_length = None

    def __init__(self) -> None:
        self.content = self
        self.taken = 0

    async def read(self, n: int) -> bytes:
        self.taken += n
        return b"\0" * n


async def test_the_body_reader_stops_just_past_the_cap() -> None:
    body = _EndlessBody()
    with pytest.raises(ApiError) as refused:
        await _read_body(body)  # type: ignore[arg-type]
    assert refused.value.status == 413
    assert MAX_UPLOAD_BYTES < body.taken <= MAX_UPLOAD_BYTES + 64 * 1024


async def test_unknown_orders_and_photos_are_404(client: Client) -> None:
    oid = await _order(client)
    _error(await _upload(client, oid + 99, _image(80, 60), 404), "id")
    assert (await client.get(f"/api/workorders/{oid + 99}/photos")).status == 404
    assert (await client.get("/api/workorders/abc/photos")).status == 404
    photo = await _upload(client, oid, _image(80, 60), 201)
    resp = await client.get(f"/api/workorders/{oid}/photos/{photo['id'] + 1}")
    assert resp.status == 404
    _error(await resp.json(), "pid")
    other = await _order(client, "app-2")
    assert (await client.get(f"/api/workorders/{other}/photos/{photo['id']}")).status == 404


async def test_a_cancelled_order_takes_no_more_photos(client: Client) -> None:
    oid = await _order(client)
    await _upload(client, oid, _image(80, 60), 201)
    resp = await client.post(f"/api/workorders/{oid}/cancel", json={
        "note": "业主已自行修好"})
    assert resp.status == 200, await resp.text()
    refused = await _upload(client, oid, _image(96, 72), 409)
    _error(refused, "state")
    assert refused["error"]["state"] == "cancelled"
    listed = await (await client.get(f"/api/workorders/{oid}/photos")).json()
    assert len(listed["photos"]) == 1  # still shown
