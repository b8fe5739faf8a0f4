"""Shared helpers for benchmarks: event factories, timing, and printing figures."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contract import NewEvent

T0 = datetime(2026, 11, 23, tzinfo=UTC)


def reading(i: int, devices: int = 500) -> NewEvent:
    """A realistic meter reading (what an SDM120 poll produces); varied but cheap to make, so
    the load generator takes little of the CPU it shares with what is measured."""
    f = ((i * 2654435761) & 0xFFFFFFFF) / 4294967296.0  # Knuth's multiplicative hash, in [0, 1)
    return NewEvent(
        device=f"meter-{i % devices:04d}",
        kind="meter.reading",
        ts=T0 + timedelta(milliseconds=i),
        data={"v": 1, "profile": "eastron_sdm120", "unit": f"{i % devices // 20}-{i % 20:03d}",
              "values": {"voltage": round(220 + f * 10, 1),
                         "current": round(f * 20, 3),
                         "power_w": round(f * 4000, 1),
                         "energy_import_kwh": round(1000 + i / 1000, 3)},
              "units": _UNITS},
    )


_UNITS = {"voltage": "V", "current": "A", "power_w": "W", "energy_import_kwh": "kWh"}


@dataclass
class Figures:
    name: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: str, value: str, target: str = "") -> None:
        self.rows.append((what, value, target))
        print(f"  {what:<48} {value:>18}   {target}", flush=True)


def header(title: str) -> Figures:
    print(f"\n== {title}", flush=True)
    print(f"  {'measure':<48} {'value':>18}   target", flush=True)
    return Figures(title)


@contextmanager
def timer() -> Iterator[list[float]]:
    out: list[float] = []
    t = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t)


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu_rss(pid: int) -> tuple[float, int]:
    """CPU seconds (user+system) and RSS bytes of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / ticks
    rss = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``pred`` every half second; a benchmark that cannot start says what never came up."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(0.5)


def stop(*procs: subprocess.Popen[Any] | None, wait_s: float = 15) -> None:
    """Stop the processes a benchmark started, in order: terminate, then kill if stuck."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(wait_s)
            except subprocess.TimeoutExpired:
                p.kill()

