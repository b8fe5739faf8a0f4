"""``python -m simulators.access.uhppote_cli --controller SERIAL@HOST:PORT[/DOORS] …``

Simulated 微耕/UHPPOTE controllers for a bench or the demo. Prints ``serving`` with each
controller's address once bound; with ``--swipe-every S`` a card is presented every S seconds
at a random door (one of ``--cards``, or an unknown one now and then), the door opens and
closes, and one line per swipe says what the controller decided. Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
from collections.abc import Sequence

from simulators.access.uhppote_sim import SimController

_SPEC = re.compile(r"^(\d+)@([\d.]+):(\d+)(?:/([124]))?$")


def _controller(text: str) -> tuple[int, str, int, int]:
    m = _SPEC.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"expected SERIAL@HOST:PORT[/DOORS], not {text!r}")
    return int(m[1]), m[2], int(m[3]), int(m[4] or 4)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulators.access.uhppote_cli",
                                description="模拟微耕门禁控制器 / simulated UHPPOTE controllers")
    p.add_argument("--controller", type=_controller, action="append", required=True,
                   metavar="SERIAL@HOST:PORT[/DOORS]", help="可重复 / repeatable")
    p.add_argument("--swipe-every", type=float, default=0.0,
                   help="每隔几秒刷一次卡，0 为不刷 / seconds between swipes, 0 = none")
    p.add_argument("--cards", type=int, nargs="*", default=[],
                   help="刷卡时使用的卡号 / card numbers to present")
    p.add_argument("--held-open-after", type=float, default=10.0,
                   help="开门超时秒数 / seconds before a door counts as held open")
    return p


async def _traffic(sims: Sequence[SimController], every: float, cards: Sequence[int]) -> None:
    rng = random.Random()
    while True:
        await asyncio.sleep(every)
        sim = rng.choice(sims)
        door = rng.choice(sorted(sim.state.doors))
        card = rng.choice(cards) if cards and rng.random() > 0.15 else rng.randint(1, 99999)
        event = sim.swipe(card, door)
        verdict = "开门 / granted" if event.granted else f"拒绝 / denied (0x{event.reason:02x})"
        print(f"[sim] 控制器 {sim.state.serial} 门 {door} 卡 {card}: {verdict}", flush=True)
        if event.granted:
            sim.open_door(door)
            await asyncio.sleep(min(1.0, every / 2))
            sim.close_door(door)


async def _run(args: argparse.Namespace) -> None:
    sims = [await SimController(serial, host, port, doors=doors,
                                held_open_after=args.held_open_after).start()
            for serial, host, port, doors in args.controller]
    for s in sims:
        print(f"serving {s.state.serial} on {s.address} ({s.state.doors_count} doors)",
              flush=True)
    try:
        if args.swipe_every > 0:
            await _traffic(sims, args.swipe_every, args.cards)
        else:
            await asyncio.Event().wait()
    finally:
        for s in sims:
            await s.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
