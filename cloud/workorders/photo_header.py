"""An uploaded photo's type and size, read from its header bytes before anything decodes it.

A decoder allocates what the header claims: a 700-byte PNG declaring 7000 × 7000 makes OpenCV
reserve ~150 MB (more for 16-bit pixels) before it finds the data missing. So the header is
parsed here in pure Python, from the raw bytes, and **fail-closed**: a header that cannot be
read to the end — truncated, garbled, a JPEG whose size comes later (DNL), a PNG whose IHDR
checksum is wrong — is refused, never taken as "0 pixels". Only JPEG and PNG are accepted.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
MAGIC = {"image/jpeg": JPEG_MAGIC, "image/png": PNG_MAGIC}
#: Start-of-frame markers (baseline, extended, progressive, lossless, arithmetic); not C4
#: (DHT), C8 (reserved) or CC (DAC).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                  0xCF})
#: A camera's JPEG has about ten segments before its frame header (APPn, DQT, DHT, ICC
#: chunks); more is a file built to keep this loop busy.
MAX_SEGMENTS = 1000
#: A progressive JPEG has about ten scans; each scan is a pass over every pixel, so a file of
#: thousands of tiny scans is a CPU bomb of its own.
MAX_SCANS = 100
_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


class BadHeader(ValueError):
    """The header is missing, truncated or malformed (zh, en)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class Header:
    kind: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff(head: bytes) -> str | None:
    """The image type the first bytes say, whatever the Content-Type header claims."""
    for kind, magic in MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _png(raw: bytes) -> tuple[int, int]:
    """PNG: the first chunk must be a whole IHDR (13 bytes, right checksum)."""
    if len(raw) < 33:
        raise BadHeader("PNG 文件头不完整", "the PNG header is truncated")
    if raw[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise BadHeader("PNG 缺少 IHDR 文件头", "the PNG does not start with its IHDR header")
    if zlib.crc32(raw[12:29]) != int.from_bytes(raw[29:33], "big"):
        raise BadHeader("PNG 文件头校验失败", "the PNG header checksum is wrong")
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    depth, colour, interlace = raw[24], raw[25], raw[28]
    if depth not in _PNG_DEPTHS.get(colour, ()) or raw[26] or raw[27] or interlace > 1:
        raise BadHeader("PNG 文件头参数无效", "the PNG header has invalid parameters")
    return width, height


def _jpeg(raw: bytes) -> tuple[int, int]:
    """JPEG: walk the segments by their lengths to the first frame header (SOFn), as the
    decoder does; scan data, the end of the image or stray bytes before it are refused."""
    n, i = len(raw), 2
    for _ in range(MAX_SEGMENTS):
        if i + 4 > n:
            raise BadHeader("JPEG 文件头不完整（没有找到帧头）",
                            "the JPEG header is truncated (no frame header found)")
        if raw[i] != 0xFF:
            raise BadHeader("JPEG 段结构损坏", "the JPEG segment structure is damaged")
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in (0x00, 0xD8, 0xD9, 0xDA):
            raise BadHeader("JPEG 在帧头之前出现了图像数据或结束标记",
                            "the JPEG has image data or its end before its frame header")
        length = int.from_bytes(raw[i + 2:i + 4], "big")
        if length < 2:
            raise BadHeader("JPEG 段长度无效", "a JPEG segment has an invalid length")
        if marker in _SOF:
            if length < 8 or i + 2 + length > n:
                raise BadHeader("JPEG 帧头不完整", "the JPEG frame header is truncated")
            height = int.from_bytes(raw[i + 5:i + 7], "big")
            width = int.from_bytes(raw[i + 7:i + 9], "big")
            if raw.count(b"\xff\xda", i) > MAX_SCANS:
                raise BadHeader(f"JPEG 扫描段过多（最多 {MAX_SCANS} 个）",
                                f"the JPEG has too many scans (at most {MAX_SCANS})")
            return width, height
        i += 2 + length
    raise BadHeader("JPEG 帧头之前的段过多", "the JPEG has too many segments before its frame")


def read_header(raw: bytes) -> Header:
    """The type and declared size; ``BadHeader`` unless both are read whole and non-zero."""
    kind = sniff(raw)
    if kind is None:
        raise BadHeader("请求体不是 JPEG 或 PNG 图片", "the body is not a JPEG or PNG image")
    width, height = _png(raw) if kind == "image/png" else _jpeg(raw)
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise BadHeader(f"图片文件头声明的尺寸无效：{width}×{height}",
                        f"the image header declares an invalid size: {width}×{height}")
    return Header(kind, width, height)
