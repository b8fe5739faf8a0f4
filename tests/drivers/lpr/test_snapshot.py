"""Evidence images and the quality watch, on synthetic images made here with numpy/cv2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.lpr import SnapshotQuality
from drivers.lpr.snapshot import (
    QualityThresholds,
    QualityTracker,
    Rect,
    SnapshotLimits,
    crop_rect,
    decode_jpeg,
    jpeg_dimensions,
    measure_quality,
    process_snapshot,
)


def sharp_scene(seed: int = 0, w: int = 1280, h: int = 720) -> np.ndarray:
    """Text, edges and texture everywhere, plus a little sensor noise."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(40, 200, (h // 30, w // 30), dtype=np.uint8), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    for i in range(0, w, 80):
        cv2.line(img, (i, 0), (w - i, h), (255, 255, 255), 3)
    for y in range(60, h, 120):
        cv2.putText(img, "COURTYARD 12345", (40, y), cv2.FONT_HERSHEY_SIMPLEX, 2.0,
                    (0, 0, 0), 4)
    return noisy(img, rng)


def noisy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.float32) + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def blurred(seed: int = 0) -> np.ndarray:
    return noisy(cv2.GaussianBlur(sharp_scene(seed), (0, 0), 10), np.random.default_rng(seed))


def black(seed: int = 0) -> np.ndarray:
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:60, :100] = 120
    return noisy(img, np.random.default_rng(seed))


def uniform(seed: int = 0) -> np.ndarray:
    return noisy(np.full((720, 1280, 3), 128, np.uint8), np.random.default_rng(seed))


def half_covered(seed: int = 0) -> np.ndarray:
    img = sharp_scene(seed)
    img[360:] = noisy(np.full((360, 1280, 3), 70, np.uint8), np.random.default_rng(seed))
    return img


