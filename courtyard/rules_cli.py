"""`courtyard rules check PATH...`: validate event-rule files before they reach the cloud.

Prints every problem as ``FILE:LINE:COL: what — fix`` on stderr and exits 2, so an installer
fixes the whole file in one go (the cloud refuses such a file as a whole and keeps the last
good rules); otherwise prints what the rules will do and exits 0.
"""

from __future__ import annotations

import argparse
from collections import Counter

from cloud.rules import (
    PRIORITIES,
    Nothing,
    OpenAlarm,
    OpenWorkOrder,
    RuleSet,
    load_rules,
)
from contract.kinds import Kind
from yamlcheck.cli import run_check


def _driver_kinds() -> list[str]:
    return sorted(v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str))


def summary(rs: RuleSet) -> list[str]:
    """The OK report: rules per action and priority, and which emitted kinds are decided."""
    enabled = [r for r in rs.rules if r.enabled]
    orders = [r.then for r in enabled if isinstance(r.then, OpenWorkOrder)]
    prios = Counter(o.priority for o in orders)
    prio_text = ", ".join(f"{p} {prios[p]}" for p in PRIORITIES if prios[p])
    alarms = sum(isinstance(r.then, OpenAlarm) for r in enabled)
    nothing = sum(isinstance(r.then, Nothing) for r in enabled)
    covered = sorted({p for r in enabled for p in r.on})
    missing = [k for k in _driver_kinds() if not any(r.covers(k) for r in enabled)]
    lines = [
        f"OK: {len(rs.rules)} 条规则 / rules, {len(rs.categories)} 个工单类别 / categories",
        f"  开工单 / work order: {len(orders)}" + (f" ({prio_text})" if orders else ""),
        f"  开告警 / alarm: {alarms}",
        f"  不处理 / nothing: {nothing}",
        f"  停用 / disabled: {len(rs.rules) - len(enabled)}",
        f"  覆盖的事件类型 / kinds covered: {', '.join(covered) or '-'}",
    ]
    if missing:
        lines.append(f"  无规则的事件类型（不处理）/ kinds without a rule (no action): "
                     f"{', '.join(missing)}")
    return lines


def check_main(paths: list[str]) -> int:
    """0 and a summary when every file is usable; 2 with every problem otherwise."""
    return run_check(lambda: load_rules(paths), summary, zh_tail="，规则未采用",
                     en_tail=", rules refused")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``python -m courtyard.rules_cli check PATH...``."""
    p = argparse.ArgumentParser(prog="courtyard rules")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="检查规则文件 / validate rule files")
    c.add_argument("paths", nargs="+", metavar="PATH")
    args = p.parse_args(argv)
    return check_main(args.paths)


if __name__ == "__main__":
    raise SystemExit(main())
