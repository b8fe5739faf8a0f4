"""Attacks on the edge's operator routes (booth open/pay, lane states, linkage reset).

A running edge (parking with two cameras, a fire receiver, default linkage; the cloud
unreachable) is attacked the way a web page on the guard-room PC or a host on the lane network
would: cross-site ``text/plain`` posts, no token, forged / expired / other-site tokens, a
technician's token. Every attempt is refused and opens nothing; a guard's token works and
the event the cloud will get names the guard. A linkage reset while the panel still reports
fire is refused 409.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contract.operator_token import issue
from edge.app import EdgeApp
from edge.config import load_site
from simulators.lpr.camera import VirtualCamera
from tests.drivers.fire.vectors import V1_FIRE
from tests.support.operator import bearer, mint
from tests.support.services import free_port

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
SITE, SECRET = "sec-op", "sec-op-site-secret"
GUARD_LABEL = "值班保安 Wang (guard, user:7)"
DATASET = """\
version: 1
vehicles: []
tariffs:
  lot-a:
    id: short-stay
    lost_entry: flat
    prices:
      small:
        first_period: {minutes: 60, price: "5"}
        unit: {minutes: 60, price: "2"}
        lost_entry_fee: "50"
"""
#: Every operator route: (method, path, a body that would be valid with a token).
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/parking/lanes/lane-in/open", {"reason": "放行"}),
    ("POST", "/parking/lanes/lane-out/pay", {"amount": "5.00", "method": "cash"}),
    ("POST", "/linkage/reset", {"reason": "误报"}),
    ("GET", "/parking/lanes", None),
]


@dataclass
class Edge:
    app: EdgeApp
    camera_url: str
    operator_url: str
    fire_port: int
    health_url: str

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        with sqlite3.connect(self.app.outbox_path) as conn:
            rows = conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
        return [(k, json.loads(d)) for k, d in rows]

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events()]


async def until(cond: Callable[[], bool], what: str, within: float = 10.0) -> None:
    try:
        async with asyncio.timeout(within):
            while not cond():  # noqa: ASYNC110  (state owned by the edge's tasks)
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _site(tmp: Path, *, cam_port: int, op_port: int | None, fire_port: int,
          health_port: int) -> Path:
    (tmp / "dataset.yaml").write_text(DATASET, encoding="utf-8")
    operator = f"operator: {{port: {op_port}}}\n" if op_port else ""
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {SITE}, name: 安全测试}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{free_port()}", username: {SITE}, password: {SECRET}}}
edge: {{data_dir: "{tmp / 'edge'}", health_port: {health_port}}}
{operator}parking:
  http_host: 127.0.0.1
  http_port: {cam_port}
  dataset: dataset.yaml
  lots: [{{id: lot-a, capacity: 10}}]
  cameras:
    - {{id: cam-in, vendor: vzenith, address: 127.0.0.1}}
    - {{id: cam-out, vendor: hikvision, address: 127.0.0.2}}
  gates:
    - {{id: gate-in, via: camera_relay, camera: cam-in, relay_io: 1}}
    - {{id: gate-out, via: camera_relay, camera: cam-out, relay_io: 1}}
  lanes:
    - {{id: lane-in, lot: lot-a, direction: in, camera: cam-in, gate: gate-in}}
    - {{id: lane-out, lot: lot-a, direction: out, camera: cam-out, gate: gate-out}}
fire:
  host: 127.0.0.1
  port: {fire_port}
  centre_address: 88888
  uitds:
    - {{id: uitd-1, address: 889, building: "1", peers: [127.0.0.1]}}
""", encoding="utf-8")
    return path


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    cam, op, fire, health = free_port(), free_port(), free_port(), free_port()
    app = EdgeApp(load_site(_site(tmp_path, cam_port=cam, op_port=op, fire_port=fire,
                                  health_port=health), PROFILES),
                  uplink_overrides={"backoff_initial": 0.2, "backoff_cap": 0.5})
    task = asyncio.create_task(app.run())
    try:
        await until(lambda: app.parking is not None and app.parking.ready.is_set()
                    and app.operator is not None and app.operator.ready.is_set()
                    and app.safety is not None and app.safety.fire is not None
                    and app.safety.fire.ready.is_set(), "edge ready")
        yield Edge(app, f"http://127.0.0.1:{cam}", f"http://127.0.0.1:{op}", fire,
                   f"http://127.0.0.1:{health}")
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 15)


