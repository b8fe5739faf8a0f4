"""The parking lists staff edit (vehicles, spaces, passes, visitors, blacklist): checking
input, storing it, and how each row looks in the API and in the edge's dataset.

Every refusal is a :class:`RecordError` naming the field and saying why (zh-CN, then English),
so the console can put the message next to the box that needs fixing. Plates are normalised
the way the edge compares them; one that :func:`parkingrules.plates.parse` calls invalid is
refused unless the request says ``"force": true`` (staff sometimes have to register an odd
plate — a temporary or foreign one — that the format rules do not know).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.parking.tables import (
    Blacklist,
    MonthlyPass,
    ParkingSpace,
    ParkingVehicle,
    VisitorPass,
)
from parkingrules.plates import normalize, parse

#: A lot id, as the site YAML and tariffs write it.
LOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PLATE_MAX = 16
MAX_LOTS = 32
MAX_DAYS = 366

ROLES = ("owner", "tenant", "staff")
SPACE_KINDS = ("owned", "rented", "public")


class RecordError(ValueError):
    """A request we refuse; ``field`` names the input, ``status`` the HTTP status."""

    def __init__(self, field: str | None, zh: str, en: str, *, code: str = "invalid_field",
                 status: int = 400, **extra: Any) -> None:
        super().__init__(en)
        self.field, self.zh, self.en, self.code, self.status = field, zh, en, code, status
        self.extra = extra


def _split(message: str) -> tuple[str, str]:
    zh, sep, en = message.partition(" / ")
    return (zh, en) if sep else (message, message)


def check_plate(raw: Any, field: str = "plate", *, force: bool = False) -> str:
    """The normalised plate; refuse an empty one always and an invalid one unless forced."""
    if not isinstance(raw, str):
        raise RecordError(field, "车牌须为文本", "plate must be text")
    text = normalize(raw)
    if not text:
        raise RecordError(field, "车牌为空或为“无车牌”", "plate is empty or a no-plate marker")
    if len(text) > PLATE_MAX:
        raise RecordError(field, f"车牌不能超过 {PLATE_MAX} 个字符",
                          f"plate must be at most {PLATE_MAX} characters")
    info = parse(text)
    if not info.valid and not force:
        zh, en = _split(info.problem or "格式无效 / invalid format")
        raise RecordError(field, f"车牌 {text} 无效：{zh}；确认无误请加 \"force\": true",
                          f"plate {text} is invalid: {en}; send \"force\": true to store it "
                          "anyway", code="invalid_plate")
    return text


def check_lot(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or not LOT_RE.fullmatch(raw):
        raise RecordError(field, "车场 id 须为字母、数字、-_.，最长 64 位",
                          "a lot id is letters, digits, - _ and ., at most 64 characters")
    return raw


class Body:
    """Reads one JSON object field by field; unknown keys are refused (a typo such as
    ``vaild_to`` must not silently leave a pass without its end date)."""

    def __init__(self, body: Mapping[str, Any], allowed: Sequence[str]) -> None:
        for key in body:
            if key not in allowed:
                raise RecordError(key, f"未知字段；可用字段：{', '.join(allowed)}",
                                  f"unknown field; expected one of {', '.join(allowed)}")
        self.body = body
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise RecordError("force", "force 须为 true 或 false", "force must be true or false")
        self.force = force

    def _get(self, key: str, required: bool) -> Any:
        value = self.body.get(key)
        if value is None and required:
            raise RecordError(key, "必填", "required")
        return value

    def text(self, key: str, max_len: int, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise RecordError(key, "须为文本", "must be text")
        value = value.strip()
        if not value:
            if required:
                raise RecordError(key, "不能为空", "must not be empty")
            return None
        if len(value) > max_len:
            raise RecordError(key, f"长度不能超过 {max_len}",
                              f"must be at most {max_len} characters")
        if any(ord(c) < 32 for c in value):
            raise RecordError(key, "不能含控制字符", "must not contain control characters")
        return value

    def required_text(self, key: str, max_len: int) -> str:
        value = self.text(key, max_len, required=True)
        assert value is not None
        return value

    def choice(self, key: str, choices: Sequence[str], default: str | None = None) -> str:
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if value not in choices:
            raise RecordError(key, f"须为 {' / '.join(choices)} 之一",
                              f"must be one of {', '.join(choices)}")
        return str(value)

    def plate(self, key: str = "plate", *, required: bool = True) -> str | None:
        value = self._get(key, required)
        return None if value is None else check_plate(value, key, force=self.force)

    def lots(self, key: str = "lots") -> list[str]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_LOTS:
            raise RecordError(key, f"须为车场 id 列表（最多 {MAX_LOTS} 个），空列表表示全部车场",
                              f"must be a list of lot ids (at most {MAX_LOTS}); empty means "
                              "every lot")
        return sorted({check_lot(v, f"{key}[{i}]") for i, v in enumerate(value)})

    def lot(self, key: str = "lot") -> str:
        return check_lot(self._get(key, True), key)

    def whole(self, key: str, lo: int, hi: int, default: int) -> int:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(key, "须为整数", "must be an integer")
        if not lo <= value <= hi:
            raise RecordError(key, f"须在 {lo} 到 {hi} 之间", f"must be between {lo} and {hi}")
        return value

    def day(self, key: str) -> date:
        value = self._get(key, True)
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise RecordError(key, "须为日期 YYYY-MM-DD（小区当地日期）",
                              "must be a date YYYY-MM-DD (site calendar)") from None

    def moment(self, key: str) -> datetime:
        """An ISO 8601 time with its UTC offset (a naive time is ambiguous by 8 hours)."""
        value = self._get(key, True)
        try:
            if not isinstance(value, str):
                raise ValueError
            ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RecordError(key, "须为 ISO 8601 时间，例如 2026-11-23T08:00:00+08:00",
                              "must be an ISO 8601 time, e.g. 2026-11-23T08:00:00+08:00"
                              ) from None
        if ts.tzinfo is None:
            raise RecordError(key, "时间须带时区偏移，例如 +08:00",
                              "time must include a UTC offset, e.g. +08:00")
        return ts


# --- the five lists ---------------------------------------------------------------------------

Values = dict[str, Any]


def _vehicle(b: Body) -> Values:
    return {"plate": b.plate(), "holder": b.required_text("holder", 100),
            "unit_ref": b.text("unit", 64), "role": b.choice("role", ROLES, "owner"),
            "lots": b.lots()}


def _space(b: Body) -> Values:
    return {"code": b.required_text("code", 32), "lot": b.lot(),
            "kind": b.choice("kind", SPACE_KINDS), "unit_ref": b.text("unit", 64),
            "plate": b.plate(required=False)}


def _pass(b: Body) -> Values:
    values: Values = {"plate": b.plate(), "holder": b.text("holder", 100), "lots": b.lots(),
                      "valid_from": b.day("valid_from"), "valid_to": b.day("valid_to"),
                      "grace_days": b.whole("grace_days", 0, MAX_DAYS, 0),
                      "remind_days": b.whole("remind_days", 0, MAX_DAYS, 7)}
    if values["valid_to"] < values["valid_from"]:
        raise RecordError("valid_to", "valid_to 不能早于 valid_from（两个日期都包含在内）",
                          "valid_to is before valid_from (both dates are inclusive)")
    return values


def _visitor(b: Body) -> Values:
    values: Values = {"plate": b.plate(), "host_unit": b.text("host_unit", 64),
                      "start_at": b.moment("start"), "end_at": b.moment("end")}
    if values["end_at"] <= values["start_at"]:
        raise RecordError("end", "end 须晚于 start", "end must be after start")
    return values


def _barred(b: Body) -> Values:
    return {"plate": b.plate(), "reason": b.required_text("reason", 200)}


def _day(d: date) -> str:
    return d.isoformat()


def _utc(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Resource:
    """One editable list: its path, table, input rules and its two outward shapes."""

    name: str  # path segment under /parking/, e.g. "vehicles"
    model: type[Any]
    zh: str
    en: str
    #: Unique per site together; the first names the field of a 409.
    keys: tuple[str, ...]
    fields: tuple[str, ...]  # accepted input keys
    parse: Callable[[Body], Values]
    #: The row as the dataset document carries it (what ``parse_dataset`` reads).
    entry: Callable[[Any], dict[str, Any]]
    #: Key of the list in the dataset document.
    doc_key: str
    #: The audit log's name for a row (the same as ``/api/vehicles`` and ``/api/spaces`` write).
    entity: str = ""

    @property
    def audited(self) -> tuple[str, ...]:
        """The row's columns an audit entry shows before and after a change."""
        return tuple(c.key for c in self.model.__table__.columns
                     if c.key not in ("id", "site_id", "created_at", "updated_at"))

    def values(self, body: Mapping[str, Any]) -> Values:
        return self.parse(Body(body, self.fields))

    def sort_key(self) -> tuple[Any, ...]:
        return tuple(getattr(self.model, k) for k in self.keys)


