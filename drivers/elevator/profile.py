"""Elevator box profiles (``configs/elevators/<id>.yaml``) → ``ElevatorProfile``.

A wrong address or fault code means a trapped passenger the guards never hear of, so a profile
is checked in full before use and every problem is reported at once, as
``FILE:LINE:COL: 问题 / problem — 改法 / fix``, read by the positioned YAML reader every
installer file goes through (``yamlcheck``; the driver layer may use it, not edge/).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, cast

from drivers.elevator.model import (
    FAULT_KEYS,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    SEVERITIES,
    ControlSpec,
    Direction,
    Door,
    ElevatorProfile,
    FaultSpec,
    FieldSpec,
    Severity,
)
from yamlcheck.positions import PMap, PSeq, plain, read_yaml
from yamlcheck.problems import ConfigError, Pos, Problem, bi

PROFILE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TOP_KEYS = ("id", "name", "function_code", "max_gap", "registers", "control", "faults")
FIELD_KEYS = ("address", "bit", "width", "signed", "values")
CONTROL_KEYS = ("address", "function_code", "recall")
FAULT_ENTRY_KEYS = ("code", "key", "zh", "en", "severity", "trapped", "bit")
#: GB/T 24476 numbering, used when a profile does not give its own ``values``.
DEFAULT_VALUES: dict[str, dict[int, str]] = {
    "direction": {0: "stopped", 1: "up", 2: "down"},
    "door": {0: "closed", 1: "open", 2: "closing", 3: "opening"},
}
_NAMES: dict[str, tuple[str, ...]] = {"direction": tuple(d.value for d in Direction),
                                      "door": tuple(d.value for d in Door)}
_MUST_NAME: dict[str, tuple[str, ...]] = {"direction": ("stopped", "up", "down"),
                                          "door": ("closed", "open")}
_TRAPPED_KEYS = ("trapped_between_floors", "trapped_at_landing")


class ProfileError(ConfigError, ValueError):
    """Every problem found in one or more profile files (``problems``)."""


def _read(path: Path, problems: list[Problem]) -> Any:
    try:
        return plain(read_yaml(path))
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


# -- checks --------------------------------------------------------------------------------

class _Check:
    """Collects problems of one file, each at its position."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.file = str(path)
        self.problems = problems

    def add(self, pos: Pos, what: tuple[str, str], fix: tuple[str, str]) -> None:
        self.problems.append(Problem.at(pos, bi(*what), bi(*fix)))

    def pos_of(self, m: PMap, key: Any) -> Pos:
        return m.pos_of(key)

    def keys(self, m: PMap, allowed: tuple[str, ...], where: str) -> None:
        for key in m:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = (f'是否应为 "{close[0]}"?', f'did you mean "{close[0]}"?') if close \
                    else (f"可用：{', '.join(allowed)}", f"allowed: {', '.join(allowed)}")
                self.add(self.pos_of(m, key), (f'{where}：未知的键 "{key}"',
                                                f'{where}: unknown key "{key}"'), hint)

    def mapping(self, value: Any, at: Pos, where: str) -> PMap | None:
        if isinstance(value, PMap):
            return value
        self.add(at, (f"{where} 应为映射（key: value）", f"{where} must be a mapping"),
                 (f"写成 {where}: {{...}}", f"write {where}: {{...}}"))
        return None

    def integer(self, m: PMap, key: str, lo: int, hi: int, where: str,
                default: int | None = None) -> int | None:
        if key not in m:
            if default is None:
                self.add(m.pos, (f"{where} 缺少 {key}", f"{where} has no {key}"),
                         (f"加上 {key}: …", f"add {key}: …"))
            return default
        value = m[key]
        if type(value) is not int or not lo <= value <= hi:
            self.add(self.pos_of(m, key),
                     (f"{where}.{key} 应为 {lo}..{hi} 的整数，而不是 {value!r}",
                      f"{where}.{key} must be an integer within {lo}..{hi}, not {value!r}"),
                     ("改为范围内的整数（可写 0x 十六进制）",
                      "write an integer in range (0x… hex is fine)"))
            return None
        return value

    def text(self, m: PMap, key: str, where: str) -> str | None:
        value = m.get(key)
        if not isinstance(value, str) or not value.strip():
            self.add(self.pos_of(m, key), (f"{where} 缺少 {key}（文字）",
                                            f"{where} needs a non-empty {key}"),
                     (f"加上 {key}: …", f"add {key}: …"))
            return None
        return value.strip()

    def flag(self, m: PMap, key: str, where: str) -> bool | None:
        value = m.get(key, False)
        if not isinstance(value, bool):
            self.add(self.pos_of(m, key), (f"{where}.{key} 应为 true 或 false",
                                            f"{where}.{key} must be true or false"),
                     (f"写 {key}: true 或删除此项", f"write {key}: true, or remove it"))
            return None
        return value


