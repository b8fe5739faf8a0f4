"""Fee items (收费项目): the rule of each kind, validated with errors that name the field.

Kinds and their ``rule`` fields (amounts and prices are decimal strings):

- ``area``: ``rates`` {unit type: yuan per m² per month}; ``vacant_share`` (share of the fee
  a vacant or unsold unit pays, 0–1); ``prepay_discount`` (yearly items only, 0–1).
- ``fixed``: ``amount`` per month; ``unit_types`` (only these types; default all);
  ``exclude_vacant`` (vacant and unsold units do not pay); ``prepay_discount`` as above.
- ``metered``: ``utility``; ``tiers`` [{upto, price}] with the last ``upto`` null, or one
  ``price``; ``anomaly`` {spike_factor, spike_periods, spike_cap, stuck_periods,
  boundary_hours}.
- ``shared`` (公摊): ``utility``, ``basis`` area|usage, ``price`` per unit of consumption,
  ``buildings`` (building codes whose shared meters this item bills; default all).
- ``parking_pass``: ``price`` per pass per month.
- ``parking_temp``: no fields; unpaid ``parking.exit`` charges of the unit's vehicles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloud.billing.money import parse_decimal
from cloud.billing.periods import CYCLE_MONTHS
from cloud.billing.tables import FEE_KINDS
from cloud.billing.tiers import Tier
from cloud.records.tables import UTILITIES
from cloud.web.body import unstorable

MAX_PRICE = Decimal("1000000")
CODE_MAX = 32
NAME_MAX = 100


class FeeItemError(ValueError):
    """A fee item field we refuse; ``field`` is its path, e.g. ``rule.tiers[1].upto``."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field, self.zh, self.en = field, zh, en


@dataclass(frozen=True)
class Anomaly:
    """When a metered consumption holds its bill for review."""

    spike_factor: Decimal = Decimal(5)
    spike_periods: int = 3
    spike_cap: Decimal | None = None
    stuck_periods: int = 2
    boundary_hours: int = 48


@dataclass(frozen=True)
class Rule:
    """One fee item's parsed rule; fields not used by its kind keep their defaults."""

    kind: str
    rates: dict[str, Decimal] = field(default_factory=dict)
    vacant_share: Decimal | None = None
    prepay_discount: Decimal | None = None
    amount: Decimal = Decimal(0)
    unit_types: tuple[str, ...] | None = None
    exclude_vacant: bool = False
    utility: str = ""
    tiers: tuple[Tier, ...] = ()
    anomaly: Anomaly = Anomaly()
    basis: str = "area"
    price: Decimal = Decimal(0)
    buildings: tuple[str, ...] | None = None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _dec(doc: dict[str, Any], key: str, path: str, lo: Decimal, hi: Decimal,
         required: bool = True) -> Decimal | None:
    if key not in doc or doc[key] is None:
        if required:
            raise FeeItemError(_join(path, key), "必须填写", "required")
        return None
    value = parse_decimal(doc[key])
    if value is None:
        raise FeeItemError(_join(path, key), "须为十进制数字字符串，例如 \"2.50\"",
                           "must be a decimal number as a string, e.g. \"2.50\"")
    if not lo <= value <= hi:
        raise FeeItemError(_join(path, key), f"须在 {lo} 到 {hi} 之间",
                           f"must be between {lo} and {hi}")
    return value


def _int(doc: dict[str, Any], key: str, path: str, lo: int, hi: int, default: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FeeItemError(_join(path, key), f"须为 {lo} 到 {hi} 之间的整数",
                           f"must be an integer from {lo} to {hi}")
    return value


def _names(doc: dict[str, Any], key: str, path: str) -> tuple[str, ...] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v.strip() and len(v) <= 64 for v in value):
        raise FeeItemError(_join(path, key), "须为非空的名称列表", "must be a non-empty list of "
                                                               "names")
    return tuple(v.strip() for v in value)


