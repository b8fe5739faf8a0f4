"""Acceptance (issue 14): a patrol day end to end, with real processes and parts.

The console (``courtyard cloud serve``, PostgreSQL) and the edge daemon (``courtyard edge
run``) run as processes; the edge talks to the cloud over a Mosquitto with per-site logins and
the production ACL, and listens to its receivers on a second, site-local Mosquitto. Simulated
guards (``simulators.patrol``) walk past OpenMQTTGateway and ESPresense receivers that publish
realistic adverts (RSSI with distance and noise, lost packets) to the site broker.

The scripted day, every plan set up through the console API:

- A: a perfect round a1 → a2 → a3 completes, every checkpoint on time;
- B: b1 → b2 → b3 with b2 skipped and b3 reached late: ``patrol.checkpoint_missed`` for b2
  is on the guard board within 10 s of its deadline;
- C: c1 → c2 with c2 skipped while the cloud broker is down: the edge raises the alarm at
  the deadline on its own (outbox, /healthz) and the board has it once the broker is back;
- D: a round nobody starts: ``patrol.round_missed``;
- a cloned tag heard a kilometre apart within seconds: ``patrol.tag_cloned`` on the board.

The day's report then shows the figures computed by hand (module constants below).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import update

from cloud.db.engine import make_engine
from cloud.db.models import Site
from edge.app import OUTBOX_FILE
from simulators.patrol.run import PatrolOptions, load_patrol, run_patrol
from tests.support import services
from tests.support.access_site import Console, health, until
from tests.support.auth import cli_token_headers
from tests.support.patrol_site import (
    RECEIVERS,
    SECRET,
    SITE,
    midday_zone,
    plan_body,
    site_yaml,
)
from tests.support.procs import REPO, Part, base_env

pytestmark = pytest.mark.slow

CLOUD_USER, CLOUD_PASSWORD = "courtyard-cloud", "cloud-broker-secret-0001"
GUARDS = {"g1": "张一", "g2": "王二", "g3": "李三", "g4": "赵四"}
#: iBeacon tags of the four guards (PROTOCOLS.md vector 6's UUID, majors 14, minors 1…4).
UUID = "426c7565-4368-6172-6d42-6561636f6e73"
TAGS = {g: f"{UUID}:14:{n}" for n, g in enumerate(GUARDS, start=1)}
WALK_MPS, STAY_S = 2.0, 6.0
LEAD_S = 60  # from the end of the set-up to the rounds' start: the edge starts and pulls
#: The guards reach their first checkpoint this long before the rounds' scheduled start (a
#: round may start up to its start window early): every visit has seconds to spare on a
#: loaded machine.
EARLY_S = 8

# The report, by hand: A complete (3 on time); B incomplete (b1 on time, b2 missed, b3 late);
# C incomplete (c1 on time, c2 missed); D missed (its one checkpoint missed).
EXPECTED_DAY = {"rounds_planned": 4, "rounds_completed": 1, "rounds_incomplete": 2,
                "rounds_missed": 1, "completion_rate": "25.00", "checkpoints_due": 9,
                "on_time": 5, "late": 1, "missed": 3, "on_time_rate": "55.56"}


@pytest.fixture
def cloud_broker() -> Iterator[services.Mosquitto]:
    from cloud.mosquitto_acl import acl_text

    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, SITE: SECRET},
                                acl=acl_text([CLOUD_USER])) as m:
        yield m


@pytest.fixture
def site_broker() -> Iterator[services.Mosquitto]:
    with services.own_mosquitto(persistence=False) as m:
        yield m


def _outbox(data_dir: Path, kind: str) -> list[dict[str, Any]]:
    with sqlite3.connect(data_dir / OUTBOX_FILE) as db:
        rows = db.execute("SELECT data FROM events WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(d) for (d,) in rows.fetchall()]


def _create_guards(env: dict[str, str]) -> None:
    for login, name in GUARDS.items():
        subprocess.run([sys.executable, "-m", "courtyard", "cloud", "user", "create",
                        "--username", login, "--role", "guard", "--display-name", name,
                        "--site", SITE, "--password-stdin"], input="guard-password-0001\n",
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
                       check=True)


async def _set_zone(db_url: str, tz: ZoneInfo) -> None:
    """The site's zone in the console's register, as an installer's import would set it."""
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(Site).where(Site.slug == SITE).values(timezone=tz.key))
    finally:
        await engine.dispose()


