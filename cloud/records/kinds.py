"""The register's resources described once: fields, natural keys, personal data, JSON shape.

The same description drives the API (``/api/units`` …), the import templates and the import
itself, so a column of the units template is exactly a field of ``POST /api/units``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cloud.parking.records import RecordError
from cloud.parking.tables import ParkingSpace, ParkingVehicle
from cloud.records.fields import Field, parse_field
from cloud.records.tables import (
    UNIT_STATUSES,
    UNIT_TYPES,
    UTILITIES,
    BillingMeter,
    Building,
    Company,
    Resident,
    Unit,
)
from cloud.web.present import decimal_str, times
from contract.registers import BILLING_REGISTERS

STATUS_ZH = {"unsold": "未售", "occupied": "自住", "rented": "出租", "vacant": "空置"}
UNIT_TYPE_ZH = {"residential": "住宅", "commercial": "商铺", "office": "办公", "storage": "储藏室",
                "parking": "车位"}
UTILITY_ZH = {"electricity": "电", "water": "水", "gas": "燃气"}
SCOPE_ZH = {"unit": "分户", "shared": "公摊"}
VEHICLE_ROLE_ZH = {"owner": "业主", "tenant": "租户", "staff": "员工"}
SPACE_KIND_ZH = {"owned": "产权", "rented": "租用", "public": "公共"}
assert tuple(STATUS_ZH) == UNIT_STATUSES and tuple(UTILITY_ZH) == UTILITIES
assert tuple(UNIT_TYPE_ZH) == UNIT_TYPES

#: Reference fields: the input is a code, the row holds an id (or the code, for parking).
BUILDING_REF = "building"
UNIT_REF = "unit"


@dataclass(frozen=True)
class Kind:
    """One register resource."""

    name: str  # path segment and import kind: "units"
    entity: str  # audit_log.entity: "unit"
    model: type[Any]
    zh: str
    en: str
    fields: tuple[Field, ...]
    #: Model attributes that identify a row within its site (the import's natural key).
    key: tuple[str, ...]
    #: Attributes every row of this kind has (owners: role = owner).
    fixed: Mapping[str, Any] = field(default_factory=dict)
    #: JSON keys holding personal data, masked without ``people.read``.
    personal: tuple[str, ...] = ()
    #: Rows are part of the parking dataset the edge decides from.
    parking: bool = False
    site_scoped: bool = True
    check: Callable[[dict[str, Any]], None] | None = None
    #: Extra read-only attributes shown in JSON (meters: removal).
    extra: tuple[str, ...] = ()

    def by_key(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    @property
    def attrs(self) -> tuple[str, ...]:
        """Model attributes written from input (references become ``*_id``)."""
        out = []
        for f in self.fields:
            if f.key == BUILDING_REF:
                out.append("building_id")
            elif f.key == UNIT_REF and not self.parking:
                out.append("unit_id")
            else:
                out.append(f.name)
        return (*out, *self.fixed)

    @property
    def audited(self) -> tuple[str, ...]:
        return (*self.attrs, *self.extra)

    def read_perm(self) -> str:
        return "records.read"

    def write_perm(self) -> str:
        return "people.write" if self.entity == "resident" else "records.write"


def parse_input(kind: Kind, data: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """Every field of ``kind`` parsed from ``data`` (field key → value; codes for references).

    Unknown keys are refused, so a typo (``lease_ned``) cannot silently drop a value.
    """
    allowed = {f.key for f in kind.fields} | ({"site"} if kind.site_scoped else set())
    for k in data:
        if k not in allowed:
            raise RecordError(str(k)[:40], f"未知字段；可用字段：{', '.join(sorted(allowed))}",
                              f"unknown field; expected one of {', '.join(sorted(allowed))}")
    values = {f.key: parse_field(f, data.get(f.key), tz) for f in kind.fields}
    if kind.check is not None:
        kind.check(values | dict(kind.fixed))
    return values


# --- cross-field rules --------------------------------------------------------------------


def _check_unit(v: dict[str, Any]) -> None:
    if v["inner_area"] is not None and v["inner_area"] > v["area"]:
        raise RecordError("inner_area", "套内面积不能大于建筑面积",
                          "inner area must not exceed the gross area")


def _order(v: dict[str, Any], first: str, then: str) -> None:
    a, b = v.get(first), v.get(then)
    if isinstance(a, date) and isinstance(b, date) and b < a:
        raise RecordError(then, f"{then} 不能早于 {first}", f"{then} is before {first}")


def _check_resident(v: dict[str, Any]) -> None:
    _order(v, "move_in", "move_out")
    _order(v, "lease_start", "lease_end")
    if v["role"] == "tenant":
        for key in ("lease_start", "lease_end"):
            if v[key] is None:
                raise RecordError(key, "租户须填写租期起止日期", "a tenant needs lease dates")


def _check_space(v: dict[str, Any]) -> None:
    if v["kind"] in ("owned", "rented") and not v[UNIT_REF]:
        raise RecordError(UNIT_REF, "产权或租用车位须填写房号",
                          "an owned or rented space needs its unit")
    if v["kind"] == "public" and v[UNIT_REF]:
        raise RecordError(UNIT_REF, "公共车位不属于任何房屋，请留空",
                          "a public space belongs to no unit; leave it empty")


def check_register(utility: str, register: str | None, field: str = "register") -> None:
    """A billing meter reads a counter some meter profile produces (contract/registers.py):
    a name no profile sends would leave every bill of the meter without a reading."""
    names = BILLING_REGISTERS.get(utility, ())
    if register and register not in names:
        shown = ", ".join(names) or "—"
        raise RecordError(field,
                          f"没有设备型号产生计费读数 “{register}”；{utility} 表可用：{shown}",
                          f'no device profile produces a billing register "{register}"; '
                          f"{utility} meters give {shown}")


def _check_meter(v: dict[str, Any]) -> None:
    check_register(v["utility"], v["register"])
    if v["scope"] == "unit" and not v[UNIT_REF]:
        raise RecordError(UNIT_REF, "分户表须填写房号", "a unit meter needs its unit")
    if v["scope"] == "shared" and v[UNIT_REF]:
        raise RecordError(UNIT_REF, "公摊表不属于单个房屋，请留空（可填楼栋）",
                          "a shared meter belongs to no single unit; leave it empty (give "
                          "the building)")
    if v["rollover_at"] is not None and v["initial_reading"] >= v["rollover_at"]:
        raise RecordError("initial_reading", "初始读数须小于翻转值",
                          "the initial reading must be below rollover_at")


# --- the resources ------------------------------------------------------------------------

_UNIT_CODE = Field("code", "房号", "unit code", required=True, max_len=64,
                   example="1-1-101", note="楼栋-单元-房间 / building-entrance-room",
                   column="unit_code")
_UNIT_OF = Field(UNIT_REF, "房号", "unit code", required=True, max_len=64, example="1-1-101",
                 note="须已存在 / must exist", column="unit_code")

COMPANIES = Kind(
    "companies", "company", Company, "物业公司", "company",
    (Field("code", "公司编码", "company code", required=True, max_len=32, example="WY01"),
     Field("name", "名称", "name", required=True, max_len=200, example="示例物业")),
    key=("code",), site_scoped=False)

BUILDINGS = Kind(
    "buildings", "building", Building, "楼栋", "building",
    (Field("code", "楼栋编码", "building code", required=True, max_len=32, example="1"),
     Field("name", "名称", "name", required=True, max_len=100, example="1号楼"),
     Field("floors", "层数", "floors", "int", lo=0, example="18")),
    key=("code",))

UNITS = Kind(
    "units", "unit", Unit, "房屋", "unit",
    (_UNIT_CODE,
     Field(BUILDING_REF, "楼栋", "building code", required=True, max_len=32, example="1",
           note="不存在时自动创建 / created when missing (import)", column="building_code"),
     Field("floor", "楼层", "floor", "int", lo=-10, example="1"),
     Field("area", "建筑面积", "gross area m²", "area", required=True, positive=True,
           example="89.50", note="平方米，>0 / m², > 0"),
     Field("inner_area", "套内面积", "inner area m²", "area", positive=True, example="72.30"),
     Field("unit_type", "类型", "unit type", "choice", choices=UNIT_TYPE_ZH,
           default="residential", example="residential",
           note="residential 住宅 / commercial 商铺 / office 办公 / storage 储藏室 / "
                "parking 车位"),
     Field("status", "状态", "status", "choice", choices=STATUS_ZH, default="vacant",
           example="occupied", note="unsold 未售 / occupied 自住 / rented 出租 / vacant 空置")),
    key=("code",), check=_check_unit)


def _resident_fields() -> tuple[Field, ...]:
    return (
        _UNIT_OF,
        Field("name", "姓名", "name", required=True, max_len=100, example="张三"),
        Field("phone", "电话", "phone", "phone", max_len=32, example="13800138000"),
        Field("id_number", "证件号", "ID number", max_len=32, example="110101199001011234"),
        Field("email", "邮箱", "email", "email", max_len=200, example="zhang@example.com"),
        Field("move_in", "入住日期", "move-in date", "date", example="2024-05-01"),
        Field("move_out", "迁出日期", "move-out date", "date", example=""),
        Field("lease_start", "租期开始", "lease start", "date", example="2025-01-01",
              note="租户必填 / required for tenants"),
        Field("lease_end", "租期结束", "lease end", "date", example="2025-12-31",
              note="租户必填 / required for tenants"),
        Field("note", "备注", "note", max_len=2000, example=""))


_PERSONAL = ("name", "phone", "id_number", "email")
OWNERS = Kind("owners", "resident", Resident, "业主", "owner", _resident_fields(),
              key=("unit_id", "role", "name", "phone"), fixed={"role": "owner"},
              personal=_PERSONAL, check=_check_resident)
TENANTS = Kind("tenants", "resident", Resident, "租户", "tenant", _resident_fields(),
               key=("unit_id", "role", "name", "phone"), fixed={"role": "tenant"},
               personal=_PERSONAL, check=_check_resident)

VEHICLES = Kind(
    "vehicles", "vehicle", ParkingVehicle, "车辆", "vehicle",
    (Field("plate", "车牌", "plate", "plate", required=True, example="粤B12345"),
     Field("holder", "车主", "holder", required=True, max_len=100, example="张三"),
     Field(UNIT_REF, "房号", "unit code", max_len=64, attr="unit_ref", example="1-1-101",
           column="unit_code"),
     Field("role", "身份", "role", "choice", choices=VEHICLE_ROLE_ZH, default="owner",
           example="owner", note="owner 业主 / tenant 租户 / staff 员工"),
     Field("lots", "可用车场", "lots", "lots", example="",
           note="逗号分隔，空为全部 / comma-separated, empty: every lot")),
    key=("plate",), personal=("holder",), parking=True)

SPACES = Kind(
    "spaces", "space", ParkingSpace, "车位", "parking space",
    (Field("lot", "车场", "lot", "lot", required=True, max_len=64, example="lot-main"),
     Field("code", "车位号", "space code", required=True, max_len=32, example="B1-001"),
     Field("kind", "类别", "kind", "choice", choices=SPACE_KIND_ZH, required=True,
           example="owned", note="owned 产权 / rented 租用 / public 公共"),
     Field(UNIT_REF, "房号", "unit code", max_len=64, attr="unit_ref", example="1-1-101",
           column="unit_code"),
     Field("plate", "车牌", "plate", "plate", example="粤B12345")),
    key=("lot", "code"), parking=True, check=_check_space)

METERS = Kind(
    "meters", "billing_meter", BillingMeter, "计费表", "billing meter",
    (Field("code", "表号", "meter code", required=True, max_len=64, example="E-1-1-101",
           column="meter_code"),
     Field("utility", "类型", "utility", "choice", choices=UTILITY_ZH, required=True,
           example="electricity", note="electricity 电 / water 水 / gas 燃气"),
     Field("scope", "范围", "scope", "choice", choices=SCOPE_ZH, default="unit",
           example="unit", note="unit 分户 / shared 公摊"),
     Field(UNIT_REF, "房号", "unit code", max_len=64, example="1-1-101",
           note="分户表必填 / required for unit meters", column="unit_code"),
     Field(BUILDING_REF, "楼栋", "building code", max_len=32, example="",
           note="公摊表：分摊的楼栋，空为全小区 / shared: the building, empty: whole site",
           column="building_code"),
     Field("device_key", "采集设备", "edge device", max_len=128, example="meter-1"),
     Field("register", "寄存器", "register", max_len=64, example="energy_import_kwh"),
     Field("multiplier", "倍率", "multiplier", "quantity", default=Decimal(1), positive=True,
           example="1"),
     Field("rollover_at", "翻转值", "rollover at", "quantity", positive=True,
           example="99999.99"),
     Field("installed_at", "安装时间", "installed at", "moment", required=True,
           example="2024-01-01", note="日期或带时区时间 / a date or an ISO time"),
     Field("initial_reading", "初始读数", "initial reading", "quantity", lo=0,
           default=Decimal(0), example="0")),
    key=("code",), check=_check_meter,
    extra=("removed_at", "final_reading", "replaces_id"))

KINDS: dict[str, Kind] = {k.name: k for k in (COMPANIES, BUILDINGS, UNITS, OWNERS, TENANTS,
                                               VEHICLES, SPACES, METERS)}


# --- JSON ---------------------------------------------------------------------------------


@dataclass
class Labels:
    """Codes of the ids rows refer to: site slugs, building and unit codes."""

    sites: dict[int, str] = field(default_factory=dict)
    buildings: dict[int, str] = field(default_factory=dict)
    units: dict[int, str] = field(default_factory=dict)


def _out(f: Field, value: Any, tz: ZoneInfo) -> Any:

    if value is None:
        return None
    if f.kind == "area":
        return format(Decimal(value).quantize(Decimal("0.01")), "f")
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, datetime):
        return times(f.key, value, tz)[f.key]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return value


def present(kind: Kind, row: Any, labels: Labels, tz: ZoneInfo) -> dict[str, Any]:
    """The row as the API shows it (unmasked; see ``cloud.records.mask``)."""

    out: dict[str, Any] = {"id": row.id}
    if kind.site_scoped:
        out["site"] = labels.sites.get(row.site_id)
    for f in kind.fields:
        if f.key == BUILDING_REF:
            out[f.key] = labels.buildings.get(row.building_id) if row.building_id else None
        elif f.key == UNIT_REF and not kind.parking:
            out[f.key] = labels.units.get(row.unit_id) if row.unit_id else None
        else:
            out[f.key] = _out(f, getattr(row, f.name), tz)
        if f.kind == "moment":
            out |= times(f.key, getattr(row, f.name), tz)
    for name in kind.fixed:
        out[name] = getattr(row, name)
    if kind is METERS:
        out |= times("removed_at", row.removed_at, tz)
        out["final_reading"] = decimal_str(row.final_reading)
        out["replaces_id"] = row.replaces_id
        out["active"] = row.removed_at is None
    out |= times("created_at", row.created_at, tz) | times("updated_at", row.updated_at, tz)
    return out


def input_of(kind: Kind, shown: Mapping[str, Any]) -> dict[str, Any]:
    """The input fields of a presented row: what a partial update is merged onto."""
    return {f.key: shown[f.key] for f in kind.fields}
