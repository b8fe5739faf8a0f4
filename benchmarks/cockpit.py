"""The cockpit under load (issue 15): ``/api/cockpit/company`` and a site view with p99 < 100 ms
while 20 cockpits are connected and 500 events/s are ingested, over 50 sites × 100 devices with
30 days of hourly rollups.

A fresh PostgreSQL database (``COURTYARD_BENCH_PG_URL``, else ``COURTYARD_TEST_PG_URL``) is
made, migrated and filled (``cockpit_fill``: records, devices, open alarms and work orders, and
the rollups bulk-inserted straight into ``cockpit_hourly``), then dropped.

The console runs in a child process (``cockpit_console``): the app of ``cloud.app.create_app``
with its real middleware on an aiohttp runner, and beside it, as in ``courtyard cloud serve``,
an ingest task that hands the edges' batches (~50 events, one site each, round robin) to the
real ``Ingestor`` at ``--rate`` events/s with at most 4 batches in flight (the worker's store
concurrency). This process is the viewers: ``--cockpits`` WebSocket cockpits (half on
different sites, half on the company view) counting what they receive, and one closed loop
each on the company view and on the site views (rotating over the sites), timing every answer.
The console's CPU and RSS are read from /proc. ``--profile FILE`` runs the console under
cProfile and prints where its time went.

``python -m benchmarks cockpit [--sites 50] [--devices 100] [--days 30] [--cockpits 20]
[--rate 500] [--seconds 60] [--profile FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.cockpit_fill import (
    Layout,
    admin_token,
    fill_records,
    fill_rollups,
    fresh_database,
    utc_now,
)
from benchmarks.common import Figures, header, proc_cpu_rss
from cloud.db.engine import make_engine, migrate, session_factory

TARGET_P99_MS = 100.0
#: Times each panel is computed alone after the load, for the breakdown.
PANEL_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class Options:
    sites: int = 50
    devices: int = 100
    days: int = 30
    cockpits: int = 20
    rate: float = 500.0
    seconds: float = 60.0
    batch: int = 50
    profile: str | None = None
    #: Ingest in a process of its own (a separate ingest worker) instead of the console's.
    ingest_apart: bool = False


@dataclass
class Loop:
    """One closed request loop: latencies (s) and statuses."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def q(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(p) - 1]


