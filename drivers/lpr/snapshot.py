"""Evidence images of plate reads: safe decoding, bounded re-encoding, plate crops, and a
per-camera quality watch that notices a lens gone out of focus, dirty or blocked.

Everything here is CPU work on numpy arrays: callers run ``process_snapshot`` in a worker
thread, never on the event loop. ``QualityTracker`` is cheap and lives on the loop.

Quality scores (``SnapshotQuality``) are measured on a 320×240 grey copy, so they do not depend
on the camera's resolution:

* sharpness: variance of the Laplacian. Edges of a focused scene give hundreds to thousands;
  an out-of-focus or fogged lens gives tens. Sensor noise is mostly averaged away by the
  downscale, which is why it is measured there and not on the full frame.
* occluded_fraction: share of 20×20 cells that are near-uniform (grey std-dev below
  ``uniform_std``) or very dark (mean below ``dark_level``): a lens covered by a bag, mud or
  tape, or a camera facing a wall, is uniform; a dead IR lamp at night is dark. A real lane has
  texture almost everywhere (road, cars, walls), but a plain wall or sky counts as "uniform" too,
  so the thresholds below are deliberately high and configurable per site.
* brightness: mean grey level, reported for the guard's context.

A camera is judged on the median of its last ``window`` images, not on one bad frame (a truck's
white side filling the view, a flash of headlights), and recovers only past a wider margin, so
the state does not flap around a threshold.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers.lpr.model import SnapshotQuality

if TYPE_CHECKING:
    import numpy as np

# OpenCV and numpy (~80 ms and ~25 MB) are imported by the functions that use them, on a
# worker thread, the first time a site's camera pushes an image: an edge with meters only (or
# cameras without images) never loads them.

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7,
                          0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_GRID_W, _GRID_H, _CELL = 16, 12, 20  # 320×240 in 20-px cells
MAX_PIXELS = 25_000_000
"""Refuse to decode larger images: a 1 KB JPEG can claim 60 000 × 60 000 pixels."""


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in image pixels, as the camera reports it (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True, slots=True)
class SnapshotLimits:
    """Bounds on what a ``plate.read`` event carries (base64 grows bytes by 4/3).

    200 KB evidence + 20 KB crop stay below ~300 KB of event once base64-encoded.
    """

    max_side: int = 1280
    quality: int = 80
    min_quality: int = 30
    max_bytes: int = 200_000
    crop_max_side: int = 480
    crop_max_bytes: int = 20_000
    crop_margin: float = 0.1
    max_pixels: int = MAX_PIXELS

    def __post_init__(self) -> None:
        if not 1 <= self.min_quality <= self.quality <= 100:
            raise ValueError("need 1 ≤ min_quality ≤ quality ≤ 100")
        if self.max_side < 64 or self.crop_max_side < 16:
            raise ValueError("max_side ≥ 64 and crop_max_side ≥ 16")


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """When a camera is called degraded and when it is well again (medians over ``window``).

    Enter: occluded ≥ ``blocked_fraction`` → blocked; occluded ≥ ``dirty_fraction`` → dirty
    (part of the view covered); sharpness < ``sharpness_min`` → out_of_focus.
    Leave: occluded ≤ ``occlusion_recover`` and sharpness ≥ ``sharpness_recover``.
    """

    window: int = 20
    min_samples: int = 10
    sharpness_min: float = 30.0
    sharpness_recover: float = 50.0
    blocked_fraction: float = 0.7
    dirty_fraction: float = 0.4
    occlusion_recover: float = 0.3
    uniform_std: float = 2.5
    dark_level: float = 20.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_samples <= self.window:
            raise ValueError("need 1 ≤ min_samples ≤ window")
        if self.sharpness_recover < self.sharpness_min:
            raise ValueError("sharpness_recover must be ≥ sharpness_min (hysteresis)")
        if not 0 <= self.occlusion_recover <= self.dirty_fraction <= self.blocked_fraction <= 1:
            raise ValueError("need 0 ≤ occlusion_recover ≤ dirty_fraction ≤ blocked_fraction ≤ 1")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What ``process_snapshot`` made of a push's images; ``problems`` names what was dropped."""

    evidence_jpeg: bytes | None
    crop_jpeg: bytes | None
    quality: SnapshotQuality | None
    problems: tuple[str, ...] = ()


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG frame header without decoding; None if not a JPEG."""
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    i = 2
    for _ in range(10_000):  # a real JPEG has a handful of segments before its frame header
        if i + 4 > n or data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # standalone markers
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or scan data before any frame header
            return None
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                return None
            height = (data[i + 5] << 8) | data[i + 6]
            width = (data[i + 7] << 8) | data[i + 8]
            return (width, height) if width and height else None
        i += 2 + length
    return None


def decode_jpeg(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray | None:
    """BGR image, or None for anything that is not a sane JPEG (garbage never raises)."""
    dims = jpeg_dimensions(data)
    if dims is None or dims[0] * dims[1] > max_pixels:
        return None
    import cv2
    import numpy as np

    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    if img is None or img.size == 0:
        return None
    return img


def measure_quality(img: np.ndarray, thresholds: QualityThresholds | None = None
                    ) -> SnapshotQuality:
    """Sharpness, occluded share and brightness of one image (see the module docstring)."""
    import cv2
    import numpy as np

    th = thresholds or QualityThresholds()
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    small = cv2.resize(grey, (_GRID_W * _CELL, _GRID_H * _CELL), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    cells = (small.reshape(_GRID_H, _CELL, _GRID_W, _CELL).swapaxes(1, 2)
             .reshape(_GRID_H, _GRID_W, _CELL * _CELL).astype(np.float32))
    covered = (cells.std(axis=2) < th.uniform_std) | (cells.mean(axis=2) < th.dark_level)
    return SnapshotQuality(sharpness=sharpness, occluded_fraction=float(covered.mean()),
                           brightness=float(small.mean()))


def encode_bounded(img: np.ndarray, *, max_side: int, quality: int, min_quality: int,
                   max_bytes: int) -> bytes | None:
    """JPEG no larger than ``max_side`` × ``max_bytes``: lower quality first, then shrink."""
    import cv2

    h, w = img.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    while True:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frame = img if scale >= 1.0 else cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        for q in range(quality, min_quality - 1, -10):
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and buf.size <= max_bytes:
                return bytes(buf.tobytes())
        if max(size) <= 32:
            return None
        scale *= 0.7


def crop_rect(img: np.ndarray, rect: Rect, margin: float = 0.1) -> np.ndarray | None:
    """The plate region plus ``margin`` on each side, clamped to the image; None if empty."""
    h, w = img.shape[:2]
    left, right = sorted((rect.left, rect.right))
    top, bottom = sorted((rect.top, rect.bottom))
    mx, my = int((right - left) * margin), int((bottom - top) * margin)
    x0, x1 = max(0, left - mx), min(w, right + mx)
    y0, y1 = max(0, top - my), min(h, bottom + my)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return img[y0:y1, x0:x1]


def process_snapshot(full: bytes | None, crop: bytes | None, rect: Rect | None,
                     limits: SnapshotLimits | None = None,
                     thresholds: QualityThresholds | None = None) -> Snapshot:
    """Bounded evidence JPEG, plate crop and quality scores from a push's images.

    The crop is cut from the full image at ``rect`` when there is one (full resolution, our
    own margin), else the camera's own plate picture is used. An original that already fits
    the bounds is kept byte for byte (no generation loss, no CPU spent).
    """
    lim = limits or SnapshotLimits()
    problems: list[str] = []
    evidence: bytes | None = None
    crop_out: bytes | None = None
    quality: SnapshotQuality | None = None
    img = None
    if full:
        img = decode_jpeg(full, lim.max_pixels)
        if img is None:
            problems.append("evidence_undecodable")
        else:
            quality = measure_quality(img, thresholds)
            h, w = img.shape[:2]
            if max(h, w) <= lim.max_side and len(full) <= lim.max_bytes:
                evidence = full
            else:
                evidence = encode_bounded(img, max_side=lim.max_side, quality=lim.quality,
                                          min_quality=lim.min_quality, max_bytes=lim.max_bytes)
    plate_img = None
    if img is not None and rect is not None:
        plate_img = crop_rect(img, rect, lim.crop_margin)
        if plate_img is None:
            problems.append("rect_outside_image")
    if plate_img is None and crop:
        plate_img = decode_jpeg(crop, lim.max_pixels)
        if plate_img is None:
            problems.append("crop_undecodable")
    if plate_img is not None:
        crop_out = encode_bounded(plate_img, max_side=lim.crop_max_side, quality=lim.quality,
                                  min_quality=lim.min_quality, max_bytes=lim.crop_max_bytes)
    return Snapshot(evidence, crop_out, quality, tuple(problems))


@dataclass(frozen=True, slots=True)
class QualityChange:
    """A camera's image quality crossed a threshold (medians over its recent images)."""

    degraded: bool
    reason: str
    median: SnapshotQuality
    samples: int


