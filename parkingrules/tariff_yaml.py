"""Load and validate a parking tariff from YAML (installer files) or a dict (cloud datasets).

Installers fix tariffs from a terminal, so every problem is reported at once, each as
``FILE:LINE:COL: what is wrong — how to fix it`` (Chinese first, then English), through the
one positioned reader every installer file goes through (``yamlcheck``). Money must be exact:
amounts are read from the scalar text as written, never through float. ``07:00`` is read as
text too, not as YAML 1.1's base-60 number. Dict input (``tariff_from_dict``) takes money as
strings, ints or Decimals and refuses float; its problems name the key path instead of a line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parkingrules.tariff import (
    CAP_WINDOWS,
    DEFAULT_TIMEZONE,
    LOST_ENTRY_POLICIES,
    MAX_MINUTES,
    NIGHT_MODES,
    ROUNDING_STEPS,
    ROUNDING_ZH,
    ROUNDINGS,
    VEHICLE_CLASSES,
    DayWindow,
    NewEnergy,
    Night,
    Prices,
    Tariff,
    Unit,
    money_text,
)
from yamlcheck.positions import YMap, YNode, YScalar, YSeq, parse_yaml, read_yaml
from yamlcheck.problems import ConfigError, Problem, bi

MAX_MONEY = Decimal(100_000)
_STEP_ZH = ROUNDING_ZH
_MONEY = re.compile(r"\d{1,6}(\.\d{1,2})?")
_WHOLE = re.compile(r"\d{1,6}")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


#: A tariff's problems are the installer files' problems; the name stays for callers.
TariffProblem = Problem


class TariffError(ConfigError, ValueError):
    """Raised with every problem found, so the installer can fix them all in one go."""


# --- a neutral positioned tree, from YAML nodes or from plain data --------------------------


@dataclass(slots=True)
class _V:
    """A value with where it came from. ``kind``: map, seq, str, int, float, bool, null,
    decimal or other; ``text`` is the scalar as written (YAML) or as given (dict)."""

    kind: str
    value: Any  # map: dict[str, _V]; seq: list[_V]; bool: bool; otherwise the text or value
    text: str
    line: int
    col: int
    path: str


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(n: YScalar) -> str:
    """The scalar's YAML type; a quoted scalar is text whatever it looks like."""
    if not n.plain:
        return "str"
    v = n.value
    if isinstance(v, bool):
        return "bool"
    if v is None:
        return "null"
    return {int: "int", float: "float", str: "str"}.get(type(v), "other")


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.key_pos: dict[int, tuple[int, int]] = {}

    def add(self, v: _V | None, what: str, fix: str, path: str | None = None) -> None:
        line, col = (v.line, v.col) if v is not None else (0, 0)
        where = path if path is not None else (v.path if v is not None else "")
        self.problems.append(Problem(self.source, line, col, what, fix, where))

    def from_node(self, n: YNode, path: str) -> _V:
        line, col = n.pos.line, n.pos.col
        if isinstance(n, YMap):
            entries: dict[str, _V] = {}
            for key, (knode, vnode) in n.entries.items():
                value = self.from_node(vnode, _child(path, key))
                entries[key] = value
                self.key_pos[id(value)] = (knode.pos.line, knode.pos.col)  # unknown keys
            return _V("map", entries, "", line, col, path)
        if isinstance(n, YSeq):
            return _V("seq", [self.from_node(item, f"{path}[{i}]")
                              for i, item in enumerate(n.items)], "", line, col, path)
        return _V(_kind(n), n.value if isinstance(n.value, bool) or n.value is None
                  else n.text, n.text, line, col, path)

    def from_data(self, data: object, path: str) -> _V:
        if isinstance(data, Mapping):
            entries: dict[str, _V] = {}
            for key, value in data.items():
                if not isinstance(key, str):
                    self.add(None, bi(f"键 {key!r} 必须是文本", f"key {key!r} must be text"),
                             bi("把它改成一个名称", "replace it with a name"), path)
                    continue
                entries[key] = self.from_data(value, _child(path, key))
            return _V("map", entries, "", 0, 0, path)
        if isinstance(data, list | tuple):
            return _V("seq", [self.from_data(x, f"{path}[{i}]") for i, x in enumerate(data)],
                      "", 0, 0, path)
        if isinstance(data, bool):
            return _V("bool", data, str(data).lower(), 0, 0, path)
        if data is None:
            return _V("null", None, "null", 0, 0, path)
        if isinstance(data, int):
            return _V("int", str(data), str(data), 0, 0, path)
        if isinstance(data, float):
            return _V("float", data, repr(data), 0, 0, path)
        if isinstance(data, Decimal):
            text = money_text(data) if data.is_finite() else str(data)
            return _V("decimal", text, text, 0, 0, path)
        if isinstance(data, str):
            return _V("str", data, data, 0, 0, path)
        return _V("other", data, repr(data), 0, 0, path)


