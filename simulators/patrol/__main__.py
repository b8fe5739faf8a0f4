"""``python -m simulators.patrol SITE.yaml [--scenario S] [--route A,B] [--tag T] …``: guards
walking a route past the site file's receivers, which publish what they hear to the site
broker. Prints a line as a guard reaches each receiver; exits 0 when the walk is done (runs
until Ctrl-C with ``--loop``), 2 when the site file or the options do not fit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from simulators.patrol.engine import THEENGS
from simulators.patrol.run import PatrolOptions, build_engine, load_patrol, run_patrol
from simulators.patrol.scenarios import NAMES


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.patrol",
        description="模拟巡更保安和蓝牙接收器 / simulated patrol guards and BLE receivers")
    p.add_argument("site", type=Path)
    p.add_argument("--scenario", action="append", default=[], metavar="SCENARIO",
                   help=f"场景（可组合，逗号分隔或重复）/ scenario, composable: "
                        f"{', '.join(NAMES)}; "
                        "skip:<receiver>, late:<s>, cloned[:<receiver>], battery[:<s>], "
                        "silent:<receiver>[@<s>]")
    p.add_argument("--route", type=_csv, default=None, metavar="R1,R2,…",
                   help="按顺序经过的接收器（默认全部）/ receivers in walking order (default: all)")
    p.add_argument("--tag", action="append", default=[], metavar="TAG",
                   help="保安的标签，每个标签一名保安 / a guard's tag, one guard per tag: "
                        "<uuid>:<major>:<minor> or <namespace>:<instance>")
    p.add_argument("--guard", default="张保安", help="保安姓名 / guard name")
    p.add_argument("--stay", type=float, default=8.0, metavar="SECONDS",
                   help="在每个巡更点停留秒数 / seconds spent at each checkpoint")
    p.add_argument("--start-after", type=float, default=5.0, metavar="SECONDS",
                   help="出发前等待秒数 / seconds before setting off")
    p.add_argument("--speed", type=float, default=1.2, metavar="M/S",
                   help="步行速度 / walking speed")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                   help="标签广播间隔 / tag advertising interval")
    p.add_argument("--loop", action="store_true", help="循环巡更直到 Ctrl-C / walk on a loop")
    p.add_argument("--speedup", type=float, default=1.0,
                   help="模拟时间倍速（接真实边缘时保持 1）/ simulated time runs this many times "
                        "faster (keep 1 against a real edge: its dwell is real seconds)")
    p.add_argument("--theengs", choices=THEENGS, default="half",
                   help="哪些 OpenMQTTGateway 附带 Theengs 解码字段 / which gateways add Theengs "
                        "decoded fields")
    p.add_argument("--seed", type=int, default=14, help="随机种子 / random seed")
    return p


def options(args: argparse.Namespace) -> PatrolOptions:
    return PatrolOptions(scenario=tuple(args.scenario) or ("perfect",), route=args.route,
                         tags=tuple(args.tag), guard=args.guard, loop=args.loop,
                         stay_s=args.stay, start_after_s=args.start_after,
                         speed_mps=args.speed, interval_s=args.interval,
                         speedup=args.speedup, seed=args.seed, theengs=args.theengs)


async def _run(site: Path, opts: PatrolOptions) -> int:
    spec = load_patrol(site)
    engine = build_engine(spec, opts, say=lambda line: print(line, flush=True))
    for line in engine.summary():
        print(line, flush=True)
    print(f"站点 broker / site broker: {spec.broker}", flush=True)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_patrol(spec, opts, engine=engine,
                                          say=lambda line: print(line, flush=True)))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        print("巡更模拟已停止 / patrol simulator stopped", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(_run(args.site, options(args)))
    except ValueError as exc:
        print(f"错误 / error: {exc}", flush=True)
        return 2


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