class QualityTracker:
    """Per-camera rolling window of quality scores with hysteresis (see QualityThresholds).

    Memory: ``window`` scores per camera, for the cameras configured on the site.
    """

    def __init__(self, thresholds: QualityThresholds | None = None) -> None:
        self.thresholds = thresholds or QualityThresholds()
        self._windows: dict[str, deque[SnapshotQuality]] = {}
        self._degraded: dict[str, str] = {}

    def degraded_reason(self, camera_id: str) -> str | None:
        return self._degraded.get(camera_id)

    def observe(self, camera_id: str, quality: SnapshotQuality) -> QualityChange | None:
        """Add one image's scores; return a change when the camera's state flips."""
        th = self.thresholds
        window = self._windows.setdefault(camera_id, deque(maxlen=th.window))
        window.append(quality)
        if len(window) < th.min_samples:
            return None
        # The pessimistic middle of an even window: when half the frames are blocked the
        # camera is "blocked", not the average of clean and blocked ("dirty").
        median = SnapshotQuality(
            sharpness=statistics.median_low(q.sharpness for q in window),
            occluded_fraction=statistics.median_high(q.occluded_fraction for q in window),
            brightness=statistics.median(q.brightness for q in window))
        current = self._degraded.get(camera_id)
        if current is None:
            reason = self._classify(median)
            if reason is None:
                return None
            self._degraded[camera_id] = reason
            return QualityChange(True, reason, median, len(window))
        if (median.occluded_fraction <= th.occlusion_recover
                and median.sharpness >= th.sharpness_recover):
            del self._degraded[camera_id]
            return QualityChange(False, current, median, len(window))
        return None

    def _classify(self, m: SnapshotQuality) -> str | None:
        th = self.thresholds
        if m.occluded_fraction >= th.blocked_fraction:
            return "blocked"
        if m.occluded_fraction >= th.dirty_fraction:
            return "dirty"
        if m.sharpness < th.sharpness_min:
            return "out_of_focus"
        return None
