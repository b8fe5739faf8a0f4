"""Photos on a work order: ``/api/workorders/{id}/photos``.

The body of an upload is the image itself (``image/jpeg`` or ``image/png``), with ``note``
in the query, so a phone can send the camera file as-is. The app refuses JSON
bodies over 64 KB; this route alone reads its body from the stream itself with an 8 MB cap,
stopping (413) as soon as the cap is passed rather than holding an oversized upload in
memory. Re-sending the same bytes to the same order answers 200 with the first copy (201 when
stored), so a retry after a dropped connection is harmless.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.db.models import Site
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.params import int_param, text_param
from cloud.web.present import times, zone
from cloud.web.respond import json_ok
from cloud.workorders.photo_tables import WorkOrderPhoto
from cloud.workorders.photos import (
    MAGIC,
    MAX_UPLOAD_BYTES,
    NotAnImage,
    OrderFinal,
    add_photo,
    prepare,
)
from cloud.workorders.service import OrderNotFound
from cloud.workorders.tables import WorkOrder

MAX_ID = 2**31 - 1
MAX_NOTE = 2000
CHUNK = 64 * 1024
#: A photo id never gets other bytes, so clients may keep it as long as they like.
_CACHE = {"Cache-Control": "private, max-age=31536000, immutable",
          "X-Content-Type-Options": "nosniff"}


def _id(request: web.Request, name: str, zh: str, en: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found(name, zh, en, raw[:40])
    return int(raw)


def _too_large() -> ApiError:
    mb = MAX_UPLOAD_BYTES // (1024 * 1024)
    return ApiError(413, "too_large", f"图片不能超过 {mb} MB", f"the image must be at most {mb} MB",
                    field="body", limit=MAX_UPLOAD_BYTES)


async def _read_body(request: web.Request) -> bytes:
    """The body, read in chunks and refused as soon as it passes the cap."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise _too_large()
    parts: list[bytes] = []
    total = 0
    while chunk := await request.content.read(CHUNK):
        total += len(chunk)
        if total > MAX_UPLOAD_BYTES:
            raise _too_large()
        parts.append(chunk)
    return b"".join(parts)


async def _order_zone(request: web.Request, order_id: int) -> ZoneInfo:
    """The order's site time zone; 404 when there is no such order (or not the actor's)."""
    async with request.app[SESSIONS]() as session:
        tz = (await session.execute(select(Site.timezone, Site.id).join(
            WorkOrder, WorkOrder.site_id == Site.id).where(WorkOrder.id == order_id))).first()
    if tz is None or not actor_of(request).may_see(tz[1]):
        raise not_found("id", "工单", "work order", str(order_id))
    default = request.app[DEFAULT_TZ]
    return zone(tz[0] or default, default)


def photo_json(p: WorkOrderPhoto, tz: ZoneInfo) -> dict[str, Any]:
    base = f"/api/workorders/{p.work_order_id}/photos/{p.id}"
    return {"id": p.id, "work_order_id": p.work_order_id, "by": p.by, "note": p.note,
            **times("uploaded_at", p.uploaded_at, tz), "width": p.width,
            "height": p.height, "bytes": p.bytes, "sha256": p.sha256,
            "source_type": p.source_type, "source_bytes": p.source_bytes,
            "url": base, "thumb_url": f"{base}?thumb=1"}


@requires("workorders.act")
async def upload_photo(request: web.Request) -> web.Response:
    """``POST /api/workorders/{id}/photos?note=...`` with the image as the body; the
    uploader is the logged-in staff member (a ``by`` naming someone else is refused)."""
    order_id = _id(request, "id", "工单", "work order")
    if "by" in request.query:
        raise bad_param("by", "上传人由登录身份决定，请勿填写",
                        "the uploader is your login; do not send by")
    by = actor_of(request).name[:64]
    note = text_param(request, "note", MAX_NOTE)
    kind = request.content_type
    if kind not in MAGIC:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type 须为 {' 或 '.join(MAGIC)}",
                       f"Content-Type must be {' or '.join(MAGIC)}", field="Content-Type")
    tz = await _order_zone(request, order_id)  # 404 before reading megabytes
    raw = await _read_body(request)
    try:
        photo = await asyncio.to_thread(prepare, raw)
    except NotAnImage as err:
        raise bad_param("body", err.zh, err.en) from None
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                row, created = await add_photo(session, order_id, photo, by.strip(),
                                               note.strip() if note else None, now)
        except OrderNotFound:
            raise not_found("id", "工单", "work order", str(order_id)) from None
        except OrderFinal as err:
            raise ApiError(409, "invalid_transition", err.zh, err.en, field="state",
                           state=err.state) from None
        return json_ok({**photo_json(row, tz), "created": created},
                       status=201 if created else 200)


@requires("workorders.read")
async def list_photos(request: web.Request) -> web.Response:
    """The order's photos, oldest first, without the image bytes."""
    order_id = _id(request, "id", "工单", "work order")
    tz = await _order_zone(request, order_id)
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(select(WorkOrderPhoto).where(
            WorkOrderPhoto.work_order_id == order_id).order_by(WorkOrderPhoto.id))
        ).scalars().all()
    return json_ok({"photos": [photo_json(p, tz) for p in rows]})


@requires("workorders.read")
async def get_photo(request: web.Request) -> web.Response:
    """The stored JPEG, or its thumbnail with ``?thumb=1``; 304 when the ETag matches."""
    order_id = _id(request, "id", "工单", "work order")
    photo_id = _id(request, "pid", "照片", "photo")
    thumb = int_param(request, "thumb", 0, 0, 1)
    await _order_zone(request, order_id)  # 404 for another site's order
    column = WorkOrderPhoto.thumb if thumb else WorkOrderPhoto.jpeg
    async with request.app[SESSIONS]() as session:
        row = (await session.execute(select(WorkOrderPhoto.sha256, column).where(
            WorkOrderPhoto.id == photo_id, WorkOrderPhoto.work_order_id == order_id))).first()
    if row is None:
        raise not_found("pid", "照片", "photo", str(photo_id))
    etag = f'"{row[0][:32]}-{"thumb" if thumb else "full"}"'
    headers = {**_CACHE, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=bytes(row[1]), content_type="image/jpeg", headers=headers)


def add_workorder_photo_routes(app: web.Application) -> None:
    """Register before ``/api/workorders/{id}/{action}``, which would otherwise take
    ``photos`` for an action name."""
    r = app.router
    r.add_post("/api/workorders/{id}/photos", upload_photo)
    r.add_get("/api/workorders/{id}/photos", list_photos, name="workorder_photos")
    r.add_get("/api/workorders/{id}/photos/{pid}", get_photo, name="workorder_photo")