# --- field readers --------------------------------------------------------------------------


def _show(v: _V) -> str:
    shown = {"null": "null", "map": "{…}", "seq": "[…]"}.get(v.kind)
    return shown or (repr(v.text) if v.kind == "str" else v.text)


class _Schema:
    """Reads the tariff fields out of a positioned tree, collecting problems."""

    def __init__(self, reader: _Reader) -> None:
        self.r = reader

    def mapping(self, v: _V, allowed: Mapping[str, bool], what_zh: str,
                what_en: str) -> dict[str, _V] | None:
        """The entries of a mapping; ``allowed`` maps each key to whether it is required."""
        if v.kind != "map":
            self.r.add(v, bi(f"{what_zh}必须是键值对（映射），现在是 {_show(v)}",
                             f"{what_en} must be a mapping of keys, not {_show(v)}"),
                       bi("参照示例文件的缩进写法", "follow the indentation of the example files"))
            return None
        entries = cast(dict[str, _V], v.value)
        for key, child in entries.items():
            if key not in allowed:
                near = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                fix_zh = f"是不是 {near[0]}？" if near else "删除它。"
                fix_en = f"did you mean {near[0]}? " if near else "remove it. "
                line, col = self.r.key_pos.get(id(child), (child.line, child.col))
                self.r.add(_V("str", key, key, line, col, child.path),
                           bi("未知的键", "unknown key"),
                           bi(f"{fix_zh}可用的键：{', '.join(allowed)}",
                              f"{fix_en}Allowed: {', '.join(allowed)}"))
        for key, required in allowed.items():
            if required and key not in entries:
                self.r.add(v, bi(f"缺少 {key}", f"{key} is missing"),
                           bi(f"在这里加上 {key}: …（参照示例文件）",
                              f"add {key}: … here (see the example files)"),
                           path=_child(v.path, key))
        return {k: c for k, c in entries.items() if k in allowed}

    def money(self, v: _V, what: tuple[str, str] = ("金额", "amount")) -> Decimal | None:
        if v.kind == "float" and isinstance(v.value, float):
            self.r.add(v, bi(f"浮点数 {v.text} 不精确，不能表示金额",
                             f"the float {v.text} is not exact and cannot hold money"),
                       bi('用字符串传金额，例如 "5.50"', 'send money as a string, e.g. "5.50"'))
            return None
        text = v.text.strip() if v.kind == "str" else v.text
        if v.kind not in ("str", "int", "float", "decimal") or not _MONEY.fullmatch(text):
            self.r.add(v, bi(f"{what[0]}写法不对：{_show(v)}",
                             f"not a valid {what[1]}: {_show(v)}"),
                       bi("写成以元为单位、最多两位小数的数，例如 5 或 2.50（不带 ¥）",
                          "write yuan with at most 2 decimals, e.g. 5 or 2.50 (no ¥ sign)"))
            return None
        amount = Decimal(text)
        if amount > MAX_MONEY:
            self.r.add(v, bi(f"金额 {text} 太大", f"amount {text} is too large"),
                       bi(f"不能超过 {MAX_MONEY} 元", f"keep it at most {MAX_MONEY} yuan"))
            return None
        return amount

    def percent(self, v: _V) -> Decimal | None:
        amount = self.money(v, ("折扣百分比", "discount percent"))
        if amount is not None and amount > 100:
            self.r.add(v, bi(f"折扣 {v.text}% 超过 100%", f"discount {v.text}% is over 100%"),
                       bi("写 0 到 100 之间的数，例如 20 表示 8 折",
                          "write 0 to 100, e.g. 20 for 20% off"))
            return None
        return amount

    def whole(self, v: _V, lo: int, hi: int) -> int | None:
        if v.kind in ("int", "decimal") and _WHOLE.fullmatch(v.text) \
                and lo <= int(v.text) <= hi:
            return int(v.text)
        self.r.add(v, bi(f"应为 {lo} 到 {hi} 之间的整数分钟数，现在是 {_show(v)}",
                         f"must be whole minutes from {lo} to {hi}, not {_show(v)}"),
                   bi("写一个不带引号的整数，例如 30", "write an unquoted whole number, e.g. 30"))
        return None

    def flag(self, v: _V) -> bool | None:
        if v.kind == "bool":
            return bool(v.value)
        self.r.add(v, bi(f"应为 true 或 false，现在是 {_show(v)}",
                         f"must be true or false, not {_show(v)}"),
                   bi("写 true 或 false（不带引号）", "write true or false (no quotes)"))
        return None

    def choice(self, v: _V, choices: tuple[str, ...]) -> str | None:
        if v.kind == "str" and v.text in choices:
            return v.text
        self.r.add(v, bi(f"无效的取值 {_show(v)}", f"invalid value {_show(v)}"),
                   bi(f"可选：{' | '.join(choices)}", f"use one of: {' | '.join(choices)}"))
        return None

    def text(self, v: _V, pattern: re.Pattern[str] | None = None,
             hint: tuple[str, str] = ("", "")) -> str | None:
        if v.kind in ("str", "int") and (pattern is None or pattern.fullmatch(v.text)):
            return v.text
        self.r.add(v, bi(f"无效的文本 {_show(v)}", f"invalid text {_show(v)}"),
                   bi(hint[0] or "写成一段文字", hint[1] or "write it as text"))
        return None

    def clock(self, v: _V) -> time | None:
        m = _HHMM.fullmatch(v.text) if v.kind in ("str", "int") else None
        if m:
            return time(int(m.group(1)), int(m.group(2)))
        self.r.add(v, bi(f"时间写法不对：{_show(v)}", f"not a time of day: {_show(v)}"),
                   bi('写成 24 小时制 "HH:MM"，例如 "07:00"',
                      'write 24-hour "HH:MM", e.g. "07:00"'))
        return None

    def timezone(self, v: _V) -> str | None:
        if v.kind == "str":
            try:
                ZoneInfo(v.text)
            except (ZoneInfoNotFoundError, ValueError):
                pass
            else:
                return v.text
        self.r.add(v, bi(f"未知的时区 {_show(v)}", f"unknown timezone {_show(v)}"),
                   bi("写 IANA 时区名，例如 Asia/Shanghai",
                      "write an IANA zone name, e.g. Asia/Shanghai"))
        return None

    # --- composite blocks ---

    def unit(self, v: _V) -> Unit | None:
        f = self.mapping(v, {"minutes": True, "price": True}, "计价单位", "a price block")
        if f is None or "minutes" not in f or "price" not in f:
            return None
        minutes = self.whole(f["minutes"], 1, MAX_MINUTES)
        price = self.money(f["price"])
        return None if minutes is None or price is None else Unit(minutes, price)

    def night(self, v: _V) -> Night | None:
        f = self.mapping(v, {"mode": True, "minutes": False, "price": True}, "夜间价格",
                         "night prices")
        if f is None or "mode" not in f or "price" not in f:
            return None
        mode = self.choice(f["mode"], NIGHT_MODES)
        price = self.money(f["price"])
        minutes: int | None = None
        if "minutes" in f:
            minutes = self.whole(f["minutes"], 1, MAX_MINUTES)
            if mode == "flat":
                self.r.add(f["minutes"], bi("按夜收费（flat）不用 minutes",
                                            "minutes is not used with mode: flat"),
                           bi("删除 minutes，或改成 mode: per_unit",
                              "remove minutes, or use mode: per_unit"))
                return None
        elif mode == "per_unit":
            self.r.add(v, bi("按单位收费（per_unit）需要 minutes", "mode: per_unit needs minutes"),
                       bi("加上 minutes: 60 之类的计费单位", "add the unit, e.g. minutes: 60"),
                       path=_child(v.path, "minutes"))
            return None
        if mode is None or price is None or (mode == "per_unit" and minutes is None):
            return None
        return Night(cast(Any, mode), price, minutes)

    def prices(self, v: _V, required_unit: bool) -> Prices | None:
        keys = {"first_period": False, "unit": required_unit, "night": False,
                "daily_cap": False, "lost_entry_fee": False}
        f = self.mapping(v, keys, "车型价格", "vehicle prices")
        if f is None:
            return None
        # Fields that failed stay None; cross-checks look at which keys were given instead.
        unit = self.unit(f["unit"]) if "unit" in f else None
        first = self.unit(f["first_period"]) if "first_period" in f else None
        night = self.night(f["night"]) if "night" in f else None
        cap = self.money(f["daily_cap"]) if "daily_cap" in f else None
        lost = self.money(f["lost_entry_fee"]) if "lost_entry_fee" in f else None
        return Prices(unit=unit, first_period=first, night=night, daily_cap=cap,
                      lost_entry_fee=lost)