async def panel_costs(url: str, slug: str,
                      rounds: int) -> dict[str, tuple[float, float, int]]:
    """Each panel's compute time on site ``slug`` and the company view's, alone (no other
    load), ``rounds`` times each: ``{name: (median s, max s, SQL statements)}`` — where a
    view's time goes."""
    from sqlalchemy import event, select

    from cloud.cockpit.panels.load import load_panels
    from cloud.cockpit.panels.registry import panels
    from cloud.cockpit.views import company_view, context
    from cloud.db.models import Site

    load_panels()
    engine = make_engine(url)
    sessions = session_factory(engine)
    out: dict[str, tuple[float, float, int]] = {}
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for name in [*(p.name for p in panels()), "company view"]:
            times = []
            statements[0] = 0
            for _ in range(rounds):
                async with sessions() as s:  # a fresh session each time, as a request has
                    sites = (await s.scalars(select(Site).order_by(Site.slug))).all()
                    now = utc_now()
                    t0 = time.perf_counter()
                    if name == "company view":
                        await company_view(s, sites, now)
                    else:
                        site = next(x for x in sites if x.slug == slug)
                        spec = next(p for p in panels() if p.name == name)
                        await spec.compute(context(s, site, now))
                    times.append(time.perf_counter() - t0)
            out[name] = (statistics.median(times), max(times),
                         (statements[0] - rounds) // rounds)  # less the sites' SELECT
    finally:
        await engine.dispose()
    return out


@dataclass
class Result:
    """What one run measured (the smoke test reads it)."""

    fill_s: float = 0.0
    rollup_rows: int = 0
    company: Loop = field(default_factory=Loop)
    site: Loop = field(default_factory=Loop)
    #: The same loops before the load (cockpits connected, nothing ingested): the baseline.
    idle_company: Loop = field(default_factory=Loop)
    idle_site: Loop = field(default_factory=Loop)
    #: Frames received by type, per cockpit: the first ``site_cockpits`` are site views.
    cockpit_messages: list[Counter[str]] = field(default_factory=list)
    site_cockpits: int = 0
    ingest: dict[str, Any] = field(default_factory=dict)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_start: int = 0
    rss_max: int = 0
    load_avg: tuple[float, float] = (0.0, 0.0)
    ingest_cpu_s: float = 0.0
    panels: dict[str, tuple[float, float, int]] = field(default_factory=dict)


def admin_url() -> str:
    return (os.environ.get("COURTYARD_BENCH_PG_URL") or os.environ.get("COURTYARD_TEST_PG_URL")
            or "postgresql://postgres@127.0.0.1:5432/postgres")


async def _fill(url: str, layout: Layout, days: int) -> tuple[str, float, int]:
    await migrate(url)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        now = utc_now()
        async with session_factory(engine)() as s, s.begin():
            ids = await fill_records(s, layout, now)
            token = await admin_token(s, now)
        rows = await fill_rollups(url, sorted(ids.values()), now, days)
        return token, time.perf_counter() - t0, rows
    finally:
        await engine.dispose()


async def _cockpit(http: aiohttp.ClientSession, path: str, seen: Counter[str],
                   ready: asyncio.Event) -> None:
    """One wall screen: connect, then count every frame by its ``type`` until cancelled; a
    refused or dropped connection is counted (``refused`` / ``closed``), not retried."""
    try:
        async with http.ws_connect(path, heartbeat=None, timeout=aiohttp.ClientWSTimeout(
                ws_close=5)) as ws:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                kind = str(msg.json().get("type", "?"))
                seen[kind] += 1
                if kind == "snapshot":
                    ready.set()
            seen["closed"] += 1
    except aiohttp.WSServerHandshakeError as exc:
        seen[f"refused {exc.status}"] += 1
    finally:
        ready.set()


async def _request_loop(http: aiohttp.ClientSession, paths: list[str], loop: Loop,
                        until: asyncio.Event) -> None:
    i = 0
    while not until.is_set():
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(10):
                async with http.get(paths[i % len(paths)]) as r:
                    await r.read()
                    loop.statuses[r.status] += 1
        except (aiohttp.ClientError, TimeoutError):
            loop.statuses[0] += 1
        loop.latencies.append(time.perf_counter() - t0)
        i += 1


async def _drive(opts: Options, layout: Layout, base: str, token: str, pid: int,
                 conn: Any, res: Result) -> None:
    """The viewers, while the console ingests ``opts.seconds`` of events."""
    slugs = layout.slugs()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        for path in ("/api/cockpit/company", f"/api/cockpit/sites/{slugs[0]}"):
            async with http.get(path) as r:  # warm the pools; a missing API stops here
                if r.status != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status}: {(await r.text())[:300]}")
        site_views = (opts.cockpits + 1) // 2
        views = [f"/api/cockpit/ws?site={slugs[i % len(slugs)]}" for i in range(site_views)]
        views += ["/api/cockpit/ws"] * (opts.cockpits - site_views)
        res.cockpit_messages = [Counter() for _ in views]
        res.site_cockpits = site_views
        readies = [asyncio.Event() for _ in views]
        done = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            screens = [tg.create_task(_cockpit(http, v, c, e))
                       for v, c, e in zip(views, res.cockpit_messages, readies, strict=True)]
            async with asyncio.timeout(30):
                for e in readies:
                    await e.wait()
            idle = asyncio.Event()
            site_paths = [f"/api/cockpit/sites/{s}" for s in slugs]
            baseline = [tg.create_task(_request_loop(http, ["/api/cockpit/company"],
                                                     res.idle_company, idle)),
                        tg.create_task(_request_loop(http, site_paths, res.idle_site, idle))]
            await asyncio.sleep(min(10.0, opts.seconds / 3))
            idle.set()
            await asyncio.gather(*baseline)
            cpu0, res.rss_start = proc_cpu_rss(pid)
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            conn.send(("ingest", opts.rate, opts.seconds, opts.batch))
            report = tg.create_task(asyncio.to_thread(conn.recv))
            loops = [tg.create_task(_request_loop(http, ["/api/cockpit/company"], res.company,
                                                  done)),
                     tg.create_task(_request_loop(http, site_paths, res.site, done))]
            res.rss_max = res.rss_start
            while not report.done():
                await asyncio.wait([report], timeout=1.0)
                res.rss_max = max(res.rss_max, proc_cpu_rss(pid)[1])
            done.set()
            await asyncio.gather(*loops)
            res.wall_s = time.perf_counter() - t0
            res.cpu_s = proc_cpu_rss(pid)[0] - cpu0
            res.load_avg = (load0, os.getloadavg()[0])
            res.ingest = report.result()
            await asyncio.sleep(0.5)  # the last changes reach the screens
            for t in screens:
                t.cancel()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _report(fig: Figures, opts: Options, res: Result) -> None:
    fig.add("fill (records, then rollups site by site)", f"{res.fill_s:.1f} s")
    fig.add("rollup rows (bulk-inserted into cockpit_hourly)", f"{res.rollup_rows:,}")
    for name, loop in (("before the load: company", res.idle_company),
                       ("before the load: site view", res.idle_site)):
        fig.add(f"{name} p50 / p99 ({len(loop.latencies)} req)",
                f"{_ms(loop.q(50))} / {_ms(loop.q(99))}")
    for name, loop in (("/api/cockpit/company", res.company), ("site view", res.site)):
        fig.add(f"{name}: requests (status: count)", f"{len(loop.latencies)} ("
                + ", ".join(f"{k}: {v}" for k, v in sorted(loop.statuses.items())) + ")",
                "all 200")
        fig.add(f"{name}: p50 / p95", f"{_ms(loop.q(50))} / {_ms(loop.q(95))}")
        fig.add(f"{name}: p99 / max", f"{_ms(loop.q(99))} / {_ms(max(loop.latencies))}",
                f"p99 < {TARGET_P99_MS:.0f} ms")
    ing = res.ingest
    fig.add("events ingested (committed) / offered", f"{ing['events']:,} / {ing['offered']:,}")
    fig.add("achieved event rate", f"{ing['events'] / max(ing['wall_s'], 1e-9):.0f} /s",
            f"{opts.rate:.0f} /s")
    fig.add("ingest batch store p50 / p99", f"{_ms(ing['p50'])} / {_ms(ing['p99'])}")
    fig.add("ingest schedule lag at the end", f"{ing['lag_s']:.2f} s", "≈ 0")
    fig.add(f"{'ingest process' if opts.ingest_apart else 'console'} event loop lag "
            "p50 / p99 / max",
            f"{_ms(ing['loop_lag_p50'])} / {_ms(ing['loop_lag_p99'])} / "
            f"{_ms(ing['loop_lag_max'])}")
    if ing.get("errors"):
        fig.add("ingest errors", str(ing["errors"]), "none")
    live = sum(1 for c in res.cockpit_messages if c["snapshot"])
    fig.add("cockpits connected (had their snapshot)", f"{live} / {opts.cockpits}",
            f"{opts.cockpits}")
    per = [sum(c.values()) for c in res.cockpit_messages]
    for name, part in (("site", per[:res.site_cockpits]),
                       ("company", per[res.site_cockpits:])):
        if part:
            fig.add(f"messages per {name} cockpit min / median / max",
                    f"{min(part)} / {statistics.median(part):.0f} / {max(part)}")
    kinds = Counter[str]()
    for c in res.cockpit_messages:
        kinds.update(c)
    fig.add("messages by type (all cockpits)", ", ".join(f"{k}: {v}" for k, v in
                                                         sorted(kinds.items())))
    if opts.ingest_apart:
        fig.add("console CPU (web only)", f"{res.cpu_s / res.wall_s:.2f} cores")
        fig.add("ingest process CPU", f"{res.ingest_cpu_s / res.wall_s:.2f} cores")
    else:
        fig.add("console CPU (web + ingest, one process)",
                f"{res.cpu_s / res.wall_s:.2f} cores")
    fig.add("console RSS start → max", f"{res.rss_start / 2**20:.0f} → "
            f"{res.rss_max / 2**20:.0f} MB")
    fig.add(f"machine load average (1 min), {os.cpu_count()} cores",
            f"{res.load_avg[0]:.1f} → {res.load_avg[1]:.1f}", "shared box: figures noisy"
            if res.load_avg[1] > (os.cpu_count() or 1) else "")
    for name, (med, top, n) in sorted(res.panels.items(), key=lambda kv: -kv[1][0]):
        fig.add(f"  alone after the load: {name} median / max (SQL)",
                f"{_ms(med)} / {_ms(top)} ({n})")


