"""A small declarative schema for installer YAML: types, ranges, enums, unknown keys.

Written here rather than pulled in as a dependency because what matters is the message:
every check reports at the node's position, in Chinese then English, with a fix, and keeps
going so one run lists every mistake. Checks return the plain value, or INVALID.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yamlcheck.positions import YMap, YNode, YScalar, YSeq
from yamlcheck.problems import Pos, Problem, bi

INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()
Extra = Callable[[Any], tuple[str, str, str, str] | None]  # value -> (what zh, en, fix zh, en)


class Ctx:
    """Collects problems; a check never raises, so all mistakes surface together."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, pos: Pos, what: str, fix: str) -> None:
        self.problems.append(Problem.at(pos, what, fix))


class RecordValue(dict[str, Any]):
    """A checked mapping that remembers its node, so cross-checks can point at a value."""

    def __init__(self, node: YMap) -> None:
        super().__init__()
        self.node = node

    def pos(self, key: str) -> Pos:
        entry = self.node.entries.get(key)
        return entry[1].pos if entry else self.node.pos


def suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _got(node: YNode) -> tuple[str, str]:
    if isinstance(node, YMap):
        return "映射", "a mapping"
    if isinstance(node, YSeq):
        return "列表", "a list"
    if node.value is None:
        return "空值", "nothing"
    return f'"{node.text}"', f'"{node.text}"'


@dataclass
class Spec:
    zh: str = "值"
    en: str = "a value"
    extra: Extra | None = None

    def check(self, node: YNode, ctx: Ctx, label: str) -> Any:
        value = self.convert(node, ctx, label)
        if value is not INVALID and self.extra is not None:
            bad = self.extra(value)
            if bad:
                ctx.add(node.pos, bi(f'"{label}" {bad[0]}', f'"{label}" {bad[1]}'),
                        bi(bad[2], bad[3]))
                return INVALID
        return value

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        raise NotImplementedError

    def wrong(self, node: YNode, ctx: Ctx, label: str, zh_fix: str = "", en_fix: str = "") -> Any:
        gz, ge = _got(node)
        ctx.add(node.pos, bi(f'"{label}" 应为{self.zh}，实为 {gz}',
                             f'"{label}" should be {self.en}, got {ge}'),
                bi(zh_fix or f"改为{self.zh}", en_fix or f"write {self.en}"))
        return INVALID


@dataclass
class Str(Spec):
    zh: str = "文本"
    en: str = "text"
    pattern: str | None = None
    empty_ok: bool = False

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        # Plain numbers/booleans keep their written text: `unit: 0101` stays "0101".
        if not isinstance(node, YScalar) or node.value is None or isinstance(node.value, list):
            return self.wrong(node, ctx, label)
        text = node.value if isinstance(node.value, str) else node.text
        bad_pattern = self.pattern is not None and not re.fullmatch(self.pattern, text)
        if (not text and not self.empty_ok) or bad_pattern:
            return self.wrong(node, ctx, label)
        return text


def _number(node: YNode) -> Any:
    if not isinstance(node, YScalar) or isinstance(node.value, bool):
        return INVALID
    return node.value if isinstance(node.value, int | float) else INVALID


@dataclass
class Int(Spec):
    lo: int | None = None
    hi: int | None = None

    def __post_init__(self) -> None:
        rng = f" {self.lo}–{self.hi}" if self.lo is not None and self.hi is not None else (
            f" ≥ {self.lo}" if self.lo is not None else "")
        self.zh, self.en = f"整数{rng}", f"a whole number{rng}"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        value = _number(node)
        if not isinstance(value, int):
            return self.wrong(node, ctx, label, "写不带引号的整数，如 10 或 0x000A",
                              "write a whole number without quotes, e.g. 10 or 0x000A")
        assert isinstance(node, YScalar)
        if re.fullmatch(r"[-+]?0[0-9_]+", node.text):  # YAML 1.1 reads 010 as octal 8
            ctx.add(node.pos, bi(f'"{label}" 的值 {node.text} 会被 YAML 当作八进制（={value}）',
                                 f'"{label}" {node.text} is octal to YAML (= {value})'),
                    bi("去掉前导 0，或写成十六进制 0x…",
                       "drop the leading zeros, or write hex 0x…"))
            return INVALID
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            ctx.add(node.pos, bi(f'"{label}" 超出范围：{value}',
                                 f'"{label}" out of range: {value}'),
                    bi(f"应为{self.zh}", f"must be {self.en}"))
            return INVALID
        return value


@dataclass
class Float(Spec):
    gt: float | None = None
    ge: float | None = None

    def __post_init__(self) -> None:
        rng = (f" > {self.gt:g}" if self.gt is not None
               else f" ≥ {self.ge:g}" if self.ge is not None else "")
        self.zh, self.en = f"数字{rng}", f"a number{rng}"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        value = _number(node)
        if value is INVALID:
            return self.wrong(node, ctx, label, "写不带引号的数字，如 1.5",
                              "write a number without quotes, e.g. 1.5")
        too_low = (self.gt is not None and not value > self.gt) or (
            self.ge is not None and not value >= self.ge)
        if too_low:
            ctx.add(node.pos, bi(f'"{label}" 超出范围：{value}',
                                 f'"{label}" out of range: {value}'),
                    bi(f"应为{self.zh}", f"must be {self.en}"))
            return INVALID
        return float(value)