def _values(c: _Check, name: str, m: PMap, spec_width: int | None) -> dict[int, str] | None:
    raw = m.get("values")
    if raw is None:
        return DEFAULT_VALUES.get(name)
    where = f"registers.{name}.values"
    if name not in _NAMES:
        c.add(c.pos_of(m, "values"), (f"{name} 不需要 values", f"{name} takes no values"),
              ("删除 values（非零即为真）", "remove values (non-zero reads as true)"))
        return None
    vm = c.mapping(raw, c.pos_of(m, "values"), where)
    if vm is None:
        return None
    out: dict[int, str] = {}
    limit = (1 << spec_width) - 1 if spec_width is not None else 0xFFFF
    allowed = _NAMES[name]
    for key, label in vm.items():
        at = c.pos_of(vm, key)
        if type(key) is not int or not 0 <= key <= limit:
            c.add(at, (f"{where}：{key!r} 不是 0..{limit} 的整数",
                         f"{where}: {key!r} is not an integer within 0..{limit}"),
                  ("写成 数值: 名称，如 1: up", "write number: name, e.g. 1: up"))
            continue
        if label not in allowed:
            c.add(at, (f"{where}：未知的名称 {label!r}", f"{where}: unknown name {label!r}"),
                  (f"可用：{', '.join(allowed)}", f"use one of {', '.join(allowed)}"))
            continue
        out[key] = label
    missing = [n for n in _MUST_NAME[name] if n not in out.values()]
    if missing and len(out) == len(vm):
        c.add(c.pos_of(m, "values"), (f"{where} 缺少 {', '.join(missing)}",
                        f"{where} does not name {', '.join(missing)}"),
              ("为每个状态写出对应的数值", "give the number the box uses for each"))
        return None
    return out if len(out) == len(vm) else None


def _field(c: _Check, name: str, raw: Any, at: Pos) -> FieldSpec | None:
    where = f"registers.{name}"
    m = c.mapping(raw, at, where)
    if m is None:
        return None
    c.keys(m, FIELD_KEYS, where)
    address = c.integer(m, "address", 0, 0xFFFF, where)
    bit = c.integer(m, "bit", 0, 15, where) if "bit" in m else None
    width = c.integer(m, "width", 1, 16, where, default=1)
    signed = c.flag(m, "signed", where)
    ok = address is not None and width is not None and signed is not None
    if "width" in m and "bit" not in m:
        c.add(c.pos_of(m, "width"), (f"{where}：width 只用于按位字段",
                                      f"{where}: width only applies with bit"),
              ("加上 bit: 起始位，或删除 width", "add bit: <first bit>, or remove width"))
        ok = False
    if bit is not None and width is not None and bit + width > 16:
        c.add(c.pos_of(m, "width"), (f"{where}：第 {bit} 位起 {width} 位超出 16 位寄存器",
                                       f"{where}: {width} bits from bit {bit} run past bit 15"),
              ("检查 bit 与 width", "check bit and width"))
        ok = False
    if signed and (name != "floor" or bit is not None):
        c.add(c.pos_of(m, "signed"), (f"{where}：只有整寄存器的 floor 可为有符号",
                                       f"{where}: only a whole-register floor can be signed"),
              ("删除 signed", "remove signed"))
        ok = False
    if name in ("fault_code", "fault_code_2", "fault_bits", "floor") and bit is not None:
        c.add(c.pos_of(m, "bit"), (f"{where} 须占用整个寄存器",
                                    f"{where} must take a whole register"),
              ("删除 bit / width", "remove bit / width"))
        ok = False
    values = _values(c, name, m, width if bit is not None else None)
    if name in _NAMES and values is None:
        ok = False
    if not ok or address is None or width is None:
        return None
    return FieldSpec(name=name, address=address, bit=bit, width=width if bit is not None else 1,
                     signed=bool(signed), values=tuple(sorted((values or {}).items())))


