"""Read rule files and refuse the whole set on any error, listing every error with its position.

A rule file is edited by people on site; a wrong priority or a misspelt key that silently
turned a trapped passenger into "nothing" would be the worst possible failure. So nothing is
guessed: each problem is reported as ``FILE:LINE:COL: what — how to fix`` (the convention of
every installer file, ``yamlcheck/problems.py``), all of them in one run, and the caller keeps
the last good rule set when loading fails.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import configs
from cloud.alarms.policy import SEVERITIES
from cloud.rules.model import (
    KNOWN_FAMILIES,
    PRIORITIES,
    Action,
    Category,
    Conditions,
    Nothing,
    OpenAlarm,
    OpenWorkOrder,
    Repeat,
    Rule,
    RuleSet,
)
from contract import Kind
from yamlcheck.positions import YMap, YNode, YScalar, YSeq, parse_yaml, read_yaml
from yamlcheck.problems import ConfigError, Pos, Problem, bi

DEFAULT_FILE = configs.path("rules", "default.yaml")

#: SLA used when a work-order rule names none: (respond, resolve) in seconds per priority.
DEFAULT_SLA: dict[str, tuple[float, float]] = {
    "urgent": (5 * 60, 30 * 60),
    "high": (30 * 60, 4 * 3600),
    "normal": (2 * 3600, 24 * 3600),
    "low": (24 * 3600, 72 * 3600),
}

_TOP_KEYS = ("categories", "rules")
_CATEGORY_KEYS = ("id", "zh", "en")
_RULE_KEYS = ("id", "on", "when", "then", "enabled", "description")
_WHEN_KEYS = ("device_types", "devices", "buildings", "severities", "repeat", "offline_for_s")
_REPEAT_KEYS = ("count", "within_s")
_THEN_KEYS = ("work_order", "alarm", "nothing")
_ORDER_KEYS = ("category", "priority", "sla_response_s", "sla_resolve_s", "skill", "title_zh",
               "title_en")
_ALARM_KEYS = ("severity",)

_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?")


class RulesError(ConfigError):
    """The rule files were refused; ``problems`` lists every reason with its position."""


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'"{close[0]}"' if close else ""


@dataclass(slots=True)
class _Pending:
    """A reference checked once every file is read (categories may live in another file)."""

    category: str
    pos: Pos
    path: str


class _Checker:
    """Turns positioned YAML into model objects, collecting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.rules: list[tuple[Rule, Pos]] = []
        self.categories: list[tuple[Category, Pos]] = []
        self.category_refs: list[_Pending] = []
        self.rule_ids: list[tuple[str, Pos, str]] = []

    # -- reporting --------------------------------------------------------------------------
    def add(self, pos: Pos, path: str, what: str, fix: str) -> None:
        self.problems.append(Problem.at(pos, f"{path}: {what}" if path else what, fix))

    def _type(self, node: YNode, path: str, zh: str, en: str) -> None:
        self.add(node.pos, path, bi(f"应为{zh}", f"expected {en}"),
                 bi(f"把它写成{zh}", f"write {en} here"))

    # -- shapes -----------------------------------------------------------------------------
    def mapping(self, node: YNode, path: str, allowed: tuple[str, ...]) -> YMap | None:
        if not isinstance(node, YMap):
            self._type(node, path, "键值映射", "a mapping (key: value lines)")
            return None
        for name, (key, _value) in node.entries.items():
            if name in allowed:
                continue
            hint = _suggest(name, allowed)
            fix = (bi(f"是不是 {hint}？", f"did you mean {hint}?") if hint else
                   bi(f"可用的键：{', '.join(allowed)}", f"known keys: {', '.join(allowed)}"))
            self.add(key.pos, path, bi(f'未知的键 "{name}"', f'unknown key "{name}"'), fix)
        return node

    def require(self, m: YMap, key: str, path: str) -> YNode | None:
        if key in m.entries:
            return m.entries[key][1]
        self.add(m.pos, path, bi(f'缺少 "{key}"', f'"{key}" is missing'),
                 bi(f"添加 {key}: …", f"add {key}: …"))
        return None

    def text(self, node: YNode, path: str) -> str | None:
        # A text field keeps the scalar as written: `id: off` or `building: 3` mean the text,
        # not YAML's false or 3.
        if (isinstance(node, YScalar) and node.value is not None and node.text.strip()
                and (isinstance(node.value, str) or node.plain)):
            return node.text.strip()
        self._type(node, path, "非空文本", "non-empty text")
        return None

    def number(self, node: YNode, path: str) -> float | None:
        if (isinstance(node, YScalar) and isinstance(node.value, int | float)
                and not isinstance(node.value, bool) and node.value > 0):
            return float(node.value)
        self._type(node, path, "正数（秒）", "a positive number of seconds")
        return None

    def texts(self, node: YNode, path: str) -> tuple[str, ...]:
        """One text or a list of texts (``on: gate.fault`` and ``on: [a, b]`` both read)."""
        items = node.items if isinstance(node, YSeq) else [node]
        out = [self.text(item, f"{path}[{i}]" if isinstance(node, YSeq) else path)
               for i, item in enumerate(items)]
        return tuple(t for t in out if t is not None)

    def choice(self, node: YNode, path: str, choices: tuple[str, ...], zh: str,
               en: str) -> str | None:
        value = self.text(node, path)
        if value is None or value in choices:
            return value
        hint = _suggest(value, choices)
        self.add(node.pos, path, bi(f'未知的{zh} "{value}"', f'unknown {en} "{value}"'),
                 bi(f"可选：{', '.join(choices)}", f"one of {', '.join(choices)}")
                 + (bi(f"（是不是 {hint}？）", f" (did you mean {hint}?)") if hint else ""))
        return None

    # -- file -------------------------------------------------------------------------------
    def file(self, root: YNode) -> None:
        top = self.mapping(root, "", _TOP_KEYS)
        if top is None:
            return
        if not any(k in top.entries for k in _TOP_KEYS):
            self.add(top.pos, "", bi("没有 rules 或 categories", "no rules and no categories"),
                     bi("添加 rules: 列表", "add a rules: list"))
        if "categories" in top.entries:
            self.category_list(top.entries["categories"][1])
        if "rules" in top.entries:
            node = top.entries["rules"][1]
            if not isinstance(node, YSeq):
                self._type(node, "rules", "列表", "a list of rules")
            else:
                for i, item in enumerate(node.items):
                    self.rule(item, f"rules[{i}]")

    def category_list(self, node: YNode) -> None:
        if not isinstance(node, YSeq):
            self._type(node, "categories", "列表", "a list of categories")
            return
        for i, item in enumerate(node.items):
            path = f"categories[{i}]"
            m = self.mapping(item, path, _CATEGORY_KEYS)
            if m is None:
                continue
            vals = {}
            for key in _CATEGORY_KEYS:
                v = self.require(m, key, path)
                vals[key] = self.text(v, f"{path}.{key}") if v is not None else None
            cid, zh, en = vals["id"], vals["zh"], vals["en"]
            if cid is not None and not _ID.fullmatch(cid):
                self.add(m.entries["id"][1].pos, f"{path}.id", bi(f'类别编号 "{cid}" 不合法',
                         f'bad category id "{cid}"'),
                         bi("用小写字母、数字、_ - .", "use lowercase letters, digits, _ - ."))
            elif cid and zh and en:
                self.categories.append((Category(cid, zh, en), m.pos))

    def rule(self, node: YNode, path: str) -> None:
        m = self.mapping(node, path, _RULE_KEYS)
        if m is None:
            return
        before = len(self.problems)
        rid = None
        if (n := self.require(m, "id", path)) is not None:
            rid = self.text(n, f"{path}.id")
            if rid is not None:
                self.rule_ids.append((rid, n.pos, f"{path}.id"))
            if rid is not None and not _ID.fullmatch(rid):
                self.add(n.pos, f"{path}.id",
                         bi(f'规则编号 "{rid}" 不合法', f'bad rule id "{rid}"'),
                         bi("用小写字母、数字、_ - .", "use lowercase letters, digits, _ - ."))
        on: tuple[str, ...] = ()
        if (n := self.require(m, "on", path)) is not None:
            on = self.kinds(n, f"{path}.on")
        when = self.when(m.entries["when"][1], f"{path}.when", on) if "when" in m.entries \
            else Conditions()
        then = None
        if (n := self.require(m, "then", path)) is not None:
            then = self.then(n, f"{path}.then")
        enabled = True
        if "enabled" in m.entries:
            n = m.entries["enabled"][1]
            if isinstance(n, YScalar) and isinstance(n.value, bool):
                enabled = n.value
            else:
                self._type(n, f"{path}.enabled", " true 或 false", "true or false")
        if "description" in m.entries:
            self.text(m.entries["description"][1], f"{path}.description")
        if len(self.problems) == before and rid and on and when is not None and then is not None:
            self.rules.append((Rule(rid, on, when, then, enabled), m.pos))

    def kinds(self, node: YNode, path: str) -> tuple[str, ...]:
        out: list[str] = []
        items = node.items if isinstance(node, YSeq) else [node]
        if isinstance(node, YSeq) and not items:
            self.add(node.pos, path, bi("事件类型列表是空的", "no event kinds"),
                     bi("至少写一个，例如 gate.fault", "name at least one, e.g. gate.fault"))
        for item in items:
            kind = self.text(item, path)
            if kind is None:
                continue
            if not _KIND.fullmatch(kind) or "." not in kind:
                self.add(item.pos, path, bi(f'无法识别的事件类型 "{kind}"',
                                            f'unreadable event kind "{kind}"'),
                         bi("写成 家族.事件，例如 gate.fault 或 fire.*",
                            "write family.event, e.g. gate.fault or fire.*"))
                continue
            family = kind.split(".", 1)[0] + "."
            if family not in KNOWN_FAMILIES:
                hint = _suggest(family, KNOWN_FAMILIES)
                self.add(item.pos, path, bi(f'没有设备会发出 "{kind}"（未知的事件家族 {family}）',
                                            f'no device emits "{kind}" (unknown family {family})'),
                         bi(f"是不是 {hint}？", f"did you mean {hint}?") if hint else
                         bi(f"可用的家族：{' '.join(KNOWN_FAMILIES)}",
                            f"known families: {' '.join(KNOWN_FAMILIES)}"))
                continue
            out.append(kind)
        return tuple(out)

    def when(self, node: YNode, path: str, on: tuple[str, ...]) -> Conditions | None:
        m = self.mapping(node, path, _WHEN_KEYS)
        if m is None:
            return None
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("device_types", "devices", "buildings", "severities"):
            if key in m.entries:
                lists[key] = self.texts(m.entries[key][1], f"{path}.{key}")
        if "severities" in m.entries:
            for sev in lists["severities"]:
                if sev not in SEVERITIES:
                    self.add(m.entries["severities"][1].pos, f"{path}.severities",
                             bi(f'未知的级别 "{sev}"', f'unknown severity "{sev}"'),
                             bi(f"可选：{', '.join(SEVERITIES)}",
                                f"one of {', '.join(SEVERITIES)}"))
        repeat = None
        if "repeat" in m.entries:
            repeat = self.repeat(m.entries["repeat"][1], f"{path}.repeat")
        offline = None
        if "offline_for_s" in m.entries:
            n = m.entries["offline_for_s"][1]
            offline = self.number(n, f"{path}.offline_for_s")
            if on and on != (Kind.DEVICE_OFFLINE,):
                self.add(n.pos, f"{path}.offline_for_s",
                         bi("offline_for_s 只适用于 device.offline",
                            "offline_for_s only applies to device.offline"),
                         bi("把 on 写成 [device.offline]，或删掉 offline_for_s",
                            "set on: [device.offline], or remove offline_for_s"))
            if "repeat" in m.entries:
                self.add(n.pos, f"{path}.offline_for_s",
                         bi("offline_for_s 与 repeat 不能同时使用",
                            "offline_for_s and repeat cannot be combined"),
                         bi("拆成两条规则", "split it into two rules"))
        return Conditions(lists.get("device_types", ()), lists.get("devices", ()),
                          lists.get("buildings", ()), lists.get("severities", ()), repeat, offline)

    def repeat(self, node: YNode, path: str) -> Repeat | None:
        m = self.mapping(node, path, _REPEAT_KEYS)
        if m is None:
            return None
        count = within = None
        if (n := self.require(m, "count", path)) is not None:
            if (isinstance(n, YScalar) and isinstance(n.value, int)
                    and not isinstance(n.value, bool) and n.value >= 2):
                count = n.value
            else:
                self._type(n, f"{path}.count", "不小于 2 的整数", "a whole number of at least 2")
        if (n := self.require(m, "within_s", path)) is not None:
            within = self.number(n, f"{path}.within_s")
        return Repeat(count, within) if count is not None and within is not None else None

    def then(self, node: YNode, path: str) -> Action | None:
        m = self.mapping(node, path, _THEN_KEYS)
        if m is None:
            return None
        chosen = [k for k in _THEN_KEYS if k in m.entries]
        if len(chosen) != 1:
            self.add(m.pos, path, bi("必须且只能有一个动作", "exactly one action is needed"),
                     bi("写 work_order、alarm 或 nothing 其中之一",
                        "write one of work_order, alarm or nothing"))
            return None
        key = chosen[0]
        n = m.entries[key][1]
        sub = f"{path}.{key}"
        if key == "nothing":
            reason = self.text(n, sub)
            return Nothing(reason) if reason is not None else None
        if key == "alarm":
            am = self.mapping(n, sub, _ALARM_KEYS)
            if am is None or (sn := self.require(am, "severity", sub)) is None:
                return None
            sev = self.choice(sn, f"{sub}.severity", SEVERITIES, "级别", "severity")
            return OpenAlarm(sev) if sev is not None else None
        return self.work_order(n, sub)

    def work_order(self, node: YNode, path: str) -> OpenWorkOrder | None:
        m = self.mapping(node, path, _ORDER_KEYS)
        if m is None:
            return None
        vals: dict[str, Any] = {}
        for key in ("category", "skill", "title_zh", "title_en"):
            if (n := self.require(m, key, path)) is not None:
                vals[key] = self.text(n, f"{path}.{key}")
                if key == "category" and vals[key]:
                    self.category_refs.append(_Pending(vals[key], n.pos, f"{path}.category"))
        priority = None
        if (n := self.require(m, "priority", path)) is not None:
            priority = self.choice(n, f"{path}.priority", PRIORITIES, "优先级", "priority")
        respond: float | None = None
        resolve: float | None = None
        if priority is not None:
            respond, resolve = DEFAULT_SLA[priority]
        if "sla_response_s" in m.entries:
            respond = self.number(m.entries["sla_response_s"][1], f"{path}.sla_response_s")
        if "sla_resolve_s" in m.entries:
            n = m.entries["sla_resolve_s"][1]
            resolve = self.number(n, f"{path}.sla_resolve_s")
            if respond is not None and resolve is not None and resolve < respond:
                self.add(n.pos, f"{path}.sla_resolve_s",
                         bi(f"解决时限 {resolve:g} 秒短于响应时限 {respond:g} 秒",
                            f"resolve SLA {resolve:g} s is shorter than response SLA "
                            f"{respond:g} s"),
                         bi("解决时限应不短于响应时限", "make sla_resolve_s ≥ sla_response_s"))
                return None
        if (priority is None or respond is None or resolve is None
                or any(vals.get(k) is None for k in ("category", "skill", "title_zh",
                                                     "title_en"))):
            return None
        return OpenWorkOrder(vals["category"], priority, respond, resolve, vals["skill"],
                             vals["title_zh"], vals["title_en"])

    # -- across files -----------------------------------------------------------------------
    def finish(self, fallback: tuple[Category, ...]) -> RuleSet:
        cats: dict[str, Pos] = {}
        for cat, pos in self.categories:
            if cat.id in cats:
                self.add(pos, "categories", bi(
                    f'重复的类别 "{cat.id}"（{cats[cat.id].file}:{cats[cat.id].line} 已有）',
                    f'duplicate category "{cat.id}" (already at {cats[cat.id].file}:'
                    f'{cats[cat.id].line})'), bi("删除其中一个", "remove one"))
            cats.setdefault(cat.id, pos)
        categories = tuple(c for c, _ in self.categories) or fallback
        known = [c.id for c in categories]
        for ref in self.category_refs:
            if ref.category not in known:
                hint = _suggest(ref.category, known)
                self.add(ref.pos, ref.path, bi(f'未知的工单类别 "{ref.category}"',
                                               f'unknown work-order category "{ref.category}"'),
                         (bi(f"是不是 {hint}？", f"did you mean {hint}?") if hint else
                          bi(f"可选：{', '.join(known)}", f"one of {', '.join(known)}")))
        seen: dict[str, Pos] = {}
        for rid, pos, path in self.rule_ids:
            if rid in seen:
                first = seen[rid]
                self.add(pos, path, bi(
                    f'重复的规则编号 "{rid}"（{first.file}:{first.line} 已有）',
                    f'duplicate rule id "{rid}" (already at {first.file}:{first.line})'),
                    bi("给其中一条换个编号", "give one of them another id"))
            seen.setdefault(rid, pos)
        files = list(dict.fromkeys(p.file for p in self.problems))
        self.problems.sort(key=lambda p: (files.index(p.file), p.line, p.col))
        return RuleSet(tuple(r for r, _ in self.rules), categories)


