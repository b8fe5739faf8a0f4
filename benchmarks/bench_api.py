"""Read API under a steady 50 and 200 requests/s: latency percentiles of the console's list and get
endpoints, authenticated with an API token, on PostgreSQL.

The console runs as `courtyard cloud serve` in its own process (as in production); the load
is open-loop — requests leave on a fixed schedule whether or not earlier ones have answered —
so a slow console shows as latency, not as a politely lower rate. Each latency is measured
from the request's scheduled departure.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
from sqlalchemy import insert, select

from benchmarks.common import Figures, header
from benchmarks.open_loop import offer
from cloud.auth.tokens import create_token
from cloud.billing.tables import Bill, BillRun
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.records.tables import Building, Resident, Unit
from tests.support.services import free_port, fresh_pg_database, own_mosquitto, port_open

SITE = "bench-api"
#: The issue's rate, and a lower one where one console process keeps up (for a useful p99).
RATES = (50.0, 200.0)
BUILDINGS, UNITS_PER_BUILDING = 20, 100


async def _seed(url: str) -> tuple[str, list[int]]:
    """2,000 units with owners and a month of bills; returns a token and the unit ids."""
    await migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with sessions() as s, s.begin():
            site = Site(slug=SITE, name="读接口压测 / read API bench", timezone="Asia/Shanghai")
            s.add(site)
            await s.flush()
            await s.execute(insert(Building), [
                {"site_id": site.id, "code": str(b + 1), "name": f"{b + 1}栋", "floors": 25,
                 "created_at": now, "updated_at": now} for b in range(BUILDINGS)])
            buildings = (await s.scalars(select(Building.id).where(
                Building.site_id == site.id).order_by(Building.id))).all()
            await s.execute(insert(Unit), [
                {"site_id": site.id, "building_id": bid, "code": f"{b + 1}-{u + 101}",
                 "floor": u // 4 + 1, "area": Decimal("89.50") + u % 7,
                 "inner_area": Decimal("72.10"), "unit_type": "residential",
                 "status": "occupied", "created_at": now, "updated_at": now}
                for b, bid in enumerate(buildings) for u in range(UNITS_PER_BUILDING)])
            units = (await s.scalars(select(Unit.id).where(
                Unit.site_id == site.id).order_by(Unit.id))).all()
            await s.execute(insert(Resident), [
                {"site_id": site.id, "unit_id": uid, "role": "owner", "name": f"业主{uid}",
                 "phone": f"139{uid:08d}", "created_at": now, "updated_at": now}
                for uid in units])
            run = BillRun(site_id=site.id, cycle="monthly", period="2026-10",
                          period_start=datetime(2026, 10, 1).date(),
                          period_end=datetime(2026, 11, 1).date(), state="done",
                          units_total=len(units), units_done=len(units), bills=len(units),
                          held=0, total=Decimal(0), started_by="bench", started_at=now,
                          finished_at=now)
            s.add(run)
            await s.flush()
            await s.execute(insert(Bill), [
                {"site_id": site.id, "run_id": run.id, "unit_id": uid,
                 "number": f"{SITE}-2026-10-{uid}", "cycle": "monthly", "period": "2026-10",
                 "state": "open", "total": Decimal("223.75"), "paid": Decimal(0),
                 "due_date": datetime(2026, 11, 15).date(), "issued_at": now,
                 "created_at": now, "updated_at": now} for uid in units])
            _, secret = await create_token(s, name="bench", role="admin", site_ids=None,
                                           created_by="bench", now=now)
        return secret, list(units)
    finally:
        await engine.dispose()


def _paths(units: list[int], rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.25:
        return f"/api/units?site={SITE}&limit=50&after_id={rng.choice(units) - 1}"
    if pick < 0.45:
        return f"/api/units/{rng.choice(units)}"
    if pick < 0.65:
        return f"/api/owners?site={SITE}&limit=50"
    if pick < 0.85:
        return f"/api/bills?site={SITE}&limit=50"
    if pick < 0.95:
        return f"/api/alarms?site={SITE}"
    return "/api/sites"


async def _load(fig: Figures, base: str, token: str, units: list[int], seconds: float,
                rate: float) -> None:
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector,
                                     timeout=timeout) as http:
        for _ in range(50):  # warm the console's pools
            async with http.get(_paths(units, rng)) as r:
                await r.read()
        load = await offer(http, lambda: _paths(units, rng), rate, seconds)
    ok = load.statuses.get(200, 0)
    fig.add(f"@{rate:.0f} req/s offered: requests", f"{load.requests:,} in {load.wall:.1f} s")
    fig.add(f"@{rate:.0f} answered 200 (0 = client timeout 10 s)",
            ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses.items())), "all 200")
    fig.add(f"@{rate:.0f} served rate", f"{ok / load.wall:.0f} req/s")
    fig.add(f"@{rate:.0f} latency p50", f"{load.quantile_ms(50):.1f} ms")
    fig.add(f"@{rate:.0f} latency p99", f"{load.quantile_ms(99):.1f} ms", "< 100 ms")
    fig.add(f"@{rate:.0f} latency max", f"{max(load.latencies) * 1000:.1f} ms")


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"console did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def run(quick: bool = False) -> Figures:
    fig = header("console read API, open loop (PostgreSQL, API token, one console process)")
    seconds = 10.0 if quick else 30.0
    port = free_port()
    with tempfile.TemporaryDirectory() as d, own_mosquitto() as mosq, \
            fresh_pg_database() as db:
        token, units = asyncio.run(_seed(db))
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
        env.update(COURTYARD_DATABASE_URL=db, COURTYARD_MQTT_URL=mosq.url,
                   COURTYARD_HTTP_PORT=str(port), COURTYARD_LOG_LEVEL="warning")
        log = Path(d) / "cloud.log"
        cloud = subprocess.Popen([sys.executable, "-m", "courtyard", "cloud", "serve"], env=env,
                                 stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            _wait_port(port, cloud, log)
            for rate in RATES:
                asyncio.run(_load(fig, f"http://127.0.0.1:{port}", token, units, seconds,
                                  rate))
                time.sleep(12)  # let a saturated console drain before the next rate
        finally:
            cloud.terminate()
            try:
                cloud.wait(20)
            except subprocess.TimeoutExpired:
                cloud.kill()
    return fig
