"""Photos on work orders: checking, shrinking and storing what a technician's phone sends.

A phone photo is 3–8 MB and 4000 px wide; the console and the technician's app show it at
phone or laptop size, so it is stored re-encoded as a JPEG no longer than 1600 px on its
longest side, with a 320 px thumbnail for lists. Decoding runs in a worker thread: a large
image takes tens of milliseconds of CPU that must not stall the event loop. Before anything
decodes, the header is read in pure Python (``photo_header``, fail-closed) and a picture over
``MAX_PIXELS`` is refused: the decoder would allocate what the header claims.

Photos may be added until the order is closed or cancelled (a technician often uploads the
"after" photo from the lift lobby once the job is marked complete); a final order's record is
not changed. The same bytes uploaded twice to one order return the first copy (idempotent),
because phones on poor signal retry uploads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.workorders.photo_header import MAGIC as MAGIC  # the route checks Content-Type
from cloud.workorders.photo_header import BadHeader, read_header
from cloud.workorders.photo_tables import WorkOrderPhoto
from cloud.workorders.service import OrderNotFound, record
from cloud.workorders.states import FINAL_STATES, STATE_ZH
from cloud.workorders.tables import WorkOrder

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_SIDE = 1600
THUMB_SIDE = 320
JPEG_QUALITY = 85
#: More pixels than a phone saves by default (12–50 MP sensors save 12 MP); refused from the
#: header, before decoding a "pixel bomb". Decoded as 8-bit BGR, 40 MP is 120 MB.
MAX_PIXELS = 40_000_000


class NotAnImage(ValueError):
    """The body is not a JPEG or PNG we can decode (HTTP 400, field ``body``)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


class OrderFinal(Exception):
    """The order is closed or cancelled: its record no longer changes (HTTP 409)."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.zh = f"工单状态为“{STATE_ZH.get(state, state)}”，不能再添加照片"
        self.en = f"the work order is {state}; photos can no longer be added"
        super().__init__(self.en)


@dataclass(frozen=True)
class Prepared:
    """An upload checked and re-encoded, ready to store."""

    source_type: str
    source_bytes: int
    sha256: str
    jpeg: bytes
    thumb: bytes
    width: int
    height: int


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - a decoded 8-bit BGR image always encodes
        raise NotAnImage("图片无法重新编码", "the image could not be re-encoded")
    return bytes(buf.tobytes())


def prepare(raw: bytes) -> Prepared:
    """Read the header, check its size, then decode, shrink and re-encode (CPU-bound: call
    in a thread). Nothing is decoded before the header has been read whole and its
    width × height found within ``MAX_PIXELS``."""
    try:
        header = read_header(raw)
    except BadHeader as err:
        raise NotAnImage(err.zh, err.en) from None
    if header.pixels > MAX_PIXELS:
        raise NotAnImage(
            f"图片像素过多：{header.width}×{header.height}，最多 {MAX_PIXELS:,} 像素",
            f"the image has too many pixels: {header.width}×{header.height}, "
            f"at most {MAX_PIXELS:,} pixels")
    kind = header.kind
    image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise NotAnImage("请求体无法解码为图片（文件损坏或不完整）",
                         "the body could not be decoded as an image (damaged or truncated)")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:  # pragma: no cover - the header said
        raise NotAnImage("图片像素过多", f"the image has more than {MAX_PIXELS:,} pixels")
    big = _fit(image, MAX_SIDE)
    return Prepared(source_type=kind, source_bytes=len(raw),
                    sha256=hashlib.sha256(raw).hexdigest(), jpeg=_jpeg(big),
                    thumb=_jpeg(_fit(big, THUMB_SIDE)), width=big.shape[1],
                    height=big.shape[0])


async def add_photo(session: AsyncSession, order_id: int, photo: Prepared, by: str,
                    note: str | None, now: datetime) -> tuple[WorkOrderPhoto, bool]:
    """Store ``photo`` on the order and note it in the order's history; ``(row, created)``,
    where ``created`` is false when the same upload was already stored.

    Raises ``OrderNotFound``, or ``OrderFinal`` for a closed or cancelled order."""
    order = await session.get(WorkOrder, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    existing = await _same(session, order_id, photo.sha256)
    if existing is not None:
        return existing, False
    if order.state in FINAL_STATES:
        raise OrderFinal(order.state)
    row = WorkOrderPhoto(work_order_id=order_id, by=by, note=note, uploaded_at=now,
                         source_type=photo.source_type, source_bytes=photo.source_bytes,
                         width=photo.width, height=photo.height, bytes=len(photo.jpeg),
                         sha256=photo.sha256, jpeg=photo.jpeg, thumb=photo.thumb)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:  # the same upload, sent twice at once: the other copy won
        again = await _same(session, order_id, photo.sha256)
        if again is None:
            raise
        return again, False
    record(session, order_id, "photo", by, now, before=order.state, after=order.state,
            note=note, detail={"photo_id": row.id, "width": row.width,
                               "height": row.height})
    await session.flush()
    return row, True


async def _same(session: AsyncSession, order_id: int, sha256: str) -> WorkOrderPhoto | None:
    return (await session.execute(select(WorkOrderPhoto).where(
        WorkOrderPhoto.work_order_id == order_id, WorkOrderPhoto.sha256 == sha256))).scalar()