VEHICLES = Resource(
    "vehicles", ParkingVehicle, "车辆", "vehicle", ("plate",),
    ("plate", "holder", "unit", "role", "lots", "force"), _vehicle,
    lambda r: {"plate": r.plate, "holder": r.holder, "unit": r.unit_ref, "role": r.role,
               "lots": list(r.lots or [])},
    "vehicles", "vehicle")
SPACES = Resource(
    "spaces", ParkingSpace, "车位", "parking space", ("code", "lot"),
    ("code", "lot", "kind", "unit", "plate", "force"), _space,
    lambda r: {"lot": r.lot, "code": r.code, "kind": r.kind, "unit": r.unit_ref,
               "plate": r.plate},
    "spaces", "space")
PASSES = Resource(
    "passes", MonthlyPass, "月卡", "monthly pass", ("plate",),
    ("plate", "holder", "lots", "valid_from", "valid_to", "grace_days", "remind_days",
     "force"), _pass,
    lambda r: {"plate": r.plate, "holder": r.holder, "lots": list(r.lots or []),
               "valid_from": _day(r.valid_from), "valid_to": _day(r.valid_to),
               "grace_days": r.grace_days, "remind_days": r.remind_days},
    "passes", "monthly_pass")
VISITORS = Resource(
    "visitors", VisitorPass, "访客车辆", "visitor pass", ("plate",),
    ("plate", "host_unit", "start", "end", "force"), _visitor,
    lambda r: {"plate": r.plate, "host_unit": r.host_unit, "start": _utc(r.start_at),
               "end": _utc(r.end_at)},
    "visitors", "visitor_pass")