_TOP: dict[str, bool] = {
    "id": True, "name": False, "timezone": False, "rounding": False, "free_minutes": False,
    "deduct_free_minutes": False, "grace_minutes": False, "daily_cap_window": False,
    "day": False, "lost_entry": True, "new_energy": False, "prices": True,
}


def _tariff(reader: _Reader, root: _V) -> Tariff:
    s = _Schema(reader)
    top = s.mapping(root, _TOP, "收费标准文件", "a tariff file")
    if top is None:
        raise TariffError(reader.problems)
    got: dict[str, Any] = {}

    def read(key: str, fn: Callable[[_V], Any]) -> None:
        if key in top:
            value = fn(top[key])
            if value is not None:
                got[key] = value

    read("id", lambda v: s.text(v, _ID, ('只用字母、数字、-、_、.，例如 residential-std',
                                         "letters, digits, -, _ and . only, "
                                         "e.g. residential-std")))
    read("name", s.text)
    read("timezone", s.timezone)
    read("rounding", lambda v: s.choice(v, ROUNDINGS))
    read("free_minutes", lambda v: s.whole(v, 0, MAX_MINUTES))
    read("deduct_free_minutes", s.flag)
    read("grace_minutes", lambda v: s.whole(v, 0, MAX_MINUTES))
    read("daily_cap_window", lambda v: s.choice(v, CAP_WINDOWS))
    read("lost_entry", lambda v: s.choice(v, LOST_ENTRY_POLICIES))

    if "day" in top:
        f = s.mapping(top["day"], {"start": True, "end": True}, "白天时段", "the day window")
        if f and "start" in f and "end" in f:
            start, end = s.clock(f["start"]), s.clock(f["end"])
            if start is not None and end is not None:
                if start < end:
                    got["day"] = DayWindow(start, end)
                else:
                    reader.add(f["end"], bi("白天结束时间必须晚于开始时间",
                                            "the day must end after it starts"),
                               bi('白天不能跨午夜；例如 start: "07:00", end: "19:00"，'
                                  "其余时间为夜间",
                                  'the day cannot cross midnight: e.g. start "07:00", '
                                  'end "19:00"; the rest is night'))

    if "new_energy" in top:
        f = s.mapping(top["new_energy"], {"discount_percent": False, "extra_free_minutes": False},
                      "新能源车优惠", "new_energy")
        if f is not None:
            pct = s.percent(f["discount_percent"]) if "discount_percent" in f else Decimal(0)
            extra = (s.whole(f["extra_free_minutes"], 0, MAX_MINUTES)
                     if "extra_free_minutes" in f else 0)
            if pct is not None and extra is not None:
                got["new_energy"] = NewEnergy(pct, extra)

    classes: dict[str, Prices] = {}
    class_nodes: dict[str, dict[str, _V]] = {}
    if "prices" in top:
        f = s.mapping(top["prices"], dict.fromkeys(VEHICLE_CLASSES, False) | {"small": True},
                      "价格", "prices")
        for cls in VEHICLE_CLASSES:
            if f is not None and cls in f:
                node = f[cls]
                p = s.prices(node, required_unit=cls == "small")
                if p is not None:
                    classes[cls] = p
                    class_nodes[cls] = node.value
    _cross_check(reader, top, got, classes, class_nodes)
    if reader.problems:
        raise TariffError(sorted(reader.problems, key=lambda p: (p.line, p.col)))
    try:
        return Tariff(small=classes["small"], large=classes.get("large", Prices()), **got)
    except (ValueError, KeyError, TypeError) as exc:  # a rule missed above: still say where
        raise TariffError([Problem(reader.source, 0, 0, bi("收费标准无效", "invalid tariff"),
                                   str(exc))]) from None


