"""Card sync to a 微耕/UHPPOTE controller: 10,000 cards (issue 13 target: under a minute).

The simulated controller runs in its own process on a loopback address of its own; the sync
is the driver's (``drivers.access.sync``) through uhppoted over real UDP: read what the
controller holds slot by slot, put the missing and changed cards, delete the extra ones, read
every wanted card back. Three runs: onto an empty controller, again with nothing to do, and
with 1 % of the cards changed and 1 % revoked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import socket
import subprocess
import sys
import time

from benchmarks.common import Figures, header, stop
from drivers.access.sync import SyncReport, sync_cards
from drivers.access.uhppote_client import UhppoteClient
from drivers.access.uhppote_model import AccessConfig, CardSpec, ControllerSpec
from drivers.base import DriverStats

SERIAL = 405419896


def _free_udp(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _cards(n: int) -> list[CardSpec]:
    today = dt.date.today()
    return [CardSpec(10_000_000 + i, today, today + dt.timedelta(days=365),
                     {1: 1, 2: 1 if i % 3 else 0}, 0) for i in range(n)]


async def _sync(config: AccessConfig, wanted: list[CardSpec]) -> tuple[SyncReport, float]:
    client = UhppoteClient(config, DriverStats())
    t = time.perf_counter()
    report = await sync_cards(client, config.controllers[0], wanted, concurrency=16)
    return report, time.perf_counter() - t


def run(quick: bool = False) -> Figures:
    n = 1_000 if quick else 10_000
    fig = header(f"access: card sync of {n:,} cards to a UHPPOTE controller simulator (UDP)")
    host = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    port = _free_udp(host)
    sim = subprocess.Popen([sys.executable, "-m", "simulators.access.uhppote_cli",
                            "--controller", f"{SERIAL}@{host}:{port}/4"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline()
        if not line.startswith("serving"):
            raise RuntimeError(f"simulator did not start: {line!r}")
        config = AccessConfig(controllers=(ControllerSpec("c1", SERIAL, f"{host}:{port}"),),
                              bind="127.0.0.1", broadcast=f"{host}:60000", timeout=2.0)
        wanted = _cards(n)
        first, t1 = asyncio.run(_sync(config, wanted))
        fig.add(f"first sync: {len(first.added):,} put, {first.verified:,} verified",
                f"{t1:.1f} s", "< 60 s")
        again, t2 = asyncio.run(_sync(config, wanted))
        fig.add(f"again, nothing to do ({again.unchanged:,} unchanged)", f"{t2:.1f} s")
        rng = random.Random(13)
        changed = rng.sample(range(n), n // 100)
        revoked = set(rng.sample([i for i in range(n) if i not in set(changed)], n // 100))
        edited = [CardSpec(c.number, c.start, c.end + dt.timedelta(days=1), c.doors, c.pin)
                  if i in set(changed) else c for i, c in enumerate(wanted) if i not in revoked]
        drift, t3 = asyncio.run(_sync(config, edited))
        fig.add(f"1 % changed + 1 % revoked ({drift.drift} drift, {len(drift.failed)} failed)",
                f"{t3:.1f} s")
        fig.add("cards per second (first sync, put + read back)", f"{n / t1:,.0f}")
    finally:
        stop(sim)
    return fig
