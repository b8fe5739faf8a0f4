"""Acceptance: a metered month, meters to bills. Modbus meter simulators (pymodbus over TCP)
for three flats' electricity and water; the real edge daemon polls them into its outbox; its
uplink sends through Mosquitto to the console (``courtyard cloud serve``, a process), whose
ingest stores the readings in PostgreSQL; the month's bill run, started by the site's bill-run
schedule (``/api/schedules``; its slot on the 1st passed while the link was down), bills
each flat exactly what its meters served between the period's boundaries, × the tariff, to the
fen (Decimal; the expected figures come from the simulators, not from the console).

The month passes in jumps of the site's wall clock (tests/support/metered_site.py): the start
boundary (23:50 on the last day before), a meter replaced on the 15th at 10:00 — a new device
whose counter starts from its own initial reading, registered through
``POST /api/meters/{id}/replace`` — and the end boundary (23:59 on the last day) read while
the broker is down: the edge keeps the readings, the boundary reading reaches the console
only after the broker is back, after the period has ended. The product's rule (docs/billing.md
§9): the scheduled run waits until the edge reports its backlog from before the period's end
sent (``cloud/jobs/console/period_data.py``); a run started before would hold the flats whose
boundary reading is missing (``no_reading``), never bill them short.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from cloud.auth.audit import SYSTEM
from cloud.db.engine import make_engine, session_factory
from cloud.jobs.tables import Schedule
from cloud.sample_community import load_community
from tests.support import services
from tests.support.auth import cli_token_headers
from tests.support.metered_site import MeteredSite, WallClock
from tests.support.procs import Part, base_env, get_json, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SITE = "metered"
TZ = ZoneInfo("Asia/Shanghai")
#: device → (Modbus unit id, profile, flat)
DEVICES = {
    "em-1": (1, "eastron_sdm120", "1-101"), "wm-1": (2, "xintai_water", "1-101"),
    "em-2": (3, "chint_ddsu666", "1-102"), "em-2n": (4, "chint_dtsu666", "1-102"),
    "wm-2": (5, "xintai_water", "1-102"),
    "em-3": (6, "eastron_sdm630", "1-103"), "wm-3": (7, "xintai_water", "1-103"),
}
ELEC_TIERS = ((Decimal(200), Decimal("0.5283")), (Decimal(400), Decimal("0.5783")),
              (None, Decimal("0.8283")))
WATER_PRICE = Decimal("3.45")
NEW_INITIAL = Decimal("1.25")  # what the new meter shows when it is fitted


def _period() -> tuple[str, datetime, datetime]:
    """Last month (the one this month's 1st bills): label and its [start, end) in UTC,
    midnights in the site's zone."""
    today = datetime.now(TZ)
    y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    start = datetime(y, m, 1, tzinfo=TZ)
    end = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=TZ)
    return f"{y:04d}-{m:02d}", start.astimezone(UTC), end.astimezone(UTC)


def _site_yaml(tmp: Path, broker: str, tcp_port: int, health_port: int) -> Path:
    devices = "\n".join(
        f"  - {{id: {d}, bus: tcp1, profile: {p}, address: {a}, poll_interval: 0.5, "
        f'unit: "{u}"}}' for d, (a, p, u) in DEVICES.items())
    path = tmp / "site.yaml"
    path.write_text(f"""
site: {{id: {SITE}, name: 抄表验收小区, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "{broker}", username: {SITE}, password: metered-secret}}
edge: {{data_dir: "{tmp / 'edge'}", health_host: 127.0.0.1, health_port: {health_port}}}
buses:
  - {{id: tcp1, type: modbus_tcp, host: 127.0.0.1, port: {tcp_port}, timeout: 1.0,
     retries: 1}}
devices:
{devices}
""", encoding="utf-8")
    return path


def _community() -> dict[str, Any]:
    flats = sorted({u for _, _, u in DEVICES.values()})
    return {
        "site": {"slug": SITE, "name": "抄表验收小区", "timezone": "Asia/Shanghai"},
        "buildings": [{"code": "B1", "name": "1号楼"}],
        "units": [{"code": u, "building": "B1", "area": "90.00", "type": "residential"}
                  for u in flats],
        "fee_items": [
            {"code": "ELEC", "name": "电费", "kind": "metered", "cycle": "monthly",
             "due_days": 15, "rule": {"utility": "electricity", "tiers": [
                 {"upto": None if upto is None else str(upto), "price": str(price)}
                 for upto, price in ELEC_TIERS]}},
            {"code": "WATER", "name": "水费", "kind": "metered", "cycle": "monthly",
             "due_days": 15, "rule": {"utility": "water", "price": str(WATER_PRICE)}}],
        # the billing meters name no register: each utility's default, what the profiles send
        "meters": [{"code": f"{'E' if d.startswith('em') else 'W'}-{u}",
                    "utility": "electricity" if d.startswith("em") else "water",
                    "unit": u, "device": d}
                   for d, (_, _, u) in DEVICES.items() if d != "em-2n"],
    }


