"""The console process of the cockpit benchmark: the web app (``create_app``, real middleware,
the alarm hub, the cockpit's live feed) on an aiohttp runner, and an ingest task feeding the
real ``Ingestor`` — one process, as ``courtyard cloud serve`` runs them.

Talks to the benchmark over a pipe: sends ``("ready", port)``; on ``("ingest", rate, seconds,
batch)`` ingests and answers a report; on ``("stop",)`` stops and answers ``("profile",
text)`` (the top functions when run under cProfile, else "").
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import time
from typing import Any

import structlog
from aiohttp import web

from benchmarks.cockpit_fill import EdgeLoad, Layout, utc_now
from cloud.alarms.routes import configure_alarms
from cloud.app import REGISTRY, create_app
from cloud.db.engine import make_engine, session_factory
from cloud.ingest import Ingestor
from cloud.settings import Settings
from contract import SystemClock
from tests.support.services import free_port

log = structlog.get_logger(__name__)

#: Batches stored at once (the ingest worker's ``store_concurrency`` on PostgreSQL).
STORE_CONCURRENCY = 4
#: How long the ingest may run past its schedule before the rest is given up.
DRAIN_S = 30.0
LAG_TICK_S = 0.01


def serve_console(url: str, layout: Layout, conn: Any, profile: str | None,
                  serve_web: bool = True) -> None:
    """The child process's entry point; without ``serve_web`` only the ingest runs (a
    separate ingest worker process, as ``COURTYARD_INGEST_SHARED`` deployments have)."""
    from edge.log import configure_logging

    configure_logging(level="error")  # alarm.opened is a warning: thousands of lines
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    try:
        asyncio.run(_main(url, layout, conn, serve_web))
    finally:
        text = ""
        if prof is not None and profile:
            prof.disable()
            prof.dump_stats(profile)
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(40)
            out2 = io.StringIO()
            pstats.Stats(prof, stream=out2).sort_stats("tottime").print_stats(25)
            text = out.getvalue()[-12000:] + out2.getvalue()[-8000:]
        conn.send(("profile", text))


def _watch_slow_callbacks() -> None:
    """With ``COURTYARD_BENCH_SLOW_MS`` set, asyncio's debug mode names every callback that
    held the loop longer than that many ms (on stderr): what a loop-lag spike was."""
    slow_ms = os.environ.get("COURTYARD_BENCH_SLOW_MS")
    if not slow_ms:
        return
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = float(slow_ms) / 1000
    handler = logging.StreamHandler(sys.stderr)
    aio = logging.getLogger("asyncio")
    aio.addHandler(handler)
    aio.setLevel(logging.WARNING)
    aio.propagate = False


async def _main(url: str, layout: Layout, conn: Any, serve_web: bool) -> None:
    _watch_slow_callbacks()
    engine = make_engine(url)
    sessions = session_factory(engine)
    clock = SystemClock()
    # As `courtyard cloud serve` runs it (COURTYARD_COCKPIT_SHARE_MS defaults to 1000).
    app = create_app(Settings(database_url=url, cockpit_share_ms=1000), sessions, clock)
    configure_alarms(app)
    ingestor = Ingestor(sessions, clock, app[REGISTRY])
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    port = 0
    if serve_web:
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        conn.send(("ready", port))
        while True:
            msg = await asyncio.to_thread(conn.recv)
            if msg[0] == "stop":
                return
            _, rate, seconds, batch = msg
            conn.send(await ingest(ingestor, EdgeLoad(layout), rate, seconds, batch))
    finally:
        if serve_web:
            await runner.cleanup()
        await engine.dispose()


async def ingest(ingestor: Ingestor, load: EdgeLoad, rate: float, seconds: float,
                 batch: int) -> dict[str, Any]:
    """``rate`` events/s for ``seconds`` in batches of ``batch`` (one site each, round robin),
    at most ``STORE_CONCURRENCY`` being stored; what was committed and how fast."""
    interval = batch / rate
    n_batches = max(1, round(seconds * rate / batch))
    gate = asyncio.Semaphore(STORE_CONCURRENCY)
    times: list[float] = []
    counts = {"events": 0, "offered": 0, "errors": 0}
    tasks: set[asyncio.Task[None]] = set()

    async def store(topic: str, payload: bytes, n: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            try:
                result = await ingestor.handle(topic, payload)
            except Exception:
                counts["errors"] += 1
                log.exception("bench.ingest_failed", topic=topic)
                return
            times.append(time.perf_counter() - t0)
            if result.ok:
                counts["events"] += n
            else:
                counts["errors"] += 1
                log.warning("bench.ingest_refused", topic=topic, result=repr(result)[:300])

    lags: list[float] = []
    watch = asyncio.create_task(_loop_lag(lags))
    start = time.perf_counter()
    lag = 0.0
    for i in range(n_batches):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(0.0, -delay)
        topic, payload = load.batch(i % len(load.sites), batch, utc_now())
        counts["offered"] += batch
        t = asyncio.create_task(store(topic, payload, batch))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=DRAIN_S)
    wall = time.perf_counter() - start
    watch.cancel()
    for t in list(tasks):
        t.cancel()
    times.sort()
    lags.sort()
    return {
        **counts, "wall_s": wall, "lag_s": lag, "batches": len(times), "kinds": load.kinds,
        "p50": statistics.median(times) if times else float("nan"),
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))] if times else float("nan"),
        "loop_lag_p50": statistics.median(lags) if lags else float("nan"),
        "loop_lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else 0.0,
        "loop_lag_max": lags[-1] if lags else 0.0,
    }


async def _loop_lag(out: list[float], every: float = LAG_TICK_S) -> None:
    """How late the console's event loop runs a timer (every ``every`` s): the wait each of
    a request's awaits may add while ingest and the live feed hold the loop."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        out.append(time.perf_counter() - t0 - every)
