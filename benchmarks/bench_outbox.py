"""Outbox: durable appends per second (issue 2 target: ≥ 20,000 events/s, batched, fsync per
batch, on one core)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from benchmarks.common import Figures, cpu_seconds, header, reading, timer
from edge.outbox import AsyncOutbox, Outbox


def _sync_batches(path: Path, total: int, batch: int) -> float:
    box = Outbox(path)
    events = [reading(i) for i in range(total)]
    with timer() as t:
        for i in range(0, total, batch):
            box.append(events[i:i + batch])
    box.close()
    return total / t[0]


async def _emit_concurrent(path: Path, total: int, producers: int) -> float:
    """Many drivers awaiting emit at once: the writer group-commits them."""
    events = [reading(i) for i in range(total)]
    async with await AsyncOutbox.open(path) as box:
        per = total // producers

        async def produce(k: int) -> None:
            for ev in events[k * per:(k + 1) * per]:
                await box.emit(ev)

        with timer() as t:
            async with asyncio.TaskGroup() as tg:
                for k in range(producers):
                    tg.create_task(produce(k))
    return per * producers / t[0]


def run(quick: bool = False) -> Figures:
    fig = header("outbox: durable appends (SQLite WAL, synchronous=FULL)")
    total = 50_000 if quick else 200_000
    with tempfile.TemporaryDirectory() as d:
        for batch in (100, 500, 2000):
            cpu0 = cpu_seconds()
            rate = _sync_batches(Path(d) / f"sync{batch}.db", total, batch)
            cpu = cpu_seconds() - cpu0
            fig.add(f"append, batches of {batch}", f"{rate:,.0f} ev/s",
                    "≥ 20,000 ev/s" if batch == 500 else "")
            per_k = cpu / total * 1000 * 1000
            fig.add(f"  CPU per 1,000 events (batch {batch})", f"{per_k:.1f} ms")
        n = 20_000 if quick else 100_000
        rate = asyncio.run(_emit_concurrent(Path(d) / "emit.db", n, producers=200))
        fig.add("await emit() from 200 concurrent producers", f"{rate:,.0f} ev/s")
    return fig