def _fields(c: _Check, top: PMap) -> list[FieldSpec] | None:
    regs = c.mapping(top.get("registers"), c.pos_of(top, "registers"), "registers")
    if regs is None:
        return None
    known = REQUIRED_FIELDS + OPTIONAL_FIELDS
    c.keys(regs, known, "registers")
    for name in REQUIRED_FIELDS:
        if name not in regs:
            c.add(c.pos_of(top, "registers"),
                  (f"registers 缺少 {name}", f"registers has no {name}"),
                  (f"加上 {name}: {{address: …}}", f"add {name}: {{address: …}}"))
    specs = [_field(c, name, regs[name], c.pos_of(regs, name)) for name in known if name in regs]
    good = [s for s in specs if s is not None]
    # Two items may share a register only as disjoint bit ranges.
    for i, a in enumerate(good):
        for b in good[:i]:
            if a.address != b.address:
                continue
            if a.bit is None or b.bit is None or (a.bit < b.bit + b.width
                                                  and b.bit < a.bit + a.width):
                c.add(c.pos_of(regs, a.name),
                      (f"{a.name} 与 {b.name}（第 {c.pos_of(regs, b.name).line} 行）占用同一"
                       f"寄存器 {a.address:#06x} 的相同位",
                       f"{a.name} overlaps {b.name} (line {c.pos_of(regs, b.name).line}) in "
                       f"register {a.address:#06x}"),
                      ("检查地址；同一寄存器中的项须用不相交的 bit",
                       "check the address; items sharing a register need disjoint bits"))
    return good if len(good) == len(specs) else None


def _control(c: _Check, top: PMap) -> ControlSpec | None:
    m = c.mapping(top["control"], c.pos_of(top, "control"), "control")
    if m is None:
        return None
    c.keys(m, CONTROL_KEYS, "control")
    address = c.integer(m, "address", 0, 0xFFFF, "control")
    recall = c.integer(m, "recall", 0, 0xFFFF, "control")
    fc = m.get("function_code", 6)
    if fc not in (6, 16) or type(fc) is not int:
        c.add(c.pos_of(m, "function_code"),
              (f"control.function_code 应为 6 或 16，而不是 {fc!r}",
               f"control.function_code must be 6 or 16, not {fc!r}"),
              ("写单个寄存器用 6，多个寄存器用 16", "6 writes one register, 16 several"))
        return None
    if address is None or recall is None:
        return None
    return ControlSpec(address=address, recall_value=recall, function_code=6 if fc == 6 else 16)


def _faults(c: _Check, top: PMap, has_bits: bool) -> list[FaultSpec] | None:
    at = c.pos_of(top, "faults")
    entries = top.get("faults")
    if not isinstance(entries, PSeq) or not entries:
        c.add(at, ("faults 应为非空列表", "faults must be a non-empty list"),
              ("列出故障码表：- {code: 1, key: …, zh: …, en: …, severity: …}",
               "list the fault table: - {code: 1, key: …, zh: …, en: …, severity: …}"))
        return None
    out: list[FaultSpec] = []
    codes: dict[object, int] = {}
    keys: dict[object, int] = {}
    bits: dict[object, int] = {}
    bad = False
    for i, raw in enumerate(entries):
        where = f"faults[{i + 1}]"
        m = c.mapping(raw, entries.item_pos[i], where)
        if m is None:
            bad = True
            continue
        c.keys(m, FAULT_ENTRY_KEYS, where)
        n_before = len(c.problems)
        code = c.integer(m, "code", 1, 0xFFFF, where)
        zh, en = c.text(m, "zh", where), c.text(m, "en", where)
        key = m.get("key")
        if key not in FAULT_KEYS:
            close = difflib.get_close_matches(str(key), list(FAULT_KEYS), n=1)
            c.add(c.pos_of(m, "key"), (f"{where}.key {key!r} 不是已知的故障类别",
                                        f"{where}.key {key!r} is not a known fault kind"),
                  (f'是否应为 "{close[0]}"?', f'did you mean "{close[0]}"?') if close else
                  ("厂商特有的故障写 key: other", "use key: other for a vendor's own code"))
        severity = m.get("severity")
        if severity not in SEVERITIES:
            c.add(c.pos_of(m, "severity"),
                  (f"{where}.severity 应为 {'/'.join(SEVERITIES)}",
                   f"{where}.severity must be one of {', '.join(SEVERITIES)}"),
                  ("困人、冲顶、蹲底等写 critical", "critical for trapped, overrun and the like"))
        trapped = c.flag(m, "trapped", where)
        if key in _TRAPPED_KEYS and trapped is False:
            c.add(c.pos_of(m, "key"), (f"{where} 是困人故障，但未标记 trapped",
                                        f"{where} is a trapped-passenger code without trapped"),
                  ("加上 trapped: true", "add trapped: true"))
        bit = c.integer(m, "bit", 0, 15, where) if "bit" in m else None
        if bit is not None and not has_bits:
            c.add(c.pos_of(m, "bit"), (f"{where}.bit 需要 registers.fault_bits",
                                        f"{where}.bit needs registers.fault_bits"),
                  ("在 registers 中加上 fault_bits，或删除 bit",
                   "add fault_bits under registers, or remove bit"))
        for value, seen, label in ((code, codes, "code"), (bit, bits, "bit"),
                                   (key if key != "other" else None, keys, "key")):
            if value is not None and value in seen:
                c.add(c.pos_of(m, label),
                      (f"{where}.{label} {value!r} 与第 {seen[value]} 行重复",
                       f"{where}.{label} {value!r} repeats line {seen[value]}"),
                      ("每个故障只列一次", "list each fault once"))
            elif value is not None:
                seen[value] = c.pos_of(m, label).line
        if len(c.problems) > n_before or code is None or zh is None or en is None \
                or trapped is None:
            bad = True
            continue
        out.append(FaultSpec(code=code, key=str(key), zh=zh, en=en,
                             severity=cast(Severity, severity),
                             trapped=trapped, bit=bit))
    return None if bad else out


