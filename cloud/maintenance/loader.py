"""Read maintenance plans from YAML, every mistake reported as ``FILE:LINE:COL: what — fix``.

The file is checked as a whole and all problems are listed before failing, so one run of
the loader shows the installer everything to correct; a file with any problem loads nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cloud.maintenance.model import Plan, Tier, cadence_units
from yamlcheck.positions import YMap, YNode, YScalar, YSeq, read_yaml
from yamlcheck.problems import ConfigError, Pos, Problem, bi

_PLAN_KEYS = ("id", "asset_kind", "skill", "category", "release_days_ahead", "sla_resolve_s",
              "start", "tiers")
_TIER_KEYS = ("name", "zh", "en", "every", "checklist")


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, pos: Pos, what: str, fix: str) -> None:
        self.problems.append(Problem.at(pos, what, fix))

    def fields(self, node: YMap, keys: tuple[str, ...], zh: str, en: str) -> dict[str, YNode]:
        out: dict[str, YNode] = {}
        for name, (key, value) in node.entries.items():
            if name not in keys:
                self.bad(key.pos,
                         bi(f'{zh}中未知的字段 "{name}"', f'unknown field "{name}" in {en}'),
                         bi(f"可用字段：{', '.join(keys)}", f"known fields: {', '.join(keys)}"))
            else:
                out[name] = value
        for name in keys:
            if name not in out:
                self.bad(node.pos, bi(f'{zh}缺少字段 "{name}"', f'{en}: "{name}" is missing'),
                         bi(f"加上 {name}: …", f"add {name}: …"))
        return out

    def text(self, node: YNode | None) -> str | None:
        if node is None:
            return None
        if isinstance(node, YScalar) and node.value is not None and node.text.strip():
            return node.text.strip()
        self.bad(node.pos, bi("这里需要一段文字", "text expected here"),
                 bi("写一个名称或说明", "write a name or description"))
        return None

    def integer(self, node: YNode | None, minimum: int) -> int | None:
        if node is None:
            return None
        v: Any = node.value if isinstance(node, YScalar) else None
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self.bad(node.pos, bi(f"这里需要不小于 {minimum} 的整数",
                                  f"a whole number of at least {minimum} is expected here"),
                     bi("例如 3", "for example 3"))
            return None
        return v

    def day(self, node: YNode | None) -> date | None:
        if node is None:
            return None
        v: Any = node.value if isinstance(node, YScalar) else None
        if isinstance(v, date):
            return v
        self.bad(node.pos, bi("这里需要一个日期", "a date is expected here"),
                 bi("写成 YYYY-MM-DD，例如 2027-01-01", "write YYYY-MM-DD, e.g. 2027-01-01"))
        return None

    def tier(self, node: YNode, plan: str) -> Tier | None:
        if not isinstance(node, YMap):
            self.bad(node.pos, bi("保养级别需要写成键值", "a tier must be a mapping"),
                     bi("写 name、zh、en、every、checklist", "give name, zh, en, every, checklist"))
            return None
        f = self.fields(node, _TIER_KEYS, f"计划 {plan} 的级别", f"a tier of plan {plan}")
        name, zh, en = self.text(f.get("name")), self.text(f.get("zh")), self.text(f.get("en"))
        every = self.text(f.get("every"))
        if every is not None:
            try:
                cadence_units(every)
            except ValueError as exc:
                self.bad(f["every"].pos, str(exc),
                         bi("例如 every: 15d、every: 3m 或 every: 1y",
                            "e.g. every: 15d, every: 3m or every: 1y"))
                every = None
        items: list[str] = []
        check = f.get("checklist")
        if check is not None:
            if not isinstance(check, YSeq) or not check.items:
                self.bad(check.pos,
                         bi("检查项需要写成非空列表", "checklist must be a non-empty list"),
                         bi("每项一行，以 - 开头", "one item per line, starting with -"))
            else:
                for item in check.items:
                    t = self.text(item)
                    if t is not None:
                        items.append(t)
        if None in (name, zh, en, every) or (check is not None and not items):
            return None
        assert name and zh and en and every
        return Tier(name, zh, en, every, tuple(items))

    def plan(self, node: YNode, ids: dict[str, Pos]) -> Plan | None:
        if not isinstance(node, YMap):
            self.bad(node.pos, bi("计划需要写成键值", "a plan must be a mapping"),
                     bi("参照 configs/maintenance/plans.yaml",
                        "see configs/maintenance/plans.yaml"))
            return None
        label = "?"
        if isinstance(idn := node.entries.get("id", (None, None))[1], YScalar):
            label = idn.text
        f = self.fields(node, _PLAN_KEYS, f"计划 {label} ", f"plan {label}")
        pid = self.text(f.get("id"))
        if pid is not None:
            if pid in ids:
                self.bad(f["id"].pos, bi(f"计划编号 {pid} 重复（第 {ids[pid].line} 行已有）",
                                         f"plan id {pid} repeated (already at line "
                                         f"{ids[pid].line})"),
                         bi("给每个计划一个不同的 id", "give every plan its own id"))
            ids.setdefault(pid, f["id"].pos)
        kind, skill = self.text(f.get("asset_kind")), self.text(f.get("skill"))
        category = self.text(f.get("category"))
        ahead = self.integer(f.get("release_days_ahead"), 0)
        sla = self.integer(f.get("sla_resolve_s"), 1)
        start = self.day(f.get("start"))
        tiers: list[Tier] = []
        tnode = f.get("tiers")
        tiers_ok = tnode is not None
        if isinstance(tnode, YSeq) and tnode.items:
            for item in tnode.items:
                t = self.tier(item, label)
                tiers_ok = tiers_ok and t is not None
                if t is not None:
                    tiers.append(t)
        elif tnode is not None:
            self.bad(tnode.pos, bi("tiers 需要写成非空列表", "tiers must be a non-empty list"),
                     bi("每个级别以 - name: 开头", "start each tier with - name:"))
            tiers_ok = False
        if None in (pid, kind, skill, category, ahead, sla, start) or not tiers_ok:
            return None
        assert pid and kind and skill and category and ahead is not None and sla and start
        assert isinstance(tnode, YSeq)
        base = min(t.units for t in tiers)
        for t, item in zip(tiers, tnode.items, strict=True):
            if t.units % base:
                assert isinstance(item, YMap)
                self.bad(item.entries["every"][1].pos,
                         bi(f"级别 {t.name} 的周期 {t.every} 不是最小周期的整数倍",
                            f"tier {t.name}: {t.every} is not a whole multiple of the "
                            "shortest cadence"),
                         bi("让较大级别的周期是最小级别的整数倍（如 15d、3m、6m、1y）",
                            "make each bigger cadence a whole multiple of the smallest "
                            "(e.g. 15d, 3m, 6m, 1y)"))
                return None
        try:
            return Plan(pid, kind, tuple(tiers), ahead, skill, category, sla, start)
        except ValueError as exc:
            assert tnode is not None
            self.bad(tnode.pos, str(exc),
                     bi("让较大级别的周期是最小级别的整数倍（如 15d、3m、6m、1y）",
                        "make each bigger cadence a whole multiple of the smallest "
                        "(e.g. 15d, 3m, 6m, 1y)"))
            return None


def load_plans(path: Path | str) -> tuple[Plan, ...]:
    """All plans in the file; ConfigError listing every problem if any is wrong."""
    file = Path(path)
    root = read_yaml(file)
    r = _Reader()
    plans: list[Plan] = []
    if not isinstance(root, YMap) or "plans" not in root.entries:
        raise ConfigError([Problem.at(
            root.pos, bi("缺少顶层的 plans 列表", "the top-level plans list is missing"),
            bi("以 plans: 开头，下面每个计划以 - id: 开头",
               "start with plans:, then each plan with - id:"))])
    for name, (key, _) in root.entries.items():
        if name != "plans":
            r.bad(key.pos, bi(f'未知的顶层字段 "{name}"', f'unknown top-level field "{name}"'),
                  bi("只能有 plans", "only plans is allowed"))
    node = root.entries["plans"][1]
    if not isinstance(node, YSeq):
        r.bad(node.pos, bi("plans 需要写成列表", "plans must be a list"),
              bi("每个计划以 - id: 开头", "start each plan with - id:"))
    else:
        ids: dict[str, Pos] = {}
        for item in node.items:
            p = r.plan(item, ids)
            if p is not None:
                plans.append(p)
    if r.problems:
        raise ConfigError(r.problems)
    return tuple(plans)
