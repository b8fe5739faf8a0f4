"""``python -m simulators.elevator``: elevator boxes on a Modbus TCP port, for a bench or a demo.

Cars run random trips (``--no-traffic`` to keep them still); type ``help`` for the scripted
faults. The first line on stdout says where it is serving (flushed, for scripts waiting on it).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from simulators.bench import configure_logging, console, run
from simulators.elevator.car import SimCar
from simulators.elevator.layout import PROFILES_DIR
from simulators.elevator.server import ElevatorBox, ElevatorSimulator

_HELP = """commands / 命令 (U = unit id):
  trap U landing|between [silent]   passengers trapped (困人); silent: the box reports no code
  door U                            running with the door open (运行中开门)
  overrun U top|bottom              冲顶 / 蹲底
  clear U                           faults cleared, car re-levels and opens (故障解除)
  call U FLOOR | people U 0|1 | inspection U 0|1 | maintenance U 0|1
  raise U KEY                       any fault key of the profile (alarm_button, fire_return…)
  fault U none|no_reply|exception|garbage   how the box answers on the wire
  status | help | quit"""


def parse_units(text: str, default_profile: str) -> list[tuple[int, str]]:
    """``1,2`` or ``1=generic,2=vendor`` → [(unit, profile)]."""
    out: list[tuple[int, str]] = []
    for part in text.split(","):
        unit, _, profile = part.strip().partition("=")
        out.append((int(unit), profile.strip() or default_profile))
    return out


async def _command(sim: ElevatorSimulator, line: str) -> bool:
    words = line.split()
    if not words:
        return True
    cmd, args = words[0].lower(), words[1:]
    try:
        if cmd == "quit":
            return False
        if cmd in ("status", "help") or not args:
            print(_HELP if cmd != "status" else "", flush=True)
        else:
            box = sim.box(int(args[0]))
            car, rest = box.car, args[1:]
            if cmd == "trap":
                await car.trap(at_landing=rest[:1] == ["landing"], report="silent" not in rest)
            elif cmd == "door":
                await car.door_open_while_moving()
            elif cmd == "overrun":
                await car.overrun(top=rest[:1] != ["bottom"])
            elif cmd == "clear":
                await car.clear()
            elif cmd == "call":
                await car.call(int(rest[0]))
            elif cmd == "people":
                await car.passengers(rest[:1] == ["1"])
            elif cmd == "inspection":
                await car.set_inspection(rest[:1] == ["1"])
            elif cmd == "maintenance":
                await car.set_maintenance(rest[:1] == ["1"])
            elif cmd == "raise":
                await car.raise_fault(rest[0])
            elif cmd == "fault":
                box.set_fault(rest[0])
            else:
                print(_HELP, flush=True)
    except (ValueError, KeyError, IndexError) as exc:
        print(f"错误 / error: {exc}", flush=True)
    print(sim.describe(), flush=True)
    return True


async def _serve(args: argparse.Namespace) -> None:
    boxes = []
    for unit, profile in parse_units(args.units, args.profile):
        car = SimCar(traffic=not args.no_traffic, rng=random.Random(args.seed + unit))
        boxes.append(ElevatorBox.from_profile(unit, profile, car, main_landing=args.main_landing,
                                              directory=Path(args.profiles_dir)))
    sim = ElevatorSimulator(boxes, tcp=(args.host, args.port))

    def tick() -> None:
        for box in boxes:
            box.car.tick()

    async with sim:
        units = ", ".join(f"unit {b.unit} ({b.layout.id})" for b in boxes)
        print(f"serving 电梯监测终端 / elevator boxes on tcp://{args.host}:{args.port}: {units}",
              flush=True)
        await console(lambda line: _command(sim, line), tick)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.elevator",
        description="模拟电梯监测终端（Modbus TCP） / Simulated elevator monitoring boxes")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1503)
    parser.add_argument("--units", default="1",
                        help="unit ids, e.g. 1,2 or 1=generic,2=vendor_status_word")
    parser.add_argument("--profile", default="generic",
                        help="profile id (or its start) in --profiles-dir")
    parser.add_argument("--profiles-dir", default=str(PROFILES_DIR))
    parser.add_argument("--main-landing", type=int, default=1)
    parser.add_argument("--no-traffic", action="store_true", help="cars stay where they are")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        parse_units(args.units, args.profile)
    except ValueError:
        parser.error("--units: unit ids separated by commas, e.g. 1,2")
    try:
        run(_serve(args))
    except ValueError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
