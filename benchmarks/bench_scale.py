"""Scale (issue 16): `courtyard cloud serve --workers N` on one box, PostgreSQL.

(a) the read API mix (keyset pages of units, owners and bills, a unit, alarms, sites) at
    300 requests/s offered, open loop; target p99 < 50 ms;
(b) live ingest from several sites through the managed Mosquitto (ACL on) into the consoles'
    ingest workers on the shared subscription, in seq order per site; target ≥ 10,000 ev/s;
(c) a 1,000,000-event backlog queued in the sites' outboxes, then the uplinks start and the
    drain is timed; target ≥ 12,000 ev/s.

PostgreSQL's CPU is read from /proc (utime + stime of its processes, in % of one core): the
backends of the benchmark's database (their command line names it), and every postgres process
(which counts the shared server's other users too). The edge side (outboxes, uplinks, the load)
runs in this process and shares the machine's cores with the consoles, the broker and the
database, as it would not in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks.bench_api import SITE as API_SITE
from benchmarks.bench_api import _seed as seed_api
from benchmarks.common import Figures, header, reading
from benchmarks.open_loop import offer
from cloud.web.cursor import encode_cursor
from contract import SystemClock
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.support.services import free_port, fresh_pg_database, port_open

SECRET = "scale-site-secret-0001"


@dataclass(frozen=True)
class Sizes:
    workers: int = 2
    api_rate: float = 300.0
    api_seconds: float = 30.0
    sites: int = 4
    live_rate: float = 12_000.0
    live_seconds: float = 60.0
    backlog: int = 1_000_000


QUICK = Sizes(api_seconds=10.0, live_seconds=15.0, backlog=100_000)
SMOKE = Sizes(api_rate=20.0, api_seconds=1.0, sites=2, live_rate=400.0, live_seconds=1.0,
              backlog=2_000)


class PgCpu:
    """CPU seconds of PostgreSQL's processes since the last ``take``, per process, so a backend
    that ends between two readings subtracts nothing (its last interval is not counted)."""

    def __init__(self, database: str) -> None:
        self._db = database
        self._tick = os.sysconf("SC_CLK_TCK")
        self._last = self._read()

    def _read(self) -> dict[int, tuple[float, bool]]:
        """pid → (CPU seconds used, whether it is a backend of our database)."""
        out: dict[int, tuple[float, bool]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                if "(postgres)" not in stat:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                used = (int(fields[11]) + int(fields[12])) / self._tick
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            out[int(pid)] = (used, f" {self._db} " in cmd)
        return out

    def take(self, wall: float) -> tuple[float, float]:
        """(% of one core by this database's backends, % by every postgres process)."""
        now = self._read()
        before, self._last = self._last, now
        ours = every = 0.0
        for pid, (used, mine) in now.items():
            delta = used - before.get(pid, (0.0, mine))[0]
            every += delta
            ours += delta if mine else 0.0
        return 100 * ours / wall, 100 * every / wall


@contextlib.contextmanager
def console(db: str, tmp: Path, workers: int, sites: list[str]) -> Iterator[tuple[int, int]]:
    """`courtyard cloud serve --workers N` with its managed broker; yields (http, mqtt) ports."""
    http_port, mqtt_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    env.update(COURTYARD_DATABASE_URL=db, COURTYARD_BROKER_PORT=str(mqtt_port),
               COURTYARD_DATA_DIR=str(tmp / "cloud"), COURTYARD_HTTP_PORT=str(http_port),
               COURTYARD_SITE_CREDENTIALS=",".join(f"{s}:{SECRET}" for s in sites),
               COURTYARD_LOG_LEVEL="warning")
    log = tmp / "cloud.log"
    proc = subprocess.Popen([sys.executable, "-m", "courtyard", "cloud", "serve", "--workers",
                             str(workers)], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not (port_open("127.0.0.1", http_port) and port_open("127.0.0.1", mqtt_port)):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"console did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield http_port, mqtt_port
    finally:
        proc.terminate()
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- (a) the read API --------------------------------------------------------------------------


def _path(units: list[int], rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.25:
        return f"/api/units?site={API_SITE}&limit=50&after_id={rng.choice(units) - 1}"
    if pick < 0.45:
        return f"/api/units/{rng.choice(units)}"
    if pick < 0.60:
        return f"/api/owners?site={API_SITE}&limit=50&after_id={rng.choice(units) - 1}"
    if pick < 0.70:
        return f"/api/bills?site={API_SITE}&limit=50"
    if pick < 0.85:  # a later page: the cursor of a bill somewhere in the list
        return f"/api/bills?site={API_SITE}&limit=50&after={encode_cursor([rng.choice(units)])}"
    if pick < 0.95:
        return f"/api/alarms?site={API_SITE}&limit=50"
    return "/api/sites"


async def _api(fig: Figures, base: str, token: str, units: list[int], s: Sizes,
               cpu: PgCpu) -> None:
    rng = random.Random(16)
    async with aiohttp.ClientSession(
            base, headers={"Authorization": f"Bearer {token}"},
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=10)) as http:
        for _ in range(100):  # warm every worker's pools
            async with http.get(_path(units, rng)) as r:
                await r.read()

        cpu.take(1.0)
        load = await offer(http, lambda: _path(units, rng), s.api_rate, s.api_seconds)
    ours, every = cpu.take(load.wall)
    rate = f"@{s.api_rate:.0f}"
    fig.add(f"{rate} req/s offered, {s.workers} workers: requests",
            f"{load.requests:,} in {load.wall:.1f} s")
    fig.add(f"{rate} statuses (0 = client timeout)",
            ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses.items())), "all 200")
    fig.add(f"{rate} latency p50", f"{load.quantile_ms(50):.1f} ms")
    fig.add(f"{rate} latency p99", f"{load.quantile_ms(99):.1f} ms", "< 50 ms")
    fig.add(f"{rate} latency max", f"{max(load.latencies) * 1000:.1f} ms")
    fig.add(f"{rate} PostgreSQL CPU (ours / all)", f"{ours:.0f} % / {every:.0f} %")