async def _call(base: str, method: str, path: str, *, body: Any = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None
                ) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        kw: dict[str, Any] = {"headers": headers or {}}
        if raw is not None:
            kw["data"] = raw
        elif body is not None:
            kw["json"] = body
        async with http.request(method, f"{base}{path}", **kw) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


async def _car_waiting_at_exit(edge: Edge) -> None:
    """A car without an entry shows up at the exit: a lost-entry fee is due there."""
    conn = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=conn) as session, VirtualCamera(
            "hikvision", f"{edge.camera_url}/lpr/hikvision/cam-out", ip="127.0.0.2",
            session=session) as cam:
        assert (await cam.push_plate("粤A2B345")).status == 200
    assert edge.app.parking is not None and edge.app.parking.lanes is not None
    lanes = edge.app.parking.lanes
    await until(lambda: "lane-out" in lanes.pending, "the car waiting at the exit")


def _opened(edge: Edge) -> list[dict[str, Any]]:
    return [d for k, d in edge.events() if k in ("gate.opened", "payment.recorded",
                                                   "linkage.reset")]


async def test_cross_origin_text_plain_is_refused_on_every_route(edge: Edge) -> None:
    """What a web page open on the guard-room PC can send without a preflight: refused, even
    with a valid token (a page cannot have it, but the refusal must not depend on that)."""
    await _car_waiting_at_exit(edge)
    guard = bearer(mint(SECRET, SITE))
    for method, path, body in ROUTES:
        for headers in ({"Origin": "http://evil.example", "Content-Type": "text/plain"},
                        {"Origin": "http://evil.example", "Content-Type": "text/plain", **guard},
                        {"Origin": "null", **guard},
                        {"Sec-Fetch-Site": "cross-site", **guard}):
            status, answer = await _call(edge.operator_url, method, path, headers=headers,
                                         raw=json.dumps(body or {}).encode())
            assert status == 403, (method, path, headers, answer)
            assert "cross-origin" in answer["error"]
        if method == "POST":  # same origin, but not JSON: a form or text/plain post
            status, answer = await _call(edge.operator_url, method, path,
                                         headers={"Content-Type": "text/plain", **guard},
                                         raw=json.dumps(body).encode())
            assert status == 415, (path, answer)
    assert _opened(edge) == []
    assert edge.app.operator is not None
    assert edge.app.operator.stats.get("operator_refused_cross_origin") == 4 * len(ROUTES)


async def test_missing_forged_expired_and_other_site_tokens_get_401(edge: Edge) -> None:
    await _car_waiting_at_exit(edge)
    now = datetime.now(UTC)
    good = mint(SECRET, SITE)
    head, claims, _sig = good.split(".")
    forged_claims = head + "." + claims[:-2] + ("A" if claims[-2] != "A" else "B") + claims[-1:]
    bad_tokens = {
        "none": None,
        "garbage": "not-a-token",
        "wrong key": mint("a-guessed-secret", SITE),
        "tampered": f"{forged_claims}.{_sig}",
        "expired": mint(SECRET, SITE, now=now - timedelta(hours=13)),
        "other site": mint(SECRET, "other-site"),
        "other site's key": issue("other-secret", site=SITE, sub="user:9", name="x",
                                  role="admin", now=now),
    }
    for method, path, body in ROUTES:
        for what, token in bad_tokens.items():
            headers = bearer(token) if token else {}
            status, answer = await _call(edge.operator_url, method, path, body=body,
                                         headers=headers)
            assert status == 401, (path, what, answer)
            assert " / " in answer["error"]
    assert _opened(edge) == []
    assert edge.app.parking is not None and edge.app.parking.lanes is not None
    assert "lane-out" in edge.app.parking.lanes.pending  # nothing was paid


async def test_a_technician_token_cannot_open_pay_or_reset(edge: Edge) -> None:
    await _car_waiting_at_exit(edge)
    tech = bearer(mint(SECRET, SITE, role="technician", name="维修 Li", sub="user:30"))
    for method, path, body in ROUTES:
        status, answer = await _call(edge.operator_url, method, path, body=body, headers=tech)
        assert status == 403, (path, answer)
        assert "technician" in answer["error"]
    assert _opened(edge) == []