@dataclass
class _Child:
    conn: Any
    pid: int
    port: int
    cpu_s: float = 0.0


@contextlib.asynccontextmanager
async def _child(url: str, layout: Layout, profile: str | None,
                 serve_web: bool) -> AsyncIterator[_Child]:
    """A console process (``cockpit_console.serve_console``), stopped on the way out; with a
    ``profile`` its top functions are printed once it stopped."""
    from benchmarks.cockpit_console import serve_console

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve_console, args=(url, layout, child, profile, serve_web),
                       name="cockpit-console" if serve_web else "cockpit-ingest", daemon=True)
    proc.start()
    try:
        async with asyncio.timeout(60):
            _, port = await asyncio.to_thread(parent.recv)
        handle = _Child(parent, proc.pid or 0, port)
        t0 = proc_cpu_rss(handle.pid)[0]
        yield handle
        handle.cpu_s = proc_cpu_rss(handle.pid)[0] - t0
        parent.send(("stop",))
        async with asyncio.timeout(60):
            _, text = await asyncio.to_thread(parent.recv)
        if text:
            print(text, flush=True)
    except BaseException:
        with contextlib.suppress(OSError):
            parent.send(("stop",))
        raise
    finally:
        await asyncio.to_thread(proc.join, 30)
        if proc.is_alive():
            proc.kill()
            await asyncio.to_thread(proc.join, 10)


