"""Plate images out of event data: ``evidence_jpeg_b64`` / ``crop_jpeg_b64`` become blob refs
``evidence_blob`` / ``crop_blob``.

The wire contract (edge → cloud) is unchanged: the edge still sends base64. Ingest calls
``take_images`` before the batch's transaction: each image is decoded and put in the store
(content-addressed, so a redelivered batch puts the same blobs again and changes nothing), and
the event is stored with refs; the index rows (``BlobRow``) are written inside the transaction.
Base64 that does not decode drops that image, named in ``images_dropped`` as the edge names
an image it left out, and counted (``ingest_images_dropped``): a bad image never fails its
batch. Refs in event data are the console's alone: an ``evidence_blob`` / ``crop_blob`` an
edge sent is removed (it could name a blob it never sent).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, TypeVar, cast

from cloud.blobs.store import BlobStore, is_ref
from cloud.blobs.tables import PLATE_IMAGES, BlobRow
from contract import Batch, Envelope, Kind, jsoncodec

#: Event kinds that carry plate images.
IMAGE_KINDS: Final = frozenset({Kind.PLATE_READ, Kind.PLATE_EVIDENCE})
#: The inline key → (the ref key, the image's name in ``images_dropped``).
IMAGES: Final = {"evidence_jpeg_b64": ("evidence_blob", "evidence"),
                 "crop_jpeg_b64": ("crop_blob", "crop")}
REF_KEYS: Final = tuple(ref for ref, _ in IMAGES.values())
JPEG: Final = "image/jpeg"


def needs_work(kind: str, data: Mapping[str, Any]) -> bool:
    """Whether ``data`` holds an inline image or a ref key to take out."""
    return kind in IMAGE_KINDS and any(k in data for k in (*IMAGES, *REF_KEYS))


def _decode(raw: object) -> bytes | None:
    if not isinstance(raw, str):
        return None
    try:
        image = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    return image or None


async def externalise(data: Mapping[str, Any], store: BlobStore | None
                      ) -> tuple[dict[str, Any], list[BlobRow], int]:
    """``data`` with its inline images put in ``store`` and replaced by refs (kept inline
    when ``store`` is None); the index rows to write and how many images were dropped."""
    out = {k: v for k, v in data.items() if k not in REF_KEYS}
    if store is None:
        return out, [], 0
    found: dict[str, bytes] = {}
    dropped: list[str] = []
    for key, (ref_key, name) in IMAGES.items():
        if key not in out:
            continue
        raw = out.pop(key)
        out[ref_key] = None
        if raw is None:
            continue
        image = _decode(raw)
        if image is None:
            dropped.append(name)
        else:
            found[ref_key] = image
    rows: list[BlobRow] = []
    if found:
        async with asyncio.TaskGroup() as tg:
            puts = {k: tg.create_task(store.put(v, content_type=JPEG)) for k, v in found.items()}
        for ref_key, task in puts.items():
            out[ref_key] = task.result()
            rows.append(BlobRow(task.result(), PLATE_IMAGES, JPEG, len(found[ref_key])))
    if dropped:
        before = out.get("images_dropped")
        named = [n for n in before if isinstance(n, str)] if isinstance(before, list) else []
        out["images_dropped"] = list(dict.fromkeys([*named, *dropped]))
    return out, rows, len(dropped)


class Carrier(Protocol):
    """A decoded ``up/events`` message (``cloud.ingest.ingestor.Decoded``, a dataclass)."""

    @property
    def batch(self) -> Batch: ...

    @property
    def data_json(self) -> list[str]: ...


D = TypeVar("D", bound=Carrier)


async def take_images(store: BlobStore | None, decoded: Sequence[D],
                      counters: Counter[str]) -> tuple[list[D], list[BlobRow]]:
    """The batches with their events' images in ``store`` and refs in their data (event and
    JSON text alike), and the rows to index in the batch's transaction. Counts
    ``images_stored`` and ``images_dropped`` in ``counters``. With ``store`` None images stay
    inline (only edge-sent ref keys are removed)."""
    out: list[D] = []
    rows: list[BlobRow] = []
    for d in decoded:
        events = d.batch.events
        if not any(needs_work(e.kind, e.data) for e in events):
            out.append(d)
            continue
        async with asyncio.TaskGroup() as tg:  # the batch's images are written together
            work = {i: tg.create_task(externalise(e.data, store))
                    for i, e in enumerate(events) if needs_work(e.kind, e.data)}
        new_events: list[Envelope] = list(events)
        texts = list(d.data_json)
        for i, task in work.items():
            data, taken, dropped = task.result()
            rows.extend(taken)
            counters["images_stored"] += len(taken)
            counters["images_dropped"] += dropped
            new_events[i] = dataclasses.replace(events[i], data=data)
            texts[i] = jsoncodec.dumps(data)
        batch = dataclasses.replace(d.batch, events=new_events)
        out.append(cast(D, dataclasses.replace(cast(Any, d), batch=batch, data_json=texts)))
    return out, rows


def refs_in(data: Mapping[str, Any] | None) -> list[str]:
    """The blob refs an event's data carries (for purge and erasure)."""
    if not isinstance(data, Mapping):
        return []
    return [v for k in REF_KEYS if isinstance(v := data.get(k), str) and is_ref(v)]