async def _set_up(api: Console, start: datetime, tz: ZoneInfo) -> dict[str, datetime]:
    """Checkpoints, routes, plans and tags; the deadlines the test waits on."""
    p = f"/api/sites/{SITE}/patrol"
    for r in RECEIVERS:
        if r.id.startswith("x-"):
            continue  # the cloned tag's receivers guard no checkpoint
        await api.post(f"{p}/checkpoints", {"code": f"cp-{r.id}", "name": f"巡更点 {r.id}",
                                             "building": r.id[0].upper(), "receiver": r.id})
    routes = {"ra": [("a1", 0), ("a2", 25), ("a3", 50)],
              "rb": [("b1", 0), ("b2", 20), ("b3", 20)],
              "rc": [("c1", 0), ("c2", 20)], "rd": [("d1", 0)]}
    for code, points in routes.items():
        await api.post(f"{p}/routes", {"code": code, "name": f"路线 {code}", "ordered": True,
                                       "points": [{"checkpoint": f"cp-{c}", "offset_s": o}
                                                  for c, o in points]})
    c_start = start + timedelta(seconds=70)
    # The walks (2 m/s, 6 s at each receiver, first stay from start − 8 s) reach a1/b1 at
    # about −5, a2 at +16, a3 at +37, b3 (after the detour round b2) at +37, c1 at c_start − 5.
    plans = [plan_body("pa", "ra", start, tz),
             # b3 is due at +20 with 5 s of tolerance and 30 s late allowance: reached at
             # about +37 it is late (late until +55); b2's deadline is +20 + 10 + 30 = +60.
             {**plan_body("pb", "rb", start, tz, late_s=30), "tolerances": {"cp-b3": 5}},
             plan_body("pc", "rc", c_start, tz), plan_body("pd", "rd", start, tz, window_s=20)]
    for body in plans:
        await api.post(f"{p}/plans", body)
    for login in GUARDS:
        await api.post(f"{p}/tags", {"tag": TAGS[login].replace(":", " "), "guard": login,
                                     "label": f"巡更棒 {login}"})
    return {"b2": start + timedelta(seconds=60), "c2": c_start + timedelta(seconds=40)}


async def _alarm(api: Console, kind: str, text: str) -> dict[str, Any] | None:
    page = await api.get(f"/api/alarms?site={SITE}&limit=200")
    for alarm in page["alarms"]:
        if alarm["kind"] == kind and text in json.dumps(alarm, ensure_ascii=False):
            return dict(alarm)
    return None


async def _walk(spec: Any, route: tuple[str, ...], login: str, at: datetime,
                scenario: tuple[str, ...] = ("perfect",)) -> None:
    """One guard's walk, his first stay beginning at ``at`` (wall time)."""
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() - 1.0))
    opts = PatrolOptions(scenario=scenario, route=route, tags=(TAGS[login],),
                         guard=GUARDS[login], start_after_s=1.0, speedup=1.0, seed=len(route),
                         speed_mps=WALK_MPS, stay_s=STAY_S)
    await run_patrol(spec, opts, site=SITE, say=lambda _line: None)