async def test_a_guard_token_works_and_the_events_name_the_guard(edge: Edge) -> None:
    await _car_waiting_at_exit(edge)
    guard = bearer(mint(SECRET, SITE))
    status, answer = await _call(edge.operator_url, "GET", "/parking/lanes", headers=guard)
    assert status == 200
    waiting = {ln["lane"]: ln["waiting"] for ln in answer["lanes"]}
    assert waiting["lane-out"]["due"] == "50.00"
    status, answer = await _call(edge.operator_url, "POST", "/parking/lanes/lane-in/open",
                                 body={"by": "冒名 someone", "reason": "访客登记后放行"},
                                 headers=guard)
    assert status == 200 and answer["by"] == GUARD_LABEL
    status, answer = await _call(edge.operator_url, "POST", "/parking/lanes/lane-out/pay",
                                 body={"amount": "50.00", "method": "cash",
                                       "operator": "冒名 someone"}, headers=guard)
    assert status == 200 and answer["open"] is True
    await until(lambda: "payment.recorded" in edge.kinds(), "payment stored")
    events = edge.events()
    manual = [d for k, d in events if k == "gate.opened" and d["cause"] == "manual"]
    assert [d["by"] for d in manual] == [GUARD_LABEL]
    (paid,) = [d for k, d in events if k == "payment.recorded"]
    assert paid["operator"] == GUARD_LABEL


async def test_booth_routes_are_not_on_the_camera_port(edge: Edge) -> None:
    guard = bearer(mint(SECRET, SITE))
    for method, path, body in ROUTES:
        for base in (edge.camera_url, edge.health_url):
            status, _ = await _call(base, method, path, body=body, headers=guard)
            assert status in (404, 405), (base, path, status)
    assert _opened(edge) == []


def test_the_operator_listener_binds_loopback_by_default(tmp_path: Path) -> None:
    config = load_site(_site(tmp_path, cam_port=free_port(), op_port=None,
                             fire_port=free_port(), health_port=free_port()), PROFILES)
    assert (config.operator.host, config.operator.port) == ("127.0.0.1", 9180)


async def test_the_running_listener_answers_on_loopback_only(edge: Edge) -> None:
    assert edge.app.operator is not None
    port = edge.app.operator.port
    with socket.socket() as s:  # another address of this host: nothing listens there
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.2", port)) != 0
    status, _ = await _call(edge.operator_url, "GET", "/parking/lanes",
                            headers=bearer(mint(SECRET, SITE)))
    assert status == 200


async def test_reset_while_the_panel_still_reports_fire_is_refused(edge: Edge) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.fire_port)
    try:
        writer.write(V1_FIRE)
        await writer.drain()
        await asyncio.wait_for(reader.readexactly(30), 5)  # the centre's confirm
        safety = edge.app.safety
        assert safety is not None and safety.linkage is not None
        linkage = safety.linkage
        await until(lambda: linkage.status()["active"], "linkage active")
        status, answer = await _call(edge.operator_url, "POST", "/linkage/reset",
                                     body={"reason": "误报"}, headers=bearer(mint(SECRET, SITE)))
        assert status == 409, answer
        assert "still reports fire" in answer["error"] and "uitd-1" in answer["active"]
        assert linkage.status()["active"] is True
        assert "linkage.reset" not in edge.kinds()
    finally:
        writer.close()


async def test_a_taken_operator_port_does_not_stop_the_edge(tmp_path: Path) -> None:
    """Another process on the operator port: the booth is unreachable (logged, counted,
    retried), but the cameras, the fire receiver and linkage keep running."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        op = squatter.getsockname()[1]
        cam, fire, health = free_port(), free_port(), free_port()
        app = EdgeApp(load_site(_site(tmp_path, cam_port=cam, op_port=op, fire_port=fire,
                                      health_port=health), PROFILES),
                      uplink_overrides={"backoff_initial": 0.2, "backoff_cap": 0.5})
        task = asyncio.create_task(app.run())
        try:
            await until(lambda: app.operator is not None
                        and app.operator.stats.get("operator_bind_failures") >= 1,
                        "the bind failure counted")
            await until(lambda: app.parking is not None and app.parking.ready.is_set()
                        and app.safety is not None and app.safety.fire is not None
                        and app.safety.fire.ready.is_set(), "cameras and fire receiver up")
            assert not task.done()
        finally:
            app.request_stop()
            await asyncio.wait_for(task, 15)