def check_profile(path: Path, problems: list[Problem]) -> ElevatorProfile | None:
    """Check one profile file, adding to ``problems``; the profile only if it had none."""
    path = Path(path)
    before = len(problems)
    tree = _read(path, problems)
    if tree is None:
        return None
    c = _Check(path, problems)
    top = c.mapping(tree, Pos(str(path), 1, 1), "profile")
    if top is None:
        return None
    c.keys(top, TOP_KEYS, "profile")
    pid = top.get("id")
    if not isinstance(pid, str) or not PROFILE_ID.match(pid):
        c.add(c.pos_of(top, "id"), (f"id {pid!r} 无效", f"invalid id {pid!r}"),
              (f"写 id: {path.stem}（小写字母、数字、_ -）",
               f"write id: {path.stem} (a-z, 0-9, _ -)"))
    elif pid != path.stem:
        c.add(c.pos_of(top, "id"), (f'id "{pid}" 与文件名 {path.name} 不一致',
                                     f'id "{pid}" differs from the file name {path.name}'),
              (f"改为 id: {path.stem}，或重命名文件", f"write id: {path.stem}, or rename the file"))
    name = c.text(top, "name", "profile")
    fc = top.get("function_code", 3)
    if fc not in (3, 4) or type(fc) is not int:
        c.add(c.pos_of(top, "function_code"),
              (f"function_code 应为 3 或 4，而不是 {fc!r}",
               f"function_code must be 3 or 4, not {fc!r}"),
              ("保持寄存器用 3，输入寄存器用 4", "3 for holding registers, 4 for input registers"))
    max_gap = c.integer(top, "max_gap", 0, 100, "profile", default=10)
    fields = _fields(c, top) if "registers" in top else None
    if "registers" not in top:
        c.add(top.pos, ("缺少 registers", "no registers"),
              ("列出各数据项的寄存器地址", "map each data item to its register"))
    control = _control(c, top) if "control" in top else None
    has_bits = "fault_bits" in (top.get("registers") or {})
    faults = _faults(c, top, has_bits)
    if len(problems) > before or fields is None or faults is None or name is None \
            or max_gap is None:
        problems[before:] = sorted(problems[before:], key=lambda p: (p.line, p.col))
        return None
    return ElevatorProfile(id=str(pid), name=name, function_code=3 if fc == 3 else 4,
                           fields=tuple(fields), faults=tuple(faults), control=control,
                           max_gap=max_gap)


def load_profile(path: Path) -> ElevatorProfile:
    """Load and check one profile file; raise ProfileError listing every problem."""
    problems: list[Problem] = []
    profile = check_profile(Path(path), problems)
    if profile is None:
        raise ProfileError(problems)
    return profile


def load_profiles(directory: Path) -> dict[str, ElevatorProfile]:
    """Every ``*.yaml`` in ``directory`` by id; ProfileError with all problems of all files."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ProfileError([Problem(
            str(directory), 0, 0, bi("电梯型号目录不存在", "elevator profiles directory not found"),
            bi("检查路径（默认 configs/elevators）",
               "check the path (default configs/elevators)"))])
    problems: list[Problem] = []
    out: dict[str, ElevatorProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = check_profile(path, problems)
        if profile is not None:
            out[profile.id] = profile
    if problems:
        raise ProfileError(problems)
    return out