def bench(opts: Options) -> tuple[Figures, Result]:
    layout = Layout(opts.sites, opts.devices)
    where = "its own process" if opts.ingest_apart else "the console's process"
    fig = header(f"cockpit: {opts.sites} sites × {opts.devices} devices, {opts.days} days of "
                 f"rollups, {opts.cockpits} cockpits, {opts.rate:g} events/s for "
                 f"{opts.seconds:g} s ingested in {where} (PostgreSQL)")
    res = Result()

    async def main() -> None:
        async with fresh_database(admin_url()) as url:
            token, res.fill_s, res.rollup_rows = await _fill(url, layout, opts.days)
            async with contextlib.AsyncExitStack() as stack:
                console = await stack.enter_async_context(
                    _child(url, layout, opts.profile, serve_web=True))
                ingest = console if not opts.ingest_apart else \
                    await stack.enter_async_context(_child(url, layout, None, serve_web=False))
                await _drive(opts, layout, f"http://127.0.0.1:{console.port}", token,
                             console.pid, ingest.conn, res)
            if ingest is not console:
                res.ingest_cpu_s = ingest.cpu_s  # known once it stopped
            res.panels = await panel_costs(url, layout.slug(0), PANEL_ROUNDS)

    asyncio.run(main())
    _report(fig, opts, res)
    return fig, res


def run(quick: bool = False) -> Figures:
    opts = Options(sites=10, devices=50, days=7, cockpits=6, rate=200, seconds=10) if quick \
        else Options()
    return bench(opts)[0]


def parser() -> argparse.ArgumentParser:
    d = Options()
    p = argparse.ArgumentParser(prog="python -m benchmarks cockpit")
    p.add_argument("--sites", type=int, default=d.sites, help=f"sites (default {d.sites})")
    p.add_argument("--devices", type=int, default=d.devices,
                   help=f"devices per site (default {d.devices})")
    p.add_argument("--days", type=int, default=d.days,
                   help=f"days of hourly rollups (default {d.days})")
    p.add_argument("--cockpits", type=int, default=d.cockpits,
                   help=f"WebSocket cockpits connected (default {d.cockpits})")
    p.add_argument("--rate", type=float, default=d.rate,
                   help=f"events per second ingested (default {d.rate:g})")
    p.add_argument("--seconds", type=float, default=d.seconds,
                   help=f"seconds of load (default {d.seconds:g})")
    p.add_argument("--ingest-apart", action="store_true",
                   help="ingest in a process of its own (a separate ingest worker)")
    p.add_argument("--profile", metavar="FILE", help="run the console under cProfile, "
                   "keep the stats in FILE and print the top functions")
    return p


def run_args(argv: list[str]) -> Figures:
    a = parser().parse_args(argv)
    return bench(Options(sites=a.sites, devices=a.devices, days=a.days, cockpits=a.cockpits,
                         rate=a.rate, seconds=a.seconds, profile=a.profile,
                         ingest_apart=a.ingest_apart))[0]


def main() -> None:
    from edge.log import configure_logging

    configure_logging(level="warning")
    with contextlib.suppress(KeyboardInterrupt):
        run_args(sys.argv[1:])


if __name__ == "__main__":
    main()