def _cross_check(reader: _Reader, top: dict[str, _V], got: dict[str, Any],
                 classes: dict[str, Prices], class_nodes: dict[str, dict[str, _V]]) -> None:
    """Rules between fields; skipped for parts already refused."""
    if "small" not in class_nodes:
        return
    nights = [cls for cls in class_nodes if "night" in class_nodes[cls]]
    if nights and "day" not in top:
        for cls in nights:
            reader.add(class_nodes[cls]["night"], bi("有夜间价格但没有设置白天时段",
                                                     "night prices need a day window"),
                       bi('在文件顶层加上 day: {start: "07:00", end: "19:00"}',
                          'add day: {start: "07:00", end: "19:00"} at the top level'))
    if "day" in top and not nights:
        reader.add(top["day"], bi("设置了白天时段但没有夜间价格", "a day window without night "
                                  "prices has no effect"),
                   bi("删除 day，或在 prices 下加上 night", "remove day, or add night prices"))
    policy = got.get("lost_entry")
    step_name = got.get("rounding", "fen")
    step = ROUNDING_STEPS[step_name]
    # large inherits small's keys, so only small can lack what the policy needs.
    small_keys = set(class_nodes["small"])
    if policy == "flat" and "lost_entry_fee" not in small_keys:
        reader.add(top["lost_entry"], bi("lost_entry: flat 需要 prices.small.lost_entry_fee",
                                         "lost_entry: flat needs prices.small.lost_entry_fee"),
                   bi("在 prices.small 下加上 lost_entry_fee: 50 之类的金额",
                      "add e.g. lost_entry_fee: 50 under prices.small"))
    if policy == "daily_cap" and "daily_cap" not in small_keys:
        reader.add(top["lost_entry"], bi("lost_entry: daily_cap 需要 prices.small.daily_cap",
                                         "lost_entry: daily_cap needs prices.small.daily_cap"),
                   bi("加上 daily_cap，或改成 lost_entry: flat 并设置 lost_entry_fee",
                      "add daily_cap, or use lost_entry: flat with a lost_entry_fee"))
    for cls, nodes in class_nodes.items():
        p = classes[cls]
        if policy == "daily_cap" and "lost_entry_fee" in nodes:
            reader.add(nodes["lost_entry_fee"], bi("lost_entry_fee 只在 lost_entry: flat 时使用",
                                                   "lost_entry_fee is only used with "
                                                   "lost_entry: flat"),
                       bi("删除它，或改成 lost_entry: flat",
                          "remove it, or set lost_entry: flat"))
        for key in ("daily_cap", "lost_entry_fee"):
            amount = getattr(p, key)
            if amount is not None and amount % step != 0:
                shown, unit = money_text(amount), money_text(step)
                reader.add(nodes[key], bi(f"金额 {shown} 不是 {unit} 元的整数倍，而收费按"
                                          f"{_STEP_ZH[step_name]}取整",
                                          f"{shown} is not a multiple of {unit} yuan, but fees "
                                          f"are rounded to {step_name}"),
                           bi(f"改成 {unit} 元的整数倍，或修改 rounding",
                              f"make it a multiple of {unit}, or change rounding"))


