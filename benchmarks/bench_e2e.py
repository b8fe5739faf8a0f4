"""End to end: edge outbox → Mosquitto → cloud ingest on PostgreSQL (issue 2 targets:
≥ 10,000 events/s sustained for 60 s, and the same while draining a 1,000,000-event backlog).

The edge side (outbox + uplink) runs in this process; the console runs as its own process
(`courtyard cloud serve`), as in production, so the two share the machine's two cores. The
broker is the console's managed Mosquitto with logins and the per-site ACL on: the edge logs in
with its site credential, the console with its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figures, header, reading
from contract import SystemClock
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.support.services import free_port, fresh_pg_database, port_open

SITE = "bench"
SECRET = "bench-site-secret-0001"


async def _produce(box: AsyncOutbox, rate: float, seconds: float, start: int,
                   stop: asyncio.Event | None = None) -> int:
    """Append ``rate`` events/s for ``seconds`` (or until ``stop`` is set) in 50 ms batches,
    as many drivers would."""
    tick = 0.05
    per_tick = int(rate * tick)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and not (stop and stop.is_set()):
        await box.append_many([reading(start + n + i) for i in range(per_tick)])
        n += per_tick
        delay = t0 + (n / rate) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return n


async def _wait_drained(box: AsyncOutbox, within: float) -> float:
    t0 = time.monotonic()
    while await box.depth() > 0:
        if time.monotonic() - t0 > within:
            raise RuntimeError(f"backlog not drained within {within:.0f} s "
                               f"({await box.depth():,} left)")
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


async def _bench(fig: Figures, broker: str, tmp: Path, sustain_s: float, backlog: int,
                 rate: float) -> None:
    settings = UplinkSettings(site=SITE, mqtt_url=broker, username=SITE, password=SECRET,
                              replay_rate=1e9, ack_timeout=60.0)
    async with await AsyncOutbox.open(tmp / "outbox.db") as box:
        # 1. sustained live traffic
        uplink = Uplink(settings, box, SystemClock())
        task = asyncio.create_task(uplink.run())
        await asyncio.sleep(2)
        acked0 = await box.acked()
        t0 = time.monotonic()
        produced = await _produce(box, rate, sustain_s, 0)
        produce_s = time.monotonic() - t0
        acked_during = await box.acked() - acked0
        lag_at_end = await box.depth()
        await _wait_drained(box, 600)
        total_s = time.monotonic() - t0
        acked = await box.acked() - acked0
        fig.add(f"offered live load for {sustain_s:.0f} s", f"{produced / produce_s:,.0f} ev/s")
        fig.add("acked while the load ran", f"{acked_during / produce_s:,.0f} ev/s",
                "≥ 10,000 ev/s")
        fig.add("delivered and acked (incl. catch-up)", f"{acked / total_s:,.0f} ev/s")
        fig.add("backlog when the load stopped", f"{lag_at_end:,} events")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        # 2. a backlog built while the link was down, drained while live load continues
        t_fill = time.monotonic()
        for i in range(0, backlog, 5000):
            await box.append_many([reading(produced + i + k) for k in range(5000)])
        fill_s = time.monotonic() - t_fill
        fig.add(f"backlog written to the outbox ({backlog:,})", f"{backlog / fill_s:,.0f} ev/s")
        backlog_end = await box.high_water()
        uplink = Uplink(settings, box, SystemClock())
        t0 = time.monotonic()
        task = asyncio.create_task(uplink.run())
        stop = asyncio.Event()
        live = asyncio.create_task(_produce(box, 1000, 3600, produced + backlog, stop))
        while await box.acked() < backlog_end:
            if time.monotonic() - t0 > 3600:
                raise RuntimeError("backlog not drained within an hour")
            await asyncio.sleep(0.1)
        drain_s = time.monotonic() - t0
        stop.set()
        live_n = await live
        fig.add("backlog drained (with 1,000 ev/s live)",
                f"{(backlog + live_n) / drain_s:,.0f} ev/s", "≥ 10,000 ev/s")
        fig.add("  time to drain", f"{drain_s:,.1f} s")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def run(quick: bool = False) -> Figures:
    fig = header("end to end: outbox → Mosquitto (managed, ACL on) → ingest → PostgreSQL")
    sustain_s, backlog, rate = (15.0, 100_000, 12_000.0) if quick else (60.0, 1_000_000, 12_000.0)
    http_port, mqtt_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d, fresh_pg_database() as db:
        tmp = Path(d)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
        # No COURTYARD_MQTT_URL: the console starts and manages its own Mosquitto.
        env.update(COURTYARD_DATABASE_URL=db, COURTYARD_BROKER_PORT=str(mqtt_port),
                   COURTYARD_DATA_DIR=str(tmp / "cloud"),
                   COURTYARD_SITE_CREDENTIALS=f"{SITE}:{SECRET}",
                   COURTYARD_HTTP_PORT=str(http_port), COURTYARD_LOG_LEVEL="warning")
        cloud = subprocess.Popen([sys.executable, "-m", "courtyard", "cloud", "serve"], env=env,
                                 stdout=(tmp / "cloud.log").open("w"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not port_open("127.0.0.1", http_port):
                if time.monotonic() > deadline or cloud.poll() is not None:
                    raise RuntimeError("console did not start:\n"
                                       + (tmp / "cloud.log").read_text()[-3000:])
                time.sleep(0.3)
            asyncio.run(_bench(fig, f"mqtt://127.0.0.1:{mqtt_port}", tmp, sustain_s, backlog,
                               rate))
        finally:
            cloud.terminate()
            try:
                cloud.wait(20)
            except subprocess.TimeoutExpired:
                cloud.kill()
    return fig
