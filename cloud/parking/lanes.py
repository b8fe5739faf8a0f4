"""The lanes page's data: each camera's last plate reads with their decision trail, and the
snapshots (evidence and plate crop) stored with them: in the blob store, named by a ref in the
event's data (``evidence_blob`` / ``crop_blob``), or inline base64 in events stored before
the blob store (``evidence_jpeg_b64`` / ``crop_jpeg_b64``).

A read's images arrive a moment later as a ``plate.evidence`` event, so they are looked up a
short seq window ahead rather than through the whole log.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.blobs import is_ref
from cloud.db.models import Device, Event
from cloud.parking.http import Handler, site_or_none, site_tz
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import BLOBS, SESSIONS
from cloud.web.params import int_param, names_param, text_param
from cloud.web.present import times
from cloud.web.respond import json_ok
from contract import Kind
from parkingrules.plates import normalize

LANE_DEFAULT_READS = 5
LANE_MAX_READS = 50
MAX_SEQ = 2**63 - 1
#: A ``plate.evidence`` event is queued a moment after its read, so its seq is close behind:
#: look this far ahead rather than through the whole log.
EVIDENCE_SEQ_WINDOW = 20_000
PLATE_EVIDENCE = Kind.PLATE_EVIDENCE
#: Literal, not a bound parameter, so PostgreSQL matches it to the partial index's condition.
PLATE_READS = text("events.kind = 'plate.read'")
#: Each image's keys in event data: (blob ref, inline base64 of events stored before blobs).
IMAGES = {"evidence": ("evidence_blob", "evidence_jpeg_b64"),
          "crop": ("crop_blob", "crop_jpeg_b64")}


_READ_FIELDS = ("plate_raw", "direction", "confidence", "colour_name", "offline", "vendor")


def _has(which: str) -> Any:
    """The event has this image (a ref or inline), without sending the image to us."""
    ref, inline = IMAGES[which]
    return or_(Event.data[ref].as_string().is_not(None),
               Event.data[inline].as_string().is_not(None))


def _image_columns(which: str) -> tuple[Any, Any]:
    ref, inline = IMAGES[which]
    return Event.data[ref].as_string(), Event.data[inline].as_string()


async def _image_bytes(request: web.Request, ref: Any, b64: Any) -> bytes:
    """The image from the blob store (a ref), else decoded from inline base64; b"" if none."""
    if ref is not None:
        found = await request.app[BLOBS].get(ref) if is_ref(ref) else None
        return found or b""
    if b64:
        try:
            return base64.b64decode(str(b64), validate=True)
        except (binascii.Error, ValueError):
            return b""
    return b""


def _num(value: Any) -> float | int | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else f


def _flag(value: Any) -> bool:
    return value in (True, 1, "true", "1")


async def _later_images(session: AsyncSession, site_id: int,
                        reads: list[tuple[int, str]]) -> dict[str, dict[str, bool]]:
    """For reads whose images came separately: {read uuid: {"evidence": bool, "crop": bool}}."""
    if not reads:
        return {}
    # One seq range per run of reads whose windows overlap: a busy lane's reads share one.
    spans: list[list[int]] = []
    for seq in sorted(seq for seq, _ in reads):
        if spans and seq <= spans[-1][1]:
            spans[-1][1] = seq + EVIDENCE_SEQ_WINDOW
        else:
            spans.append([seq, seq + EVIDENCE_SEQ_WINDOW])
    near = or_(*(and_(Event.seq > lo, Event.seq <= hi) for lo, hi in spans))
    read_ref = Event.data["read"].as_string()
    result = await session.execute(
        select(read_ref, _has("evidence"), _has("crop"))
        .where(Event.site_id == site_id, Event.kind == PLATE_EVIDENCE, near,
               read_ref.in_([u for _, u in reads])).order_by(Event.seq))
    out: dict[str, dict[str, bool]] = {}
    for ref, ev, crop in result.all():
        seen = out.setdefault(str(ref), {"evidence": False, "crop": False})
        seen["evidence"] |= bool(ev)
        seen["crop"] |= bool(crop)
    return out


async def _cameras(session: AsyncSession, site_id: int, wanted: list[str]) -> list[str]:
    """The site's devices that have sent ``plate.read`` (one index probe per device)."""
    has_reads = (select(Event.id).where(Event.site_id == site_id,
                                        Event.device == Device.key, PLATE_READS).exists())
    query = select(Device.key).where(Device.site_id == site_id,
                                     or_(Device.kind.is_(None), Device.kind != "meter"),
                                     has_reads)
    if wanted:
        query = query.where(Device.key.in_(wanted))
    return list((await session.scalars(query.order_by(Device.key))).all())


