"""One rule per input field, shared by the JSON API and spreadsheet imports.

A value may come as JSON (numbers already Decimal, lists), as a CSV cell (text) or as an
.xlsx cell (int, float, date, datetime): each parser accepts all three and refuses with a
:class:`RecordError` that names the field and says why in Chinese and English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from cloud.db.types import QUANTITY_LIMIT
from cloud.parking.records import RecordError, check_lot, check_plate

__all__ = ["Field", "RecordError", "parse_field"]

MAX_INT = 2**31 - 1
AREA_LIMIT = Decimal("99999999.99")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{2,30}$")


@dataclass(frozen=True)
class Field:
    """An input field: its key (JSON and import column), labels, type and limits.

    ``kind``: text, int, area, quantity, date, moment, choice, plate, lot, lots, phone, email.
    ``choices`` maps each stored value to its Chinese label (either is accepted on input).
    """

    key: str
    zh: str
    en: str
    kind: str = "text"
    required: bool = False
    max_len: int = 100
    choices: dict[str, str] = field(default_factory=dict)
    default: Any = None
    #: Model attribute, when it differs from ``key`` (e.g. ``unit`` → ``unit_ref``).
    attr: str = ""
    lo: Decimal | int | None = None
    #: Numbers must be > 0 (areas, multipliers).
    positive: bool = False
    example: str = ""
    note: str = ""
    #: The import column's key when it differs from ``key`` (``unit`` → ``unit_code``).
    column: str = ""

    @property
    def name(self) -> str:
        return self.attr or self.key

    @property
    def header(self) -> str:
        """The import column header: Chinese, then the key (``房号 unit_code``)."""
        return f"{self.zh} {self.column or self.key}"


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _text(f: Field, raw: Any) -> str:
    if isinstance(raw, bool) or isinstance(raw, list | dict):
        raise RecordError(f.key, "须为文本", "must be text")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a number typed into an xlsx text column (room 101)
    value = str(raw).strip()
    if len(value) > f.max_len:
        raise RecordError(f.key, f"长度不能超过 {f.max_len}",
                          f"must be at most {f.max_len} characters")
    if any(ord(c) < 32 for c in value):
        raise RecordError(f.key, "不能含控制字符", "must not contain control characters")
    return value


def _decimal(f: Field, raw: Any, places: int, limit: Decimal) -> Decimal:
    if isinstance(raw, bool):
        raise RecordError(f.key, "须为数字", "must be a number")
    try:
        if isinstance(raw, float):
            value = Decimal(repr(raw))
        else:
            value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise RecordError(f.key, f"须为数字，收到 {str(raw)[:40]!r}",
                          f"must be a number, got {str(raw)[:40]!r}") from None
    if not value.is_finite():
        raise RecordError(f.key, "须为有限数字", "must be a finite number")
    if value.as_tuple().exponent < -places:  # type: ignore[operator]
        raise RecordError(f.key, f"最多 {places} 位小数", f"at most {places} decimal places")
    if abs(value) > limit:
        raise RecordError(f.key, f"不能超过 {limit}", f"must not exceed {limit}")
    if f.positive and value <= 0:
        raise RecordError(f.key, "须大于 0", "must be greater than 0")
    if f.lo is not None and value < Decimal(f.lo):
        raise RecordError(f.key, f"不能小于 {f.lo}", f"must not be less than {f.lo}")
    return value


def _int(f: Field, raw: Any) -> int:
    if isinstance(raw, bool):
        raise RecordError(f.key, "须为整数", "must be an integer")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, Decimal) and raw == raw.to_integral_value():
        raw = int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d{1,10}\s*", raw):
        raw = int(raw)
    if not isinstance(raw, int):
        raise RecordError(f.key, f"须为整数，收到 {str(raw)[:40]!r}",
                          f"must be an integer, got {str(raw)[:40]!r}")
    lo = int(f.lo) if f.lo is not None else -MAX_INT
    if not lo <= raw <= MAX_INT:
        raise RecordError(f.key, f"须在 {lo} 到 {MAX_INT} 之间",
                          f"must be between {lo} and {MAX_INT}")
    return raw


def _date(f: Field, raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip().replace("/", "-")
    try:
        parts = text.split("-")
        if len(parts) != 3:
            raise ValueError
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise RecordError(f.key, f"须为日期 YYYY-MM-DD，收到 {text[:40]!r}",
                          f"must be a date YYYY-MM-DD, got {text[:40]!r}") from None


def _moment(f: Field, raw: Any, tz: ZoneInfo) -> datetime:
    """An aware time; a bare date (or a naive xlsx time) is read in the site's time zone."""
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=tz)).astimezone(UTC)
    if isinstance(raw, date):
        return datetime.combine(raw, time(), tz).astimezone(UTC)
    text = str(raw).strip()
    if len(text) <= 10:
        return datetime.combine(_date(f, text), time(), tz).astimezone(UTC)
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f.key, "须为 ISO 8601 时间（如 2026-11-23T08:00:00+08:00）或日期",
                          "must be an ISO 8601 time (e.g. 2026-11-23T08:00:00+08:00) or a "
                          "date") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=tz)
    return ts.astimezone(UTC)


def _choice(f: Field, raw: Any) -> str:
    text = str(raw).strip() if isinstance(raw, str) else raw
    if text in f.choices:
        return str(text)
    if isinstance(text, str) and text.lower() in f.choices:  # "Residential" from a sheet
        return text.lower()
    for value, label in f.choices.items():
        if text == label:
            return value
    shown = ", ".join(f"{v}（{zh}）" for v, zh in f.choices.items())
    raise RecordError(f.key, f"须为以下之一：{shown}", f"must be one of {', '.join(f.choices)}")


def _lots(f: Field, raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[,，;；\s]+", raw) if p]
    if not isinstance(raw, list) or len(raw) > 32:
        raise RecordError(f.key, "须为车场 id 列表（最多 32 个），空表示全部车场",
                          "must be a list of lot ids (at most 32); empty means every lot")
    return sorted({check_lot(v, f.key) for v in raw})


def parse_field(f: Field, raw: Any, tz: ZoneInfo) -> Any:
    """The stored value of ``raw`` for ``f``; None (or the default) when blank."""
    if _blank(raw) or (f.kind == "lots" and raw == []):
        if f.required:
            raise RecordError(f.key, "必填", "required")
        return [] if f.kind == "lots" else f.default
    k = f.kind
    if k == "text":
        return _text(f, raw)
    if k == "phone":
        value = _text(f, raw)
        if not _PHONE.fullmatch(value):
            raise RecordError(f.key, "电话号码格式无效（数字，可带 + - 空格）",
                              "invalid phone number (digits, optionally + - and spaces)")
        return value
    if k == "email":
        value = _text(f, raw)
        if not _EMAIL.fullmatch(value):
            raise RecordError(f.key, "邮箱格式无效", "invalid email address")
        return value
    if k == "int":
        return _int(f, raw)
    if k == "area":
        return _decimal(f, raw, 2, AREA_LIMIT).quantize(Decimal("0.01"))
    if k == "quantity":
        return _decimal(f, raw, 6, Decimal(QUANTITY_LIMIT) - 1)
    if k == "date":
        return _date(f, raw)
    if k == "moment":
        return _moment(f, raw, tz)
    if k == "choice":
        return _choice(f, raw)
    if k == "plate":
        if not isinstance(raw, str):
            raise RecordError(f.key, "车牌须为文本", "plate must be text")
        return check_plate(raw, f.key)
    if k == "lot":
        return check_lot(_text(f, raw), f.key)
    if k == "lots":
        return _lots(f, raw)
    raise AssertionError(k)
