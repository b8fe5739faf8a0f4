"""The parking dataset the edge decides from: vehicles, passes, visitors, blacklist, tariffs.

The cloud owns these records and pushes them as one versioned JSON document (DESIGN §3; its
shape on the wire is ``contract.datasets``); the edge keeps the last good version on disk and
swaps a new one in whole, so a lane never decides from half a dataset. Parsing checks every
entry and names the bad ones: a broken entry is skipped (and reported) rather than losing the
whole list at a gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from contract.datasets import document_version
from contract.errors import ContractError
from parkingrules.plates import PlateIndex, normalize
from parkingrules.tariff import Tariff
from parkingrules.tariff_yaml import tariff_from_dict


class DatasetError(ValueError):
    """A dataset document that cannot be used at all (not an object, no version)."""


@dataclass(frozen=True, slots=True)
class Vehicle:
    """An owner's or tenant's registered vehicle: it always enters and leaves free."""

    plate: str
    holder: str
    unit: str | None = None
    role: str = "owner"  # owner | tenant | staff
    lots: frozenset[str] = frozenset()  # empty: every lot


@dataclass(frozen=True, slots=True)
class MonthlyPass:
    plate: str
    valid_from: date
    valid_to: date  # inclusive, in site time
    holder: str | None = None
    lots: frozenset[str] = frozenset()
    grace_days: int = 0
    remind_days: int = 7


@dataclass(frozen=True, slots=True)
class Visitor:
    plate: str
    start: datetime
    end: datetime
    host_unit: str | None = None


@dataclass(frozen=True, slots=True)
class Barred:
    plate: str
    reason: str


@dataclass
class ParkingData:
    """One version of the dataset, with its plate indexes built once."""

    version: int
    vehicles: PlateIndex[Vehicle] = field(default_factory=PlateIndex)
    passes: PlateIndex[MonthlyPass] = field(default_factory=PlateIndex)
    visitors: PlateIndex[Visitor] = field(default_factory=PlateIndex)
    blacklist: PlateIndex[Barred] = field(default_factory=PlateIndex)
    tariffs: dict[str, Tariff] = field(default_factory=dict)
    #: Entries skipped because they were malformed: (where, why).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"vehicles": len(self.vehicles), "passes": len(self.passes),
                "visitors": len(self.visitors), "blacklist": len(self.blacklist),
                "tariffs": len(self.tariffs), "skipped": len(self.skipped)}


def _date(raw: Any) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        return date.fromisoformat(raw)
    raise ValueError("须为日期 YYYY-MM-DD / must be a date YYYY-MM-DD")


def _aware(raw: Any, tz: ZoneInfo) -> datetime:
    if isinstance(raw, datetime):
        ts = raw
    elif isinstance(raw, str):
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    else:
        raise ValueError("须为 ISO 8601 时间 / must be an ISO 8601 time")
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)


def _plate(entry: dict[str, Any]) -> str:
    raw = entry.get("plate")
    text = normalize(raw) if isinstance(raw, str) else ""
    if not text:
        raise ValueError("缺少车牌 / plate missing")
    return text


def _lots(entry: dict[str, Any]) -> frozenset[str]:
    lots = entry.get("lots") or []
    if not isinstance(lots, list) or not all(isinstance(x, str) for x in lots):
        raise ValueError("lots 须为车场 id 列表 / lots must be a list of lot ids")
    return frozenset(lots)


def _opt_str(entry: dict[str, Any], key: str) -> str | None:
    v = entry.get(key)
    return str(v) if v is not None else None


def parse_dataset(doc: Any, tz: ZoneInfo) -> ParkingData:
    """Build ParkingData from a ``contract.datasets.ParkingDocument`` (or the installer's
    local file of the same shape); malformed entries are skipped and listed."""
    if not isinstance(doc, dict):
        raise DatasetError("数据集须为 JSON 对象 / the dataset must be a JSON object")
    try:
        version = document_version(doc)
    except ContractError:
        raise DatasetError("数据集缺少版本号 / the dataset needs an integer version") from None
    data = ParkingData(version=version)

    def each(key: str) -> list[tuple[str, dict[str, Any]]]:
        items = doc.get(key) or []
        if not isinstance(items, list):
            data.skipped.append((key, "须为列表 / must be a list"))
            return []
        out = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                out.append((f"{key}[{i}]", item))
            else:
                data.skipped.append((f"{key}[{i}]", "须为对象 / must be an object"))
        return out

    for where, e in each("vehicles"):
        try:
            plate = _plate(e)
            role = str(e.get("role", "owner"))
            if role not in ("owner", "tenant", "staff"):
                raise ValueError("role 须为 owner/tenant/staff / must be owner, tenant or staff")
            data.vehicles.add(plate, Vehicle(plate=plate, holder=str(e.get("holder", "")),
                                             unit=_opt_str(e, "unit"), role=role,
                                             lots=_lots(e)))
        except ValueError as exc:
            data.skipped.append((where, str(exc)))
    for where, e in each("passes"):
        try:
            plate = _plate(e)
            p = MonthlyPass(plate=plate, valid_from=_date(e.get("valid_from")),
                            valid_to=_date(e.get("valid_to")), holder=_opt_str(e, "holder"),
                            lots=_lots(e), grace_days=int(e.get("grace_days", 0)),
                            remind_days=int(e.get("remind_days", 7)))
            if p.valid_to < p.valid_from:
                raise ValueError("valid_to 早于 valid_from / valid_to is before valid_from")
            data.passes.add(plate, p)
        except (ValueError, TypeError) as exc:
            data.skipped.append((where, str(exc)))
    for where, e in each("visitors"):
        try:
            plate = _plate(e)
            v = Visitor(plate=plate, start=_aware(e.get("start"), tz),
                        end=_aware(e.get("end"), tz), host_unit=_opt_str(e, "host_unit"))
            if v.end <= v.start:
                raise ValueError("end 须晚于 start / end must be after start")
            data.visitors.add(plate, v)
        except ValueError as exc:
            data.skipped.append((where, str(exc)))
    for where, e in each("blacklist"):
        try:
            plate = _plate(e)
            data.blacklist.add(plate, Barred(plate=plate, reason=str(e.get("reason", ""))))
        except ValueError as exc:
            data.skipped.append((where, str(exc)))
    tariffs = doc.get("tariffs") or {}
    if isinstance(tariffs, dict):
        for lot, t in tariffs.items():
            try:
                data.tariffs[str(lot)] = tariff_from_dict(t, source=f"tariffs.{lot}")
            except ValueError as exc:
                data.skipped.append((f"tariffs.{lot}", str(exc)))
    else:
        data.skipped.append(("tariffs", "须为 车场→收费标准 的映射 / must map lot → tariff"))
    return data


def pass_state(p: MonthlyPass, at: datetime, tz: ZoneInfo) -> tuple[str, int]:
    """("valid"|"grace"|"expired"|"not_yet", days left until valid_to) at ``at``."""
    today = at.astimezone(tz).date()
    left = (p.valid_to - today).days
    if today < p.valid_from:
        return "not_yet", left
    if today <= p.valid_to:
        return "valid", left
    if today <= p.valid_to + timedelta(days=p.grace_days):
        return "grace", left
    return "expired", left


def end_of_day(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(23, 59, 59), tzinfo=tz)


ZERO = Decimal("0")