async def _last_reads(session: AsyncSession, site_id: int, camera: str,
                      limit: int) -> list[Any]:
    """(seq, uuid, ts, has evidence, has crop, epoch, *_READ_FIELDS), newest first; never
    the images themselves."""
    fields = [Event.data[k].as_string() for k in _READ_FIELDS]
    return list((await session.execute(
        select(Event.seq, Event.uuid, Event.ts, _has("evidence"), _has("crop"), Event.epoch,
               *fields)
        .where(Event.site_id == site_id, Event.device == camera, PLATE_READS)
        .order_by(Event.seq.desc()).limit(limit))).all())


def _read_json(row: Any, later: dict[str, dict[str, bool]], base: str,
               tz: ZoneInfo) -> dict[str, Any]:
    seq, read_id, ts, evidence, crop, epoch, *values = row
    data = dict(zip(_READ_FIELDS, values, strict=True))
    sent_later = later.get(read_id, {})
    raw = data["plate_raw"]
    # A replaced edge box numbers its reads from 1 again: the epoch says which box's seq.
    box = f"?epoch={quote(str(epoch), safe='')}"
    return {
        "seq": int(seq), "id": read_id, **times("ts", ts, tz),
        "plate": normalize(str(raw)) if raw is not None else None, "plate_raw": raw,
        "direction": data["direction"], "confidence": _num(data["confidence"]),
        "colour": data["colour_name"], "offline": _flag(data["offline"]),
        "vendor": data["vendor"],
        "evidence_url": (f"{base}/{seq}/evidence.jpg{box}"
                         if evidence or sent_later.get("evidence") else None),
        "crop_url": (f"{base}/{seq}/crop.jpg{box}"
                     if crop or sent_later.get("crop") else None),
    }


async def list_lanes(request: web.Request) -> web.Response:
    """Per camera, its last ``limit`` plate reads, newest first, with links to the images.

    Cameras are the site's devices that have sent ``plate.read``; each is one short backward
    scan of the partial index ``ix_events_plate_reads``, so the view costs the same after a
    year of reads as after a day.
    """
    limit = int_param(request, "limit", LANE_DEFAULT_READS, 1, LANE_MAX_READS)
    wanted = names_param(request, "camera", 128)
    slug = request.match_info["site"]
    per_camera: list[tuple[str, list[Any]]] = []
    later: dict[str, dict[str, bool]] = {}
    async with request.app[SESSIONS]() as session:
        site = await site_or_none(session, request, slug)
        if site is not None:
            for camera in await _cameras(session, site.id, wanted):
                per_camera.append((camera, await _last_reads(session, site.id, camera, limit)))
            later = await _later_images(session, site.id, [
                (r[0], r[1]) for _, rows in per_camera for r in rows if not (r[3] and r[4])])
    tz = site_tz(request, site)
    base = f"/api/sites/{quote(slug, safe='')}/parking/reads"
    return json_ok({"site": slug, "timezone": tz.key, "lanes": [
        {"camera": camera, "reads": [_read_json(r, later, base, tz) for r in rows]}
        for camera, rows in per_camera]})


def _image_handler(which: str) -> Handler:
    columns = _image_columns(which)
    zh_name = {"evidence": "证据图", "crop": "车牌小图"}[which]

    async def handler(request: web.Request) -> web.StreamResponse:
        raw = request.match_info["seq"]
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_SEQ:
            raise bad_param("seq", f"须为正整数，收到 {raw[:40]!r}",
                            f"must be a positive integer, got {raw[:40]!r}")
        seq = int(raw)
        epoch = text_param(request, "epoch", 64)
        async with request.app[SESSIONS]() as session:
            site = await site_or_none(session, request, request.match_info["site"])
            query = (select(Event.uuid, Event.epoch, *columns)
                     .where(Event.site_id == site.id, Event.seq == seq, PLATE_READS)
                     if site is not None else None)
            if query is not None and epoch is not None:
                query = query.where(Event.epoch == epoch)
            row = None if query is None else (await session.execute(
                query.order_by(Event.id.desc()).limit(1))).first()
            if site is None or row is None:
                raise not_found("seq", "车牌识别记录", "plate read", raw)
            found: Any = row[2:]
            if found == (None, None):  # sent after the gate decision, as plate.evidence
                found = (await session.execute(
                    select(*columns)
                    .where(Event.site_id == site.id, Event.kind == PLATE_EVIDENCE,
                           Event.epoch == row[1],
                           Event.seq > seq, Event.seq <= seq + EVIDENCE_SEQ_WINDOW,
                           Event.data["read"].as_string() == row[0])
                    .order_by(Event.seq).limit(1))).first() or (None, None)
        image = await _image_bytes(request, *found)
        if not image.startswith(b"\xff\xd8"):
            raise ApiError(404, "no_image", f"这次识别没有可用的{zh_name}",
                           f"this read has no usable {which} image", field="seq")
        return web.Response(body=image, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=86400"})
    handler.__doc__ = f"The {which} JPEG of a plate read (from the read or its plate.evidence)."
    return handler
