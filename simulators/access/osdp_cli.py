"""Run a simulated OSDP reader on a serial device or pty until Ctrl-C.

    python -m simulators.access.osdp_cli --port /tmp/reader.pty --scbk 000102…0f \\
        --card 90:324 --every 8

Presents the given cards in turn every ``--every`` seconds (Wiegand 26 bits) and prints each
command the edge sends back (door output, LED, buzzer), one line each. ``--install`` starts
the reader keyless, to be enrolled by the edge. Pair it with the edge end of a pty from
``socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from simulators.access.osdp_sim import OsdpReaderSim


def _card(text: str) -> tuple[int, int]:
    facility, _, card = text.partition(":")
    return int(facility), int(card)


async def _run(args: argparse.Namespace) -> None:
    sim = OsdpReaderSim(args.port, address=args.address,
                        scbk=bytes.fromhex(args.scbk) if args.scbk else None,
                        install=args.install)
    await sim.start()
    shown = 0
    try:
        n = 0
        while True:
            if args.card:
                facility, card = args.card[n % len(args.card)]
                await sim.present_card(facility, card)
                print(f"[osdp ] 读卡 / card {facility:03d},{card:05d}", flush=True)
                n += 1
            await asyncio.sleep(args.every)
            seen = sim.seen()
            for c in seen[shown:]:
                if c.name != "keyset":  # never print a key
                    print(f"[osdp ] 收到 / got {c.name}: {c.fields}", flush=True)
            shown = len(seen)
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.access.osdp_cli")
    p.add_argument("--port", required=True, help="the reader's end of the line")
    p.add_argument("--address", type=int, default=101)
    p.add_argument("--scbk", help="the reader's key, 32 hex digits")
    p.add_argument("--install", action="store_true", help="keyless, to be enrolled")
    p.add_argument("--card", type=_card, action="append", default=[],
                   help="facility:card, repeatable")
    p.add_argument("--every", type=float, default=8.0)
    args = p.parse_args(argv)
    if not args.scbk and not args.install:
        p.error("give --scbk, or --install for a reader the edge enrols")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