def jpeg(img: np.ndarray, q: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return bytes(buf.tobytes())


def test_jpeg_dimensions_from_header() -> None:
    assert jpeg_dimensions(jpeg(sharp_scene(w=640, h=360))) == (640, 360)
    assert jpeg_dimensions(b"") is None
    assert jpeg_dimensions(b"\x89PNG\r\n") is None
    assert jpeg_dimensions(b"\xff\xd8\xff\xe0\x00") is None


@pytest.mark.parametrize("data", [
    b"", b"garbage", b"\xff\xd8\xff\xd9", bytes(range(256)) * 10,
    jpeg(sharp_scene(w=320, h=240))[:200],  # truncated: header only
])
def test_garbage_decodes_to_none(data: bytes) -> None:
    assert decode_jpeg(data) is None


def test_decompression_bomb_is_refused_before_decoding() -> None:
    data = bytearray(jpeg(sharp_scene(w=64, h=64)))
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")
    assert jpeg_dimensions(bytes(data)) == (60000, 60000)
    assert decode_jpeg(bytes(data)) is None


def test_sharpness_and_occlusion_separate_the_cases() -> None:
    sharp = measure_quality(sharp_scene())
    blur = measure_quality(blurred())
    blk = measure_quality(black())
    uni = measure_quality(uniform())
    half = measure_quality(half_covered())
    th = QualityThresholds()
    assert sharp.sharpness > 10 * th.sharpness_recover and sharp.occluded_fraction < 0.1
    assert blur.sharpness < th.sharpness_min and blur.occluded_fraction < th.occlusion_recover
    assert blk.occluded_fraction > th.blocked_fraction and blk.brightness < 10
    assert uni.occluded_fraction > th.blocked_fraction
    assert th.dirty_fraction <= half.occluded_fraction < th.blocked_fraction


def test_evidence_is_bounded_even_for_noise() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    big = jpeg(noise, 95)
    assert len(big) > 1_000_000
    snap = process_snapshot(big, None, None)
    assert snap.evidence_jpeg is not None and len(snap.evidence_jpeg) <= 200_000
    img = decode_jpeg(snap.evidence_jpeg)
    assert img is not None and max(img.shape[:2]) <= 1280


def test_small_original_is_kept_byte_for_byte() -> None:
    small = jpeg(sharp_scene(w=640, h=360), 70)
    assert process_snapshot(small, None, None).evidence_jpeg == small


def test_crop_from_rect_clamped_to_the_image() -> None:
    img = sharp_scene(w=640, h=360)
    crop = crop_rect(img, Rect(600, 300, 700, 400), margin=0.0)
    assert crop is not None and crop.shape[:2] == (60, 40)
    assert crop_rect(img, Rect(700, 400, 800, 500)) is None
    swapped = crop_rect(img, Rect(200, 150, 100, 100), margin=0.0)
    assert swapped is not None and swapped.shape[:2] == (50, 100)
    snap = process_snapshot(jpeg(img), b"not a jpeg", Rect(2000, 2000, 2100, 2100))
    assert snap.crop_jpeg is None
    assert snap.problems == ("rect_outside_image", "crop_undecodable")


def test_crop_falls_back_to_the_cameras_plate_picture() -> None:
    plate = jpeg(sharp_scene(w=200, h=60))
    snap = process_snapshot(None, plate, None)
    assert snap.crop_jpeg is not None and snap.evidence_jpeg is None and snap.quality is None
    lim = SnapshotLimits()
    assert len(snap.crop_jpeg) <= lim.crop_max_bytes


def feed(tracker: QualityTracker, q: SnapshotQuality, n: int) -> list[tuple[bool, str]]:
    out = []
    for _ in range(n):
        change = tracker.observe("cam", q)
        if change is not None:
            out.append((change.degraded, change.reason))
    return out


GOOD = SnapshotQuality(sharpness=800.0, occluded_fraction=0.05, brightness=110.0)
BLURRY = SnapshotQuality(sharpness=10.0, occluded_fraction=0.05, brightness=110.0)
BLOCKED = SnapshotQuality(sharpness=5.0, occluded_fraction=0.95, brightness=3.0)
HALF = SnapshotQuality(sharpness=500.0, occluded_fraction=0.5, brightness=80.0)


@pytest.mark.parametrize(("bad", "reason"), [(BLURRY, "out_of_focus"), (BLOCKED, "blocked"),
                                             (HALF, "dirty")])
def test_degraded_once_then_recovered_once(bad: SnapshotQuality, reason: str) -> None:
    tracker = QualityTracker()
    assert feed(tracker, GOOD, 20) == []
    assert feed(tracker, bad, 30) == [(True, reason)]
    assert tracker.degraded_reason("cam") == reason
    assert feed(tracker, GOOD, 30) == [(False, reason)]
    assert tracker.degraded_reason("cam") is None


def test_no_flapping_around_the_threshold() -> None:
    th = QualityThresholds()
    tracker = QualityTracker(th)
    low = SnapshotQuality(th.sharpness_min - 1, 0.05, 100.0)
    just_above = SnapshotQuality((th.sharpness_min + th.sharpness_recover) / 2, 0.05, 100.0)
    changes = feed(tracker, low, 20)
    for _ in range(10):
        changes += feed(tracker, just_above, 15)
        changes += feed(tracker, low, 15)
    assert changes == [(True, "out_of_focus")]


def test_a_few_bad_frames_do_not_degrade() -> None:
    tracker = QualityTracker()
    changes = []
    for i in range(100):
        changes += feed(tracker, BLOCKED if i % 3 == 0 else GOOD, 1)
    assert changes == []


def test_thresholds_must_leave_room_for_hysteresis() -> None:
    with pytest.raises(ValueError):
        QualityThresholds(sharpness_min=50, sharpness_recover=40)
    with pytest.raises(ValueError):
        QualityThresholds(occlusion_recover=0.5, dirty_fraction=0.4)
    with pytest.raises(ValueError):
        QualityThresholds(window=5, min_samples=6)
