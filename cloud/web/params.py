"""Query-string parsing that names the field and the reason when it refuses a value."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from cloud.web.errors import bad_param


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_param(name, f"必须是整数，收到 {raw[:40]!r}",
                        f"must be an integer, got {raw[:40]!r}") from None
    if not lo <= value <= hi:
        raise bad_param(name, f"必须在 {lo} 到 {hi} 之间，收到 {value}",
                        f"must be between {lo} and {hi}, got {value}")
    return value


def time_param(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 time that carries its UTC offset (a naive time is ambiguous by 8 hours)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_param(name, f"不是 ISO 8601 时间：{raw[:40]!r}",
                        f"not an ISO 8601 time: {raw[:40]!r}") from None
    if value.tzinfo is None:
        raise bad_param(name, "时间必须带时区偏移，例如 2026-01-01T08:00:00+08:00",
                        "time must include a UTC offset, e.g. 2026-01-01T08:00:00+08:00")
    return value


def text_param(request: web.Request, name: str, max_len: int) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_len:
        raise bad_param(name, f"长度不能超过 {max_len}", f"must be at most {max_len} characters")
    return raw


def names_param(request: web.Request, name: str, max_len: int) -> list[str]:
    """Repeated (``?name=a&name=b``) or comma-separated (``?name=a,b``) names."""
    out: list[str] = []
    for raw in request.query.getall(name, []):
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if len(part) > max_len:
                raise bad_param(name, f"长度不能超过 {max_len}",
                                f"must be at most {max_len} characters")
            out.append(part)
    return out


def flag_param(request: web.Request, name: str) -> bool | None:
    """``1``/``true`` or ``0``/``false``; absent or empty is None."""
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    if raw in ("1", "true"):
        return True
    if raw in ("0", "false"):
        return False
    raise bad_param(name, "须为 1/0 或 true/false", "must be 1/0 or true/false")