def _files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                problems.append(Problem(str(p), 0, 0, bi("目录里没有 YAML 文件",
                                                         "no YAML files in this folder"),
                                        bi("放入 *.yaml 规则文件", "add *.yaml rule files")))
            files.extend(found)
        else:
            files.append(p)
    return files, problems


def load_rules(paths: str | Path | Iterable[str | Path]) -> RuleSet:
    """Load rule files (a file, a folder of ``*.yaml``, or several); raise RulesError on any error.

    Rules keep file order, files are read in the order given (a folder's in name order).
    Categories are those the files declare; when none declares any, the default file's apply.
    """
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    files, problems = _files(items)
    checker = _Checker()
    checker.problems.extend(problems)
    for f in files:
        try:
            checker.file(read_yaml(f))
        except ConfigError as exc:
            checker.problems.extend(exc.problems)
    return _finish(checker)


def load_rules_text(text: str, name: str = "rules.yaml") -> RuleSet:
    """Check one rule file given as text (an edit through the API); raise RulesError on any error.

    ``${NAME}`` is not expanded from this process's environment: the text is stored and loaded
    by every console process, and each must read it the same way.
    """
    checker = _Checker()
    try:
        checker.file(parse_yaml(text, name, env={}))
    except ConfigError as exc:
        checker.problems.extend(exc.problems)
    return _finish(checker)


def _finish(checker: _Checker) -> RuleSet:
    fallback = () if checker.categories else _default_categories()
    ruleset = checker.finish(fallback)
    if checker.problems:
        raise RulesError(checker.problems)
    return ruleset


@cache
def _default_categories() -> tuple[Category, ...]:
    checker = _Checker()
    checker.file(read_yaml(DEFAULT_FILE))
    return tuple(c for c, _ in checker.categories)


def default_rules() -> RuleSet:
    """The shipped defaults (``configs/rules/default.yaml``): what a site gets with no file."""
    return load_rules(DEFAULT_FILE)