BLACKLIST = Resource(
    "blacklist", Blacklist, "黑名单", "blacklist entry", ("plate",),
    ("plate", "reason", "force"), _barred,
    lambda r: {"plate": r.plate, "reason": r.reason},
    "blacklist", "blacklist_entry")

RESOURCES: dict[str, Resource] = {r.name: r for r in
                                  (VEHICLES, SPACES, PASSES, VISITORS, BLACKLIST)}


# --- storage ----------------------------------------------------------------------------------


async def rows(session: AsyncSession, res: Resource, site_id: int, *, plate: str | None = None,
               after_id: int = 0, limit: int | None = None) -> list[Any]:
    """Rows in id order (stable for paging), optionally those of one plate."""
    m = res.model
    query = select(m).where(m.site_id == site_id, m.id > after_id)
    if plate is not None:
        query = query.where(m.plate == plate)
    query = query.order_by(m.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


async def get(session: AsyncSession, res: Resource, site_id: int, row_id: int) -> Any:
    m = res.model
    row = (await session.scalars(
        select(m).where(m.site_id == site_id, m.id == row_id))).one_or_none()
    if row is None:
        raise RecordError("id", f"{res.zh}不存在：{row_id}", f"no such {res.en}: {row_id}",
                          code="not_found", status=404)
    return row


async def check_unique(session: AsyncSession, res: Resource, site_id: int, values: Values,
                       exclude_id: int | None = None) -> None:
    """409 naming the field when another row of the site already has these keys."""
    m = res.model
    query = select(m.id).where(m.site_id == site_id,
                               *(getattr(m, k) == values[k] for k in res.keys))
    if exclude_id is not None:
        query = query.where(m.id != exclude_id)
    other = (await session.scalars(query.limit(1))).first()
    if other is not None:
        shown = " ".join(str(values[k]) for k in reversed(res.keys))
        raise RecordError(res.keys[0], f"{res.zh}已存在：{shown}（id {other}），请修改或删除它",
                          f"{res.en} already exists: {shown} (id {other}); update or delete it",
                          code="duplicate", status=409, existing_id=other)


async def create(session: AsyncSession, res: Resource, site_id: int, values: Values,
                 now: datetime) -> Any:
    await check_unique(session, res, site_id, values)
    row = res.model(site_id=site_id, created_at=now, updated_at=now, **values)
    session.add(row)
    await session.flush()
    return row


async def replace(session: AsyncSession, res: Resource, site_id: int, row_id: int,
                  values: Values, now: datetime) -> Any:
    """PUT: the row becomes exactly the request (fields left out take their defaults)."""
    row = await get(session, res, site_id, row_id)
    await check_unique(session, res, site_id, values, exclude_id=row_id)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
    await session.flush()
    return row


async def remove(session: AsyncSession, res: Resource, site_id: int, row_id: int) -> None:
    await get(session, res, site_id, row_id)
    m = res.model
    await session.execute(delete(m).where(m.site_id == site_id, m.id == row_id))