async def test_a_patrol_day_end_to_end(tmp_path: Path, pg_url: str,
                                       cloud_broker: services.Mosquitto,
                                       site_broker: services.Mosquitto) -> None:
    began = time.monotonic()
    http_port, health_port = services.free_port(), services.free_port()
    env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=cloud_broker.url,
                   COURTYARD_MQTT_USERNAME=CLOUD_USER, COURTYARD_MQTT_PASSWORD=CLOUD_PASSWORD,
                   COURTYARD_SITE_CREDENTIALS=f"{SITE}:{SECRET}",
                   COURTYARD_HTTP_PORT=str(http_port), COURTYARD_DATA_DIR=str(tmp_path / "cloud"))
    cloud = Part("cloud", ["cloud", "serve"], env, tmp_path)
    parts: tuple[Part, ...] = (cloud,)
    # The site keeps a zone where it is about noon (in its YAML and the console's register):
    # the scripted day never turns over at the site's midnight, whenever the test runs.
    tz = midday_zone(datetime.now(UTC))
    site = site_yaml(tmp_path, cloud_broker=cloud_broker.port, site_broker=site_broker.port,
                     http=http_port, health=health_port, tz=tz)
    spec = load_patrol(site)
    data_dir = tmp_path / "edge"
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        cloud.start()
        stack.callback(lambda: cloud.alive() and cloud.proc.kill())  # type: ignore[union-attr]

        async def cloud_up() -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{http_port}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False
        await until(cloud_up, "the console's /healthz", 60, parts, every=0.2)
        headers = await asyncio.to_thread(cli_token_headers, env)
        await asyncio.to_thread(_create_guards, env)  # also enters the site in the register
        await _set_zone(pg_url, tz)
        api = Console(f"http://127.0.0.1:{http_port}", headers, http)
        start = (datetime.now(UTC) + timedelta(seconds=LEAD_S)).replace(microsecond=0)
        deadlines = await _set_up(api, start, tz)
        dataset = await api.get(f"/api/sites/{SITE}/patrol/checkpoints")
        assert len(dataset["checkpoints"]) == 9

        edge = Part("edge", ["edge", "run", str(site)], base_env(), tmp_path)
        parts = (cloud, edge)
        edge.start()
        stack.callback(lambda: edge.alive() and edge.proc.kill())  # type: ignore[union-attr]

        async def edge_has_plans() -> bool:
            h = await health(http, health_port)
            return bool(h and (h.get("patrol") or {}).get("dataset", {}).get("version"))
        await until(edge_has_plans, "the edge's patrol dataset", 30, parts, every=0.2)
        assert datetime.now(UTC) < start - timedelta(seconds=EARLY_S + 2), "set-up took too long"

        early = timedelta(seconds=EARLY_S)
        walks = [
            _walk(spec, ("a1", "a2", "a3"), "g1", start - early),
            _walk(spec, ("b1", "b2", "b3"), "g2", start - early, ("skip:b2",)),
            _walk(spec, ("c1",), "g3", start + timedelta(seconds=70) - early),
            _walk(spec, ("x-near",), "g4", start - early, ("cloned:x-far",)),
        ]
        walkers = [asyncio.create_task(w) for w in walks]
        stack.push_async_callback(_cancel, walkers)

        # Cloned tag and the round nobody started (D: window 20 s).
        cloned = await until(lambda: _alarm(api, "patrol.tag_cloned", f"{UUID}:14:4"),
                             "the cloned-tag alarm", 60, parts, every=0.5)
        assert cloned["severity"] == "critical"
        await until(lambda: _alarm(api, "patrol.round_missed", "验收计划 pd"),
                    "round D missed", 60, parts, every=0.5)

        # B: the skipped checkpoint on the board within 10 s of its deadline.
        missed_b = await until(lambda: _alarm(api, "patrol.checkpoint_missed", "巡更点 b2"),
                               "b2 missed on the board", 90, parts, every=0.25)
        seen_after = (datetime.now(UTC) - deadlines["b2"]).total_seconds()
        assert seen_after <= 10, f"b2's alarm reached the board {seen_after:.1f} s late"
        assert missed_b["state"] == "open"

        # C: the cloud broker goes down; the edge alarms on its own at c2's deadline.
        cloud_broker.stop()
        await until(lambda: [d for d in _outbox(data_dir, "patrol.checkpoint_missed")
                             if d.get("checkpoint") == "cp-c2"],
                    "c2 missed in the edge's outbox", 90, parts, every=0.25)
        raised_after = (datetime.now(UTC) - deadlines["c2"]).total_seconds()
        assert raised_after <= 10, f"the edge raised c2 {raised_after:.1f} s after its deadline"
        h = await health(http, health_port)
        assert h is not None
        assert any("cp-c2" in m for m in h["patrol"]["alarms"]["missed_checkpoints_today"])
        assert await _alarm(api, "patrol.checkpoint_missed", "巡更点 c2") is None
        cloud_broker.start()
        await until(lambda: _alarm(api, "patrol.checkpoint_missed", "巡更点 c2"),
                    "c2's alarm on the board after the outage", 90, parts, every=0.5)

        # The day's report, against the figures computed by hand.
        day = start.astimezone(tz).date().isoformat()
        report_url = f"/api/sites/{SITE}/patrol/report?from={day}&to={day}&by=day"

        async def day_row() -> dict[str, Any] | None:
            rows = (await api.get(report_url))["rows"]
            row = next((r for r in rows if r["key"] != "total"), None)
            ended = row and row["rounds_completed"] + row["rounds_incomplete"] + row[
                "rounds_missed"] == 4
            return row if ended else None
        try:
            row = await until(day_row, "the day's four rounds ended", 60, parts, every=0.5)
        except AssertionError as exc:
            rounds = await api.get(f"/api/sites/{SITE}/patrol/rounds?date={day}")
            raise AssertionError(f"{exc}\nrounds: {json.dumps(rounds, ensure_ascii=False)}"
                                 ) from None
        assert {k: row[k] for k in EXPECTED_DAY} == EXPECTED_DAY, row
        by_route = {r["key"]: r for r in (await api.get(
            report_url.replace("by=day", "by=route")))["rows"]}
        assert by_route["ra"]["completion_rate"] == "100.00"
        assert by_route["ra"]["on_time"] == 3
        rounds = (await api.get(f"/api/sites/{SITE}/patrol/rounds?date={day}"))["rounds"]
        status = {r["plan"]: r["status"] for r in rounds}
        assert status == {"pa": "completed", "pb": "incomplete", "pc": "incomplete",
                          "pd": "missed"}, rounds
        assert {r["plan"]: r["guard_name"] for r in rounds}["pa"] == GUARDS["g1"]
        print(f"\npatrol e2e: b2 on the board {seen_after:.1f} s after its deadline, "
              f"c2 raised at the edge {raised_after:.1f} s after, "
              f"whole test {time.monotonic() - began:.0f} s")


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