async def _slot_missed(pg_url: str, schedule_id: int, slot: datetime) -> None:
    """The console was not running at the schedule's slot: it is still due."""
    engine = make_engine(pg_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(update(Schedule).where(Schedule.id == schedule_id)
                                  .values(next_due=slot))
    finally:
        await engine.dispose()


async def _load(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_community(session, _community(), SYSTEM, datetime.now(UTC))
    finally:
        await engine.dispose()


def _send(method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                 headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _get(url: str, headers: dict[str, str]) -> Any:
    """The JSON at ``url``, which must answer."""
    body = get_json(url, 30, headers=headers)
    assert body is not None, f"no answer from {url}"
    return body


def _fen(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _electricity(q: Decimal) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    out: list[tuple[str, Decimal, Decimal, Decimal]] = []
    below = Decimal(0)
    for upto, price in ELEC_TIERS:
        part = (q if upto is None else min(q, upto)) - below
        if part > 0 or not out:
            out.append(("ELEC", max(part, Decimal(0)), price, _fen(max(part, Decimal(0))
                                                                   * price)))
        if upto is None or q <= upto:
            break
        below = upto
    return out


def _lines(kwh: Decimal, m3: Decimal) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """A flat's bill lines: electricity by tier, then water."""
    return [*_electricity(kwh), ("WATER", m3, WATER_PRICE, _fen(m3 * WATER_PRICE))]


@pytest.fixture
def cloud_env(tmp_path: Path, pg_url: str, mosquitto: services.Mosquitto
              ) -> Iterator[tuple[Part, dict[str, str], str]]:
    port = services.free_port()
    env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=mosquitto.url,
                   COURTYARD_HTTP_PORT=str(port))
    cloud = Part("cloud", ["cloud", "serve"], env, tmp_path)
    cloud.start()
    api = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get_json(f"{api}/healthz"), 60, "cloud /healthz", [cloud])
        yield cloud, env, api
    finally:
        if cloud.alive():
            cloud.stop()


def test_a_metered_month_bills_what_the_meters_served(
        tmp_path: Path, pg_url: str, mosquitto: services.Mosquitto,
        cloud_env: tuple[Part, dict[str, str], str]) -> None:
    cloud, env, api = cloud_env
    label, start, end = _period()
    auth = cli_token_headers(env)
    asyncio.run(_load(pg_url))
    clock = WallClock(start - timedelta(minutes=10))
    site = MeteredSite(_site_yaml(tmp_path, mosquitto.url, services.free_port(),
                                  services.free_port()), clock,
                       {d: a for d, (a, _, _) in DEVICES.items()})
    parts = [cloud]

    def at_console(at: datetime, devices: Any = DEVICES) -> bool:
        since = at.isoformat().replace("+00:00", "Z")
        until = (at + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        for d in devices:
            page = get_json(f"{api}/api/devices/{d}/readings?site={SITE}&since={since}"
                            f"&until={until}", headers=auth)
            if not page or not page["readings"]:
                return False
        return True

    site.start_and_wait()
    try:
        # 1. The start boundary: 23:50 on the day before the period.
        t_start = start - timedelta(minutes=10)
        first = site.jump(t_start)
        wait_until(lambda: at_console(t_start), 30, "start readings at the console", parts)

        # 2. The 15th, 10:00: em-2 comes off at its final reading, em-2n goes on showing 1.25.
        t_swap = start + timedelta(days=14, hours=10)
        swap = site.jump(t_swap, {"em-2n": NEW_INITIAL})
        wait_until(lambda: at_console(t_swap, ["em-2", "em-2n"]), 30, "swap readings", parts)
        meters = _get(f"{api}/api/meters?site={SITE}&q=E-1-102", auth)
        (old,) = [m for m in meters["meters"] if m["code"] == "E-1-102"]
        done = _send("POST", f"{api}/api/meters/{old['id']}/replace", {
            "final_reading": str(swap["em-2"]), "at": t_swap.isoformat(),
            "code": "E-1-102N", "initial_reading": str(NEW_INITIAL),
            "device_key": "em-2n"}, auth)
        assert done["new"]["register"] == "energy_import_kwh"

        # 3. 23:40 on the last day, all delivered; then the broker goes down until after the
        #    period: the end readings (23:59) and the next day's wait in the edge's outbox.
        t_late = end - timedelta(minutes=20)
        site.jump(t_late)
        wait_until(lambda: at_console(t_late), 30, "readings before the outage", parts)
        mosquitto.stop()
        t_end = end - timedelta(minutes=1)
        last = site.jump(t_end)
        wait_until(lambda: site.outbox_readings_at(t_end) >= set(DEVICES), 30,
                   "the end readings buffered at the edge", parts)
        # the next day's first hour (or now, in the first hour of a month: never ahead of
        # the console's own clock)
        t_after = min(end + timedelta(hours=1), datetime.now(UTC) - timedelta(seconds=5))
        site.jump(t_after)
        wait_until(lambda: site.outbox_readings_at(t_after) >= set(DEVICES), 30,
                   "the next day's readings buffered at the edge", parts)
        assert not at_console(t_end, ["em-1"]), "the boundary reading came through the outage"

        # 4. The bill-run schedule's slot (the 1st, 00:00) passed during the outage: its job
        #    waits while the edge's last report predates the period's end.
        schedule = _send("POST", f"{api}/api/schedules", {
            "site": SITE, "kind": "bill_run",
            "spec": {"time": "00:00", "day_of_month": 1, "cycle": "monthly"}}, auth)
        asyncio.run(_slot_missed(pg_url, schedule["id"], end))

        def bill_job() -> dict[str, Any] | None:
            jobs = (get_json(f"{api}/api/jobs?site={SITE}&kind=bill_run", headers=auth)
                    or {}).get("jobs") or []
            return jobs[0] if jobs else None

        wait_until(lambda: (bill_job() or {}).get("progress"), 60,
                   "the scheduled run's job", parts)
        job = bill_job()
        assert job is not None and job["progress"].get("waiting") == "edge_backlog", repr(job)

        # 5. The broker is back: the backlog arrives late. The run starts once the edge
        #    reports (its health, at the console) that nothing from before the period's end
        #    is still unsent — and then the late boundary readings are there.
        mosquitto.start()

        def backlog_in() -> bool:
            edge = (get_json(f"{api}/api/sites/{SITE}/devices", headers=auth) or {}).get("edge")
            if not edge or datetime.fromisoformat(edge["edge_ts"]) < t_after:
                return False
            oldest = edge["oldest_age_s"]
            return oldest is None or oldest < (t_after - end).total_seconds()

        wait_until(backlog_in, 60, "the edge's backlog from before the period's end sent", parts)
        assert at_console(t_end), "the edge reported its backlog sent, the readings are not in"
        wait_until(lambda: (bill_job() or {}).get("state") == "done", 90,
                   "the scheduled bill run", parts)
        job = bill_job()
        assert job is not None and job["progress"]["period"] == label, job
        run = _get(f"{api}/api/bill-runs/{job['progress']['run_id']}", auth)
        assert run["state"] == "done" and (run["bills"], run["held"]) == (3, 0), run

        used = {d: last[d] - first[d] for d in DEVICES if d not in ("em-2", "em-2n")}
        used["em-2"] = swap["em-2"] - first["em-2"] + last["em-2n"] - NEW_INITIAL
        expected = {flat: _lines(used[e], used[w]) for flat, e, w in (
            ("1-101", "em-1", "wm-1"), ("1-102", "em-2", "wm-2"), ("1-103", "em-3", "wm-3"))}
        page = _get(f"{api}/api/bills?site={SITE}&period={label}&limit=100", auth)
        assert {b["unit"] for b in page["bills"]} == set(expected)
        for b in page["bills"]:
            bill = _get(f"{api}/api/bills/{b['id']}", auth)
            got = [(ln["fee_code"], Decimal(ln["quantity"]), Decimal(ln["unit_price"]),
                    Decimal(ln["amount"])) for ln in bill["lines"]]
            assert got == expected[b["unit"]], (b["unit"], got, expected[b["unit"]])
            assert Decimal(bill["total"]) == sum(x[3] for x in expected[b["unit"]])
        # every flat used something, and the swap is billed as two segments
        assert all(q > 0 for q in used.values()), used
        (bill_2,) = [b["id"] for b in page["bills"] if b["unit"] == "1-102"]
        segments = _get(f"{api}/api/bills/{bill_2}", auth)["lines"][0]["source"]["segments"]
        assert [(s["meter"], Decimal(s["start"]), Decimal(s["end"])) for s in segments] == [
            ("E-1-102", first["em-2"], swap["em-2"]), ("E-1-102N", NEW_INITIAL, last["em-2n"])]
    finally:
        site.stop()
