"""A metered site for the end-to-end month: Modbus meter simulators and the real edge daemon
in one thread and event loop, on a wall clock the test sets.

A month cannot pass in real time, so the site's wall clock jumps (``jump``) from boundary to
boundary; intervals (polling, timeouts, back-off) stay in real seconds. The simulated meters
read the same wall clock, so a jump integrates a month of each flat's load into its counters.
At a boundary the counters are snapped to the meter's display precision (0.01), the way an
operator would read them, so the value served on the wire is exactly a two-decimal number and
the bill can be checked with Decimal, to the fen. A jump and its snap happen in one callback
on the loop, so no poll sees the new time with the old counters.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from edge.app import OUTBOX_FILE, EdgeApp
from edge.config import load_site
from simulators.site import SiteSimulator

T = TypeVar("T")
#: The counters a bill reads, per device kind, as the profiles name them.
COUNTERS = ("energy_import_kwh", "water_forward_m3")


class WallClock:
    """Wall time as the test sets it; monotonic time as the machine's."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return time.monotonic()

    def epoch(self) -> float:
        return self._now.timestamp()

    def set(self, at: datetime) -> None:
        self._now = at


class MeteredSite(threading.Thread):
    """``courtyard sim site`` and ``courtyard edge run`` of one site file, in a thread."""

    def __init__(self, site_yaml: Path, clock: WallClock, addresses: dict[str, int]) -> None:
        super().__init__(name="metered-site", daemon=True)
        self.site_yaml, self.clock, self.addresses = site_yaml, clock, addresses
        self.config = load_site(site_yaml)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sim: SiteSimulator | None = None
        self.app: EdgeApp | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        async with SiteSimulator(self.site_yaml, clock=self.clock.epoch,
                                 parking_traffic=False) as sim:
            self.sim = sim
            # Quick retries: a jump integrates a month on the loop, and a read may time out;
            # a health report every second, so the console soon knows the outbox's backlog.
            self.app = EdgeApp(self.config, self.clock, uplink_overrides={"ack_timeout": 5.0},
                               supervisor_backoff=(0.2, 2.0), health_interval_s=1.0)
            self.ready.set()
            await self.app.run()

    def start_and_wait(self, timeout: float = 30.0) -> None:
        self.start()
        if not self.ready.wait(timeout) or self.error is not None:
            raise AssertionError(f"metered site did not start: {self.error!r}")

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the site's loop (between two of its steps) and return its result."""
        assert self.loop is not None
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(work)
        return fut.result(timeout=60)

    def _meter(self, device: str) -> Any:
        assert self.sim is not None
        (bus,) = self.sim.buses.values()
        return bus.meter(self.addresses[device])

    def jump(self, at: datetime, set_to: dict[str, Decimal] | None = None
             ) -> dict[str, Decimal]:
        """Move the wall clock to ``at``; snap every meter's billing counter to 0.01 (or set
        it to ``set_to[device]``); return the counters the meters now serve, by device."""
        fixed = set_to or {}

        def work() -> dict[str, Decimal]:
            self.clock.set(at)
            out: dict[str, Decimal] = {}
            for device in self.addresses:
                meter = self._meter(device)
                (name,) = [n for n in COUNTERS if n in meter.profile.names()]
                value = fixed.get(device, Decimal(f"{meter.value(name):.2f}"))
                meter.set_value(name, float(value))
                out[device] = value
            return out

        return self.call(work)

    def outbox_readings_at(self, at: datetime) -> set[str]:
        """Devices with a reading stamped ``at`` still waiting in the edge's outbox."""
        path = Path(self.config.edge.data_dir) / OUTBOX_FILE
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT device, ts FROM events WHERE kind = 'meter.reading'"
                              ).fetchall()
        return {d for d, ts in rows if datetime.fromisoformat(ts) == at}

    def outbox_depth(self) -> int:
        path = Path(self.config.edge.data_dir) / OUTBOX_FILE
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    def stop(self) -> None:
        if self.loop is not None and self.app is not None:
            self.loop.call_soon_threadsafe(self.app.request_stop)
        self.join(30)
