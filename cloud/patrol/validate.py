"""Checks of what staff send for patrol: each refusal is ``Invalid`` naming the field, in
zh-CN and English. Pure functions of the body; lookups that need the database (does the
route's checkpoint exist?) are in ``cloud.patrol.service``."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_SECONDS = 7 * 86400
MAX_POINTS = 200


class Invalid(ValueError):
    """A refused request: ``field`` and the reason in zh / en."""

    def __init__(self, field: str, zh: str, en: str, status: int = 400,
                 code: str = "invalid_parameter") -> None:
        super().__init__(f"{field}: {en}")
        self.field, self.zh, self.en, self.status, self.code = field, zh, en, status, code


def key(raw: Any, field: str = "code") -> str:
    """A code: ``[a-z0-9][a-z0-9_.-]{0,63}`` (also the edge's and the sticker's name for it)."""
    if not isinstance(raw, str) or not KEY.fullmatch(raw):
        raise Invalid(field, "须为小写字母或数字开头，由小写字母、数字、_ . - 组成（至多 64 个）",
                      "a code: a lower-case letter or digit, then letters, digits, _ . - "
                      "(up to 64)")
    return raw


def text(body: dict[str, Any], field: str, max_len: int, *, required: bool = False,
         default: str = "") -> str:
    raw = body.get(field)
    if raw is None or (raw == "" and not required):
        if required:
            raise Invalid(field, "必须填写", "required")
        return default
    if not isinstance(raw, str) or "\x00" in raw or (required and not raw.strip()):
        raise Invalid(field, "须为文本", "must be text")
    value = raw.strip()
    if len(value) > max_len:
        raise Invalid(field, f"长度不能超过 {max_len}", f"must be at most {max_len} characters")
    return value


def flag(body: dict[str, Any], field: str, default: bool) -> bool:
    raw = body.get(field, default)
    if not isinstance(raw, bool):
        raise Invalid(field, "须为 true 或 false", "must be true or false")
    return raw


def seconds(raw: Any, field: str, hi: int = MAX_SECONDS) -> int:
    """A whole, non-negative number of seconds (every time in the API is seconds)."""
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= hi:
        raise Invalid(field, f"须为 0 到 {hi} 之间的整数秒", f"whole seconds from 0 to {hi}")
    return raw


def time_of_day(raw: Any, field: str) -> str:
    """``HH:MM`` or ``HH:MM:SS`` site time → ``HH:MM:SS``."""
    if not isinstance(raw, str) or not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", raw):
        raise Invalid(field, "须为 HH:MM 或 HH:MM:SS", "must be HH:MM or HH:MM:SS")
    try:
        t = time.fromisoformat(raw)
    except ValueError:
        raise Invalid(field, "不是有效的时刻", "not a valid time of day") from None
    return t.strftime("%H:%M:%S")


def days(raw: Any) -> list[int]:
    if (not isinstance(raw, list) or not raw
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                       for d in raw)):
        raise Invalid("days", "须为星期 1（周一）到 7（周日）的列表",
                      "a non-empty list of ISO weekdays, 1 (Monday) to 7")
    return sorted(set(raw))


def points(raw: Any, ordered: bool) -> list[dict[str, Any]]:
    """A route's ``[{checkpoint, offset_s}]``: no checkpoint twice; offsets non-decreasing
    along an ordered route (a later checkpoint cannot be due earlier)."""
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_POINTS:
        raise Invalid("points", f"须为 1 到 {MAX_POINTS} 个巡更点",
                      f"must be 1 to {MAX_POINTS} checkpoints")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, p in enumerate(raw):
        where = f"points[{i}]"
        if not isinstance(p, dict) or set(p) - {"checkpoint", "offset_s"}:
            raise Invalid(where, "须为 {checkpoint, offset_s}", "must be {checkpoint, offset_s}")
        cp = key(p.get("checkpoint"), f"{where}.checkpoint")
        if cp in seen:
            raise Invalid(f"{where}.checkpoint", f"巡更点 {cp} 重复", f"checkpoint {cp} repeated")
        seen.add(cp)
        offset = seconds(p.get("offset_s", 0), f"{where}.offset_s", 86400)
        if ordered and out and offset < out[-1]["offset_s"]:
            raise Invalid(f"{where}.offset_s", "有序路线的时间偏移不能小于上一个巡更点",
                          "an ordered route's offsets cannot go down")
        out.append({"checkpoint": cp, "offset_s": offset})
    return out


def tolerances(raw: Any, route_points: list[str]) -> dict[str, int]:
    """Per-checkpoint tolerances; each key a checkpoint of the plan's route."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid("tolerances", "须为 {巡更点: 秒}", "must be {checkpoint: seconds}")
    out: dict[str, int] = {}
    for cp, value in sorted(raw.items()):
        if cp not in route_points:
            raise Invalid(f"tolerances.{str(cp)[:64]}", f"巡更点 {cp} 不在该计划的路线上",
                          f"checkpoint {cp} is not on the plan's route")
        out[cp] = seconds(value, f"tolerances.{cp}")
    return out
