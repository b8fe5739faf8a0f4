"""A QR checkpoint scan (``patrol.scan``) as the round tracker takes it: the checkpoint must
be one the dataset knows, and the phone's time must be a real instant near the edge's own.

The phone's time is used (not the command's arrival) because the command may wait in the
console while the edge is offline: the round counts when the guard stood there. A time more
than a day away from the edge's clock is a wrong phone clock or a replayed command, never a
visit, so it is refused rather than recorded.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

MAX_SKEW = timedelta(days=1)


class ScanRefused(ValueError):
    """Not counted; ``zh`` / ``en`` say why (the command's reply detail)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def scan_time(text: str, now: datetime) -> datetime:
    """The phone's ISO 8601 time with its offset, in UTC; ScanRefused otherwise."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScanRefused(f"扫码时间无法识别：{text[:40]!r}",
                          f"the scan time cannot be read: {text[:40]!r}") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ScanRefused("扫码时间缺少时区", "the scan time has no UTC offset")
    at = at.astimezone(UTC)
    if abs(at - now) > MAX_SKEW:
        raise ScanRefused("扫码时间与网关时间相差超过一天（手机时间错误或重放的扫码）",
                          "the scan time is more than a day from the edge's clock (a wrong "
                          "phone clock or a replayed scan)")
    return at


def scan_checkpoint(code: str, known: Collection[str]) -> str:
    if code not in known:
        raise ScanRefused(f"巡更点 {code} 不在本站的巡更数据中",
                          f"checkpoint {code} is not in this site's patrol dataset")
    return code