# -- (b) live ingest, (c) a backlog ----------------------------------------------------------


async def _produce(boxes: list[AsyncOutbox], rate: float, seconds: float, start: int) -> int:
    """``rate`` events/s over all sites for ``seconds``, in 50 ms batches per site."""
    per_tick = max(1, int(rate * 0.05 / len(boxes)))
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        for box in boxes:
            await box.append_many([reading(start + n + i) for i in range(per_tick)])
            n += per_tick
        delay = t0 + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return n


async def _drained(boxes: list[AsyncOutbox], within: float) -> None:
    marks = [await b.high_water() for b in boxes]
    t0 = time.monotonic()
    while True:
        acked = [await b.acked() for b in boxes]
        if all(a >= m for a, m in zip(acked, marks, strict=True)):
            return
        if time.monotonic() - t0 > within:
            raise RuntimeError(f"not drained within {within:.0f} s: {acked} of {marks}")
        await asyncio.sleep(0.1)


async def _ingest(fig: Figures, broker: str, tmp: Path, sites: list[str], s: Sizes,
                  cpu: PgCpu) -> None:
    boxes = [await AsyncOutbox.open(tmp / site / "outbox.db") for site in sites]

    def uplinks() -> list[asyncio.Task[None]]:
        return [asyncio.create_task(Uplink(
            UplinkSettings(site=site, mqtt_url=broker, username=site, password=SECRET,
                           replay_rate=1e9, ack_timeout=60.0), box, SystemClock()).run())
            for site, box in zip(sites, boxes, strict=True)]

    async def stop(tasks: list[asyncio.Task[None]]) -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        # (b) sustained live load
        tasks = uplinks()
        await asyncio.sleep(2)  # the uplinks connect (an edge does this before its events)
        acked0 = sum([await b.acked() for b in boxes])
        cpu.take(1.0)
        t0 = time.monotonic()
        produced = await _produce(boxes, s.live_rate, s.live_seconds, 0)
        live_s = time.monotonic() - t0
        during = sum([await b.acked() for b in boxes]) - acked0
        await _drained(boxes, 600)
        total_s = time.monotonic() - t0
        ours, every = cpu.take(total_s)
        await stop(tasks)
        fig.add(f"live: offered over {len(sites)} sites for {s.live_seconds:.0f} s",
                f"{produced / live_s:,.0f} ev/s")
        fig.add("live: acked while the load ran", f"{during / live_s:,.0f} ev/s",
                "≥ 10,000 ev/s")
        fig.add("live: delivered incl. catch-up", f"{produced / total_s:,.0f} ev/s")
        fig.add("live: PostgreSQL CPU (ours / all)", f"{ours:.0f} % / {every:.0f} %")

        # (c) a backlog queued while the uplinks were away, then drained
        t_fill = time.monotonic()
        per_site = s.backlog // len(boxes)
        for k, box in enumerate(boxes):
            for i in range(0, per_site, 5000):
                base = produced + k * per_site + i
                await box.append_many([reading(base + j)
                                       for j in range(min(5000, per_site - i))])
        fig.add(f"backlog queued in the outboxes ({per_site * len(boxes):,})",
                f"{time.monotonic() - t_fill:,.0f} s")
        cpu.take(1.0)
        t0 = time.monotonic()
        tasks = uplinks()
        await _drained(boxes, 3600)
        drain_s = time.monotonic() - t0
        ours, every = cpu.take(drain_s)
        await stop(tasks)
        fig.add("backlog drained", f"{per_site * len(boxes) / drain_s:,.0f} ev/s",
                "≥ 12,000 ev/s")
        fig.add("  time to drain", f"{drain_s:,.1f} s")
        fig.add("backlog: PostgreSQL CPU (ours / all)", f"{ours:.0f} % / {every:.0f} %")
    finally:
        for box in boxes:
            await box.aclose()


def run_sized(s: Sizes) -> Figures:
    fig = header(f"scale: `courtyard cloud serve --workers {s.workers}` (PostgreSQL, managed "
                 "Mosquitto, ACL on)")
    sites = [f"scale-{i}" for i in range(s.sites)]
    with tempfile.TemporaryDirectory() as d, fresh_pg_database() as db:
        tmp = Path(d)
        token, units = asyncio.run(seed_api(db))
        cpu = PgCpu(db.rsplit("/", 1)[1].split("?")[0])
        with console(db, tmp, s.workers, sites) as (http_port, mqtt_port):
            asyncio.run(_api(fig, f"http://127.0.0.1:{http_port}", token, units, s, cpu))
            asyncio.run(_ingest(fig, f"mqtt://127.0.0.1:{mqtt_port}", tmp, sites, s, cpu))
    return fig


def run(quick: bool = False) -> Figures:
    return run_sized(QUICK if quick else Sizes())