@dataclass
class Bool(Spec):
    zh: str = " true 或 false"
    en: str = "true or false"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        return self.wrong(node, ctx, label)


@dataclass
class OneOf(Spec):
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        listed = " | ".join(str(c) for c in self.choices)
        self.zh, self.en = f"以下之一：{listed}", f"one of: {listed}"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if isinstance(node, YScalar) and not isinstance(node.value, bool):
            for choice in self.choices:
                if (isinstance(choice, str) and node.text == choice) or (
                        not isinstance(choice, str) and node.value == choice):
                    return choice
            if isinstance(node.value, str):
                close = suggest(node.text, [str(c) for c in self.choices])
                if close:
                    return self.wrong(node, ctx, label, f'是否应为 "{close}"?',
                                      f'did you mean "{close}"?')
        return self.wrong(node, ctx, label)


@dataclass
class Field:
    spec: Spec
    required: bool = True
    example: str = ""  # shown when the key is missing: `address: 1`


@dataclass
class Record(Spec):
    fields: dict[str, Field] = field(default_factory=dict)
    zh: str = "映射（键: 值）"
    en: str = "a mapping (key: value)"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if not isinstance(node, YMap):
            return self.wrong(node, ctx, label)
        out = RecordValue(node)
        suggested: set[str] = set()  # a misspelt key is one mistake, not also a missing key
        for key, (knode, vnode) in node.entries.items():
            f = self.fields.get(key)
            if f is None:
                close = suggest(key, list(self.fields))
                suggested.add(close or "")
                fix = (bi(f'是否应为 "{close}"?', f'did you mean "{close}"?') if close else
                       bi(f"可用的键：{', '.join(self.fields)}",
                          f"known keys: {', '.join(self.fields)}"))
                ctx.add(knode.pos, bi(f'未知键 "{key}"', f'unknown key "{key}"'), fix)
            elif isinstance(vnode, YScalar) and vnode.value is None and not f.required:
                continue  # `unit:` left empty means "use the default"
            else:
                value = f.spec.check(vnode, ctx, key)
                if value is not INVALID:
                    out[key] = value
        for key, f in self.fields.items():
            if f.required and key not in node.entries and key not in suggested:
                example = f.example or f"{key}: …"
                ctx.add(node.pos, bi(f'缺少必需的键 "{key}"', f'missing required key "{key}"'),
                        bi(f"添加 {example}", f"add {example}"))
        return out


@dataclass
class ListOf(Spec):
    item: Spec = field(default_factory=Spec)
    zh: str = "列表（每项以 - 开头）"
    en: str = "a list (items start with -)"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if not isinstance(node, YSeq):
            return self.wrong(node, ctx, label)
        return [self.item.check(item, ctx, f"{label}[{i + 1}]")
                for i, item in enumerate(node.items)]


@dataclass
class MapOf(Spec):
    """Free keys (e.g. register names under `deadband`), one spec for every value."""

    value: Spec = field(default_factory=Spec)
    zh: str = "映射（键: 值）"
    en: str = "a mapping (key: value)"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if not isinstance(node, YMap):
            return self.wrong(node, ctx, label)
        out = RecordValue(node)
        for key, (_k, vnode) in node.entries.items():
            value = self.value.check(vnode, ctx, f"{label}.{key}")
            if value is not INVALID:
                out[key] = value
        return out


@dataclass
class Tagged(Spec):
    """A mapping whose `tag` key picks the record that checks the rest (bus `type`)."""

    tag: str = "type"
    variants: dict[str, Record] = field(default_factory=dict)
    zh: str = "映射（键: 值）"
    en: str = "a mapping (key: value)"

    def convert(self, node: YNode, ctx: Ctx, label: str) -> Any:
        if not isinstance(node, YMap):
            return self.wrong(node, ctx, label)
        entry = node.entries.get(self.tag)
        names = tuple(self.variants)
        if entry is None:
            ctx.add(node.pos, bi(f'缺少必需的键 "{self.tag}"',
                                 f'missing required key "{self.tag}"'),
                    bi(f"添加 {self.tag}: {names[0]}（可选 {' | '.join(names)}）",
                       f"add {self.tag}: {names[0]} (one of {' | '.join(names)})"))
        else:
            kind = OneOf(choices=names).check(entry[1], ctx, self.tag)
            if kind is not INVALID:
                return self.variants[kind].check(node, ctx, label)
        out = RecordValue(node)  # keep the id so later checks don't cascade
        ident = node.entries.get("id")
        if ident and isinstance(ident[1], YScalar) and isinstance(ident[1].value, str):
            out["id"] = ident[1].value
        return out
