"""Subprocess for the kill -9 test: emits events concurrently and prints each one whose
``emit`` returned, so the parent knows exactly what was promised durable."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from contract import NewEvent
from edge.outbox import AsyncOutbox


async def main(path: str) -> None:
    box = await AsyncOutbox.open(path, linger=0.005)
    async with box:
        async def writer(worker: int) -> None:
            n = 0
            while True:
                n += 1
                kind = "fire.alarm" if n % 7 == 0 else "meter.reading"
                ev = NewEvent(device=f"m{worker}", kind=kind, data={"n": n},
                              ts=datetime.now(UTC))
                await box.emit(ev)
                sys.stdout.write(f"{ev.id}\n")
                sys.stdout.flush()

        async with asyncio.TaskGroup() as tg:
            for w in range(8):
                tg.create_task(writer(w))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
