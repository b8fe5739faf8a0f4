"""Access: card read → relay at the edge with 10,000 credentials (issue 13 target: p99 < 50 ms).

Two measures:

1. **Through the real line.** A simulated reader (libosdp PeripheralDevice) on one end of a
   pty, the edge's OsdpBus (libosdp ControlPanel, secure channel) on the other, the local
   decision in between, as deployed. Cards drawn from the 10,000 enrolled are presented one
   at a time. *Edge* latency is the issue's figure: the card read arriving at the control
   panel → the door output command taken by the line (``relay_ms``). *Reader to reader* adds
   both libosdp stacks' turns on the line (the simulated reader refreshes every 20 ms as
   libosdp's wrapper does, the edge every 5 ms, and the read waits for the next poll): the
   reader queues the read → it receives the output command. Each read is presented on an
   idle line (after the previous LED and buzzer went out).
   The reader guards an anti-passback area (soft, so a card drawn twice still opens), so
   each grant also queues its move on the passback writer thread, as deployed.
2. **The decision alone** (no line): the decision and the event, many times, to show what
   the 10,000-credential lookup itself costs.
3. **An anti-passback move on disk**: one move written and committed (SQLite, WAL, at the
   store's ``synchronous`` level), one at a time — what the writer thread spends behind the
   relay on each grant, and how long after a grant the move survives a power cut.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Figures, header
from contract import NewEvent, SystemClock
from drivers.access.osdp import OsdpBus
from drivers.access.osdp_model import CardPresented, ReaderSpec
from drivers.access.wiegand import Credential
from edge.access.credentials import CredentialStore
from edge.access.decide import AccessPoint, Decider
from edge.access.passback import PassbackStore, PersistentDecider
from edge.access.readers import ReaderDoors
from simulators.access.osdp_sim import OsdpReaderSim
from simulators.pty import pty_pair

CREDENTIALS = 10_000
READER, DOOR = "r-bench", "bench-door"


def _dataset() -> dict[str, object]:
    cards = {str((1 << 16) | i): {"holder": f"holder-{i}", "doors": [DOOR], "profile": "any"}
             for i in range(CREDENTIALS)}
    return {"version": 1, "cards": cards,
            "time_profiles": {"any": [{"days": [1, 2, 3, 4, 5, 6, 7], "from": "00:00",
                                       "to": "00:00"}]}}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _nothing(_: NewEvent) -> None:
    return None


async def _through_the_line(f: Figures, reads: int) -> None:
    key = secrets.token_bytes(16)
    with tempfile.TemporaryDirectory(prefix="bench-osdp-") as tmp:
        passback, where = await PassbackStore.open(Path(tmp) / "passback.db")
        point = AccessPoint(READER, DOOR, area="bench-area", direction="in",
                            anti_passback="soft")
        decider = PersistentDecider(CredentialStore.from_dataset(_dataset()), [point],
                                    "Asia/Shanghai", passback, where)
        doors = ReaderDoors(decider, _nothing, SystemClock())
        async with pty_pair(Path(tmp) / "edge", Path(tmp) / "reader") as (edge_end, pd_end):
            sim = OsdpReaderSim(pd_end, scbk=key)
            await sim.start()
            bus = OsdpBus(edge_end, [ReaderSpec(READER, 101, key)], _nothing, SystemClock(),
                          doors.on_input)
            doors.attach(bus)
            await bus.start()
            try:
                t = time.monotonic()
                while not bus.is_online(READER):
                    if time.monotonic() - t > 10:
                        raise RuntimeError("the simulated reader did not come online")
                    await asyncio.sleep(0.05)
                f.add("secure channel up after", f"{(time.monotonic() - t) * 1000:.0f} ms")
                rng = random.Random(13)
                wire: list[float] = []
                for n in range(reads):
                    i = rng.randrange(CREDENTIALS)
                    before = time.monotonic()
                    await sim.present_card(1, i)
                    out = await sim.wait_command("output", after=n, within=5)
                    wire.append((out.at - before) * 1000)
                    # Let the LED and buzzer go out and the line fall idle: people do not
                    # present three cards a second at one reader.
                    await sim.wait_command("buzzer", after=n, within=5)
                    await asyncio.sleep(0.1)
                edge = [s * 1000 for s in doors.stats.latencies]
            finally:
                await bus.stop()
                await sim.stop()
                await passback.aclose()
    f.add(f"edge: read at CP → relay taken, p50 ({reads} reads)",
          f"{statistics.median(edge):.2f} ms")
    f.add("edge: read at CP → relay taken, p99", f"{_pct(edge, 0.99):.2f} ms", "< 50 ms")
    f.add("edge: read at CP → relay taken, max", f"{max(edge):.2f} ms")
    f.add("reader → reader (both libosdp polls), p50", f"{statistics.median(wire):.1f} ms")
    f.add("reader → reader (both libosdp polls), p99", f"{_pct(wire, 0.99):.1f} ms")


async def _decision_alone(f: Figures, reads: int) -> None:
    decider = Decider(CredentialStore.from_dataset(_dataset()), [AccessPoint(READER, DOOR)])
    doors = ReaderDoors(decider, _nothing, SystemClock())
    rng = random.Random(7)
    took: list[float] = []
    for _ in range(reads):
        i = rng.randrange(CREDENTIALS + CREDENTIALS // 10)  # one in eleven unknown
        read = CardPresented(READER, Credential("h10301", 26, (1 << 16) | i, 1, i),
                             time.monotonic())
        t = time.perf_counter()
        await doors.on_input(read)
        took.append((time.perf_counter() - t) * 1e6)
    f.add(f"decision + event, no line, p50 ({reads} reads)", f"{statistics.median(took):.0f} µs")
    f.add("decision + event, no line, p99", f"{_pct(took, 0.99):.0f} µs")


async def _passback_moves(f: Figures, moves: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-passback-") as tmp:
        store, _ = await PassbackStore.open(Path(tmp) / "passback.db")
        try:
            _, synchronous = await store.durability()
            took: list[float] = []
            for i in range(moves):
                t = time.perf_counter()
                await asyncio.wrap_future(store.record(
                    "bench-area", f"holder-{i % 500}", "in" if i % 2 else "out",
                    datetime.now(UTC)))
                took.append((time.perf_counter() - t) * 1000)
        finally:
            await store.aclose()
    level = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, str(synchronous))
    f.add(f"passback move on disk ({level}), p50 ({moves} moves)",
          f"{statistics.median(took):.2f} ms")
    f.add(f"passback move on disk ({level}), p99", f"{_pct(took, 0.99):.2f} ms")


def run(quick: bool = False) -> None:
    f = header(f"Access: card read → relay, {CREDENTIALS:,} credentials (OSDP reader on a pty)")
    t = time.perf_counter()
    CredentialStore.from_dataset(_dataset())
    f.add("load 10,000 credentials", f"{(time.perf_counter() - t) * 1000:.0f} ms")
    asyncio.run(_through_the_line(f, 30 if quick else 200))
    asyncio.run(_decision_alone(f, 2_000 if quick else 20_000))
    asyncio.run(_passback_moves(f, 50 if quick else 500))


if __name__ == "__main__":
    from edge.log import configure_logging

    configure_logging(level="warning")
    run()
