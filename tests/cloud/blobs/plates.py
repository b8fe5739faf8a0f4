"""Plate events with images, as an edge sends them (base64 inline), for the blob tests."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from contract import Batch, Envelope, encode_batch, priority_for
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def jpeg(shade: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((16, 24, 3), shade, np.uint8))
    assert ok
    return bytes(buf.tobytes())


def b64(image: bytes | None) -> str | None:
    return base64.b64encode(image).decode() if image is not None else None


def read_data(plate: str, evidence: bytes | None = None, crop: bytes | None = None,
              camera: str = "cam-in") -> dict[str, Any]:
    return {"v": 1, "camera": camera, "vendor": "vzenith", "plate_raw": plate,
            "colour_name": "blue", "confidence": 92, "direction": "in", "offline": False,
            "evidence_jpeg_b64": b64(evidence), "crop_jpeg_b64": b64(crop)}


def envelope(seq: int, kind: str, data: dict[str, Any], device: str = "cam-in",
             ts: datetime = T0) -> Envelope:
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=ts + timedelta(seconds=seq),
                    device=device, kind=kind, data=data, priority=priority_for(kind))


def payload(site: str, *events: Envelope) -> bytes:
    return encode_batch(Batch(epoch=TEST_EPOCH, site=site, events=list(events)))


def files(root: Path) -> list[Path]:
    """Every file under ``root`` (blobs and any stray temporary file)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