def _only(doc: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    for key in doc:
        if key not in allowed:
            shown = ", ".join(allowed) or "（无 / none）"
            raise FeeItemError(f"{path}.{str(key)[:40]}", f"未知字段，可用：{shown}",
                               f"unknown field; accepted: {shown}")


def _utility(doc: dict[str, Any], path: str) -> str:
    value = doc.get("utility")
    if value not in UTILITIES:
        raise FeeItemError(f"{path}.utility", f"须为 {', '.join(UTILITIES)}",
                           f"must be one of {', '.join(UTILITIES)}")
    return str(value)


def _share(doc: dict[str, Any], key: str, path: str) -> Decimal | None:
    return _dec(doc, key, path, Decimal(0), Decimal(1), required=False)


def _tiers(doc: dict[str, Any], path: str) -> tuple[Tier, ...]:
    if "tiers" in doc and "price" in doc:
        raise FeeItemError(f"{path}.tiers", "tiers 与 price 只能填一个",
                           "give either tiers or price, not both")
    if "price" in doc:
        price = _dec(doc, "price", path, Decimal(0), MAX_PRICE)
        assert price is not None
        return (Tier(None, price),)
    raw = doc.get("tiers")
    if not isinstance(raw, list) or not raw:
        raise FeeItemError(f"{path}.tiers", "须为非空列表（或改填 price）",
                           "must be a non-empty list (or give price instead)")
    out: list[Tier] = []
    last: Decimal = Decimal(0)
    for i, t in enumerate(raw):
        tpath = f"{path}.tiers[{i}]"
        if not isinstance(t, dict):
            raise FeeItemError(tpath, "须为 {upto, price} 对象", "must be an {upto, price} object")
        _only(t, tpath, ("upto", "price"))
        price = _dec(t, "price", tpath, Decimal(0), MAX_PRICE)
        assert price is not None
        final = i == len(raw) - 1
        if t.get("upto") is None:
            if not final:
                raise FeeItemError(f"{tpath}.upto", "只有最后一档可以不设上限",
                                   "only the last tier may have no upper limit")
            out.append(Tier(None, price))
            continue
        if final:
            raise FeeItemError(f"{tpath}.upto", "最后一档的 upto 须为 null（不设上限）",
                               "the last tier's upto must be null (no upper limit)")
        upto = _dec(t, "upto", tpath, Decimal(0), Decimal(10) ** 12)
        assert upto is not None
        if upto <= last:
            raise FeeItemError(f"{tpath}.upto", f"须大于上一档的上限 {last}",
                               f"must be greater than the previous tier's limit {last}")
        last = upto
        out.append(Tier(upto, price))
    return tuple(out)


def _anomaly(doc: dict[str, Any], path: str) -> Anomaly:
    raw = doc.get("anomaly")
    if raw is None:
        return Anomaly()
    apath = f"{path}.anomaly"
    if not isinstance(raw, dict):
        raise FeeItemError(apath, "须为对象", "must be an object")
    _only(raw, apath, ("spike_factor", "spike_periods", "spike_cap", "stuck_periods",
                       "boundary_hours"))
    d = Anomaly()
    factor = _dec(raw, "spike_factor", apath, Decimal("1.1"), Decimal(1000), required=False)
    return Anomaly(
        spike_factor=d.spike_factor if factor is None else factor,
        spike_periods=_int(raw, "spike_periods", apath, 1, 24, d.spike_periods),
        spike_cap=_dec(raw, "spike_cap", apath, Decimal(0), Decimal(10) ** 12, required=False),
        stuck_periods=_int(raw, "stuck_periods", apath, 1, 24, d.stuck_periods),
        boundary_hours=_int(raw, "boundary_hours", apath, 1, 24 * 31, d.boundary_hours))


def parse_rule(kind: str, cycle: str, rule: Any, path: str = "rule") -> Rule:
    """The validated rule of a fee item of ``kind``; FeeItemError naming the field."""
    if kind not in FEE_KINDS:
        raise FeeItemError("kind", f"须为 {', '.join(FEE_KINDS)}",
                           f"must be one of {', '.join(FEE_KINDS)}")
    if not isinstance(rule, dict):
        raise FeeItemError(path, "须为对象", "must be an object")
    prepay = ("prepay_discount",)
    if kind == "area":
        _only(rule, path, ("rates", "vacant_share", *prepay))
        rates = rule.get("rates")
        if not isinstance(rates, dict) or not rates:
            raise FeeItemError(f"{path}.rates", "须为 {房屋类型: 单价} 对象，至少一项",
                               "must map unit types to prices, at least one")
        parsed = {}
        for t in rates:
            value = _dec(rates, t, f"{path}.rates", Decimal(0), MAX_PRICE)
            assert value is not None
            parsed[str(t)] = value
        out = Rule(kind, rates=parsed, vacant_share=_share(rule, "vacant_share", path),
                   prepay_discount=_share(rule, "prepay_discount", path))
    elif kind == "fixed":
        _only(rule, path, ("amount", "unit_types", "exclude_vacant", *prepay))
        amount = _dec(rule, "amount", path, Decimal(0), MAX_PRICE)
        assert amount is not None
        excl = rule.get("exclude_vacant", False)
        if not isinstance(excl, bool):
            raise FeeItemError(f"{path}.exclude_vacant", "须为 true 或 false",
                               "must be true or false")
        out = Rule(kind, amount=amount, unit_types=_names(rule, "unit_types", path),
                   exclude_vacant=excl, prepay_discount=_share(rule, "prepay_discount", path))
    elif kind == "metered":
        _only(rule, path, ("utility", "tiers", "price", "anomaly"))
        out = Rule(kind, utility=_utility(rule, path), tiers=_tiers(rule, path),
                   anomaly=_anomaly(rule, path))
    elif kind == "shared":
        _only(rule, path, ("utility", "basis", "price", "buildings"))
        basis = rule.get("basis")
        if basis not in ("area", "usage"):
            raise FeeItemError(f"{path}.basis", "须为 area（按面积）或 usage（按用量）",
                               "must be area or usage")
        price = _dec(rule, "price", path, Decimal(0), MAX_PRICE)
        assert price is not None
        out = Rule(kind, utility=_utility(rule, path), basis=str(basis), price=price,
                   buildings=_names(rule, "buildings", path))
    elif kind == "parking_pass":
        _only(rule, path, ("price",))
        price = _dec(rule, "price", path, Decimal(0), MAX_PRICE)
        assert price is not None
        out = Rule(kind, price=price)
    else:
        _only(rule, path, ())
        out = Rule(kind)
    if out.prepay_discount is not None and cycle != "yearly":
        raise FeeItemError(f"{path}.prepay_discount", "预缴折扣只适用于按年收取的项目",
                           "a prepay discount applies only to items billed yearly")
    return out


def parse_late_fee(value: Any) -> dict[str, Any] | None:
    """``{"daily_rate", "grace_days", "cap"}`` normalised, or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FeeItemError("late_fee", "须为对象或 null", "must be an object or null")
    _only(value, "late_fee", ("daily_rate", "grace_days", "cap"))
    rate = _dec(value, "daily_rate", "late_fee", Decimal(0), Decimal("0.01"))
    cap = _dec(value, "cap", "late_fee", Decimal(0), Decimal(10), required=False)
    return {"daily_rate": str(rate), "grace_days": _int(value, "grace_days", "late_fee", 0,
                                                          365, 0),
            "cap": None if cap is None else str(cap)}


@dataclass(frozen=True)
class FeeItemInput:
    code: str
    name: str
    kind: str
    cycle: str
    rule: dict[str, Any]
    late_fee: dict[str, Any] | None
    due_days: int
    active: bool


FIELDS = ("code", "name", "kind", "cycle", "rule", "late_fee", "due_days", "active")


def _str(doc: dict[str, Any], key: str, max_len: int) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FeeItemError(key, "必须填写（非空文本）", "required (a non-empty string)")
    if len(value.strip()) > max_len:
        raise FeeItemError(key, f"长度不能超过 {max_len}", f"must be at most {max_len} "
                                                          f"characters")
    return value.strip()


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first text the database could not store (``unstorable``)."""
    if isinstance(value, str):
        return path if unstorable(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _nul_path(str(k), path) or _nul_path(v, _join(path, str(k)[:40]))
            if found is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def parse_fee_item(doc: Any, base: FeeItemInput | None = None) -> FeeItemInput:
    """A whole fee item from JSON/YAML; with ``base`` the fields not in ``doc`` are kept."""
    if not isinstance(doc, dict):
        raise FeeItemError("body", "须为对象", "must be an object")
    bad = _nul_path(doc, "")
    if bad is not None:
        raise FeeItemError(bad or "body", "含有无法保存的字符（NUL 或非 UTF-8）",
                           "contains characters that cannot be stored (NUL or not UTF-8)")
    for key in doc:
        if key not in FIELDS:
            raise FeeItemError(str(key)[:40], f"未知字段，可用：{', '.join(FIELDS)}",
                               f"unknown field; accepted: {', '.join(FIELDS)}")
    merged: dict[str, Any] = {} if base is None else {
        "code": base.code, "name": base.name, "kind": base.kind, "cycle": base.cycle,
        "rule": base.rule, "late_fee": base.late_fee, "due_days": base.due_days,
        "active": base.active}
    merged.update(doc)
    code = _str(merged, "code", CODE_MAX)
    name = _str(merged, "name", NAME_MAX)
    kind = merged.get("kind")
    if kind not in FEE_KINDS:
        raise FeeItemError("kind", f"须为 {', '.join(FEE_KINDS)}",
                           f"must be one of {', '.join(FEE_KINDS)}")
    cycle = merged.get("cycle", "monthly")
    if cycle not in CYCLE_MONTHS:
        raise FeeItemError("cycle", f"须为 {', '.join(CYCLE_MONTHS)}",
                           f"must be one of {', '.join(CYCLE_MONTHS)}")
    parse_rule(str(kind), str(cycle), merged.get("rule"))
    late_fee = parse_late_fee(merged.get("late_fee"))
    due_days = _int(merged, "due_days", "", 0, 365, 15) if "due_days" in merged else 15
    active = merged.get("active", True)
    if not isinstance(active, bool):
        raise FeeItemError("active", "须为 true 或 false", "must be true or false")
    return FeeItemInput(code, name, str(kind), str(cycle), dict(merged["rule"]), late_fee,
                        due_days, active)
