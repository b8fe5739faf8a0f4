"""The patrol options of ``courtyard sim site`` (the walkers start when the site file has
``patrol:``): kept here so the site command only wires them."""

from __future__ import annotations

import argparse

from simulators.patrol.run import PatrolOptions


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def add_patrol_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patrol-scenario", action="append", default=[], metavar="SCENARIO",
                   help="巡更场景（可组合）/ patrol scenario, composable: perfect, "
                        "skip:<receiver>, late:<s>, cloned[:<receiver>], battery[:<s>], "
                        "silent:<receiver>[@<s>]")
    p.add_argument("--patrol-route", type=_csv, default=None, metavar="R1,R2,…",
                   help="巡更路线（默认按文件顺序经过全部接收器）/ receivers in walking order "
                        "(default: every receiver in file order); walked on a loop")
    p.add_argument("--patrol-tag", action="append", default=[], metavar="TAG",
                   help="保安标签，每个一名保安 / a guard's tag, one guard each: "
                        "<uuid>:<major>:<minor> or <namespace>:<instance>")
    p.add_argument("--patrol-speedup", type=float, default=1.0,
                   help="巡更时间倍速（接真实边缘时保持 1）/ patrol time runs this many times "
                        "faster (keep 1 against a real edge: its dwell is real seconds)")


def patrol_options(args: argparse.Namespace) -> PatrolOptions:
    return PatrolOptions(scenario=tuple(args.patrol_scenario) or ("perfect",),
                         route=args.patrol_route, tags=tuple(args.patrol_tag), loop=True,
                         speedup=args.patrol_speedup)