# --- entry points ---------------------------------------------------------------------------


_EMPTY_FIX = bi("复制 configs/tariffs/ 下的示例文件再修改",
                "start from an example in configs/tariffs/")


def _from_tree(source: str, read: Callable[[], YNode]) -> Tariff:
    try:
        tree = read()
    except ConfigError as exc:
        raise TariffError(exc.problems) from None
    reader = _Reader(source)
    return _tariff(reader, reader.from_node(tree, ""))


def parse_tariff(text: str, source: str = "<text>") -> Tariff:
    """A tariff from YAML text; raise TariffError listing every problem with its position."""
    return _from_tree(source, lambda: parse_yaml(text, source, empty_fix=_EMPTY_FIX))


def load_tariff(path: str | Path) -> Tariff:
    """Read a tariff YAML file; a missing or unreadable file is one clear problem."""
    return _from_tree(str(path), lambda: read_yaml(Path(path), empty_fix=_EMPTY_FIX))


def tariff_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Tariff:
    """A tariff from plain data (e.g. a JSON dataset pushed by the cloud); same rules as YAML.

    Money may be a string, an int or a Decimal; float is refused because it is not exact.
    """
    reader = _Reader(source)
    return _tariff(reader, reader.from_data(data, ""))


__all__ = [
    "DEFAULT_TIMEZONE",
    "TariffError",
    "TariffProblem",
    "load_tariff",
    "parse_tariff",
    "tariff_from_dict",
]
