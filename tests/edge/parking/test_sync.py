"""The edge pulls the parking dataset when the console announces a new version (down/sync).

Real Mosquitto carries the notices, the real edge (EdgeApp) decides from a real SQLite session
store and the real on-disk dataset cache; only the console is a small aiohttp server of the
test's own that serves ``/api/sites/{site}/parking/dataset`` the way the console does
(``ETag: "parking-<version>"``, 304 on a matching ``If-None-Match``, 401 on a bad credential).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import aiomqtt
import pytest
from aiohttp import web

from contract import FakeClock, NewEvent, topics
from edge.app import EdgeApp
from edge.config import ConfigError, load_site
from edge.dataset_pull import SyncFailure, basic_auth
from edge.parking.dataset_store import DatasetStore
from edge.parking.decide import Direction, LaneRules, LotInfo, read_plate
from edge.parking.lanes import LaneSetup, ParkingLanes
from edge.parking.sessions import SessionStore
from edge.parking.sync import DatasetSync, Outcome
from edge.uplink import decode_sync
from simulators.lpr.camera import VirtualCamera
from tests.edge.helpers_cloud import wait_until
from tests.support.services import Mosquitto, free_port

PROFILES = Path(__file__).resolve().parents[3] / "configs" / "profiles"
SITE = "sync-t"
USER, SECRET = SITE, "s3cret"
TZ = ZoneInfo("Asia/Shanghai")
OWNER, NEWCOMER = "粤B12345", "粤A77777"
_PLATEIDS = itertools.count(1)  # the endpoint drops a repeated plateid as a re-sent record


def dataset(version: int, *plates: str) -> dict[str, Any]:
    return {"version": version,
            "vehicles": [{"plate": p, "holder": f"业主{i}", "unit": f"1-{101 + i}"}
                         for i, p in enumerate(plates)]}


@dataclass
class FakeConsole:
    """The console's dataset endpoint, as the cloud serves it."""

    doc: dict[str, Any] | None = None
    #: ok | error500 | bad_json | slow | no_etag
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        seen: dict[str, Any] = {"site": request.match_info["site"],
                "if_none_match": request.headers.get("If-None-Match")}
        self.requests.append(seen)
        good = basic_auth(USER, SECRET)
        if request.match_info["site"] != SITE or request.headers.get("Authorization") != good:
            seen["status"] = 401
            return web.json_response({"error": "unauthorised"}, status=401)
        if self.mode == "error500":
            seen["status"] = 500
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.doc is None:
            seen["status"] = 404
            return web.json_response({"error": "no dataset"}, status=404)
        etag = f'"parking-{self.doc["version"]}"'
        if request.headers.get("If-None-Match") == etag:
            seen["status"] = 304
            return web.Response(status=304, headers={"ETag": etag})
        seen["status"] = 200
        body = b"{not json" if self.mode == "bad_json" else json.dumps(self.doc).encode()
        headers = {} if self.mode == "no_etag" else {"ETag": etag}
        return web.Response(body=body, headers=headers, content_type="application/json")

    async def start(self, port: int | None = None) -> str:
        app = web.Application()
        app.router.add_get("/api/sites/{site}/parking/dataset", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.port = port or self.port or free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def statuses(self) -> list[int]:
        return [r.get("status", 0) for r in self.requests]


@pytest.fixture
async def console() -> AsyncIterator[FakeConsole]:
    c = FakeConsole()
    try:
        yield c
    finally:
        await c.stop()


# -- the site file key ------------------------------------------------------------------------

def _site_text(tmp: Path, *, mqtt_url: str, http_url: str | None, http_port: int,
               password: str = SECRET) -> str:
    url = f'\n  http_url: "{http_url}"' if http_url is not None else ""
    return f"""\
site: {{id: {SITE}, name: 同步测试}}
cloud:
  mqtt_url: "{mqtt_url}"
  username: {USER}
  password: "{password}"{url}
edge: {{data_dir: "{tmp / 'edge'}", health_port: {free_port()}}}
parking:
  http_host: 127.0.0.1
  http_port: {http_port}
  dataset: dataset.yaml
  lots: [{{id: lot-a, capacity: 10}}]
  cameras:
    - {{id: cam-in, vendor: vzenith, address: 127.0.0.1}}
  gates:
    - {{id: gate-in, via: camera_relay, camera: cam-in}}
  lanes:
    - {{id: lane-in, lot: lot-a, direction: in, camera: cam-in, gate: gate-in,
        temporary: false}}
"""


def _write_site(tmp: Path, **kw: Any) -> Path:
    (tmp / "dataset.yaml").write_text(json.dumps(dataset(1, OWNER), ensure_ascii=False),
                                      encoding="utf-8")
    path = tmp / "site.yaml"
    path.write_text(_site_text(tmp, **kw), encoding="utf-8")
    return path


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "https://console.example.cn/",
                                 "http://[::1]:8080", "http://console"])
def test_http_url_accepts_scheme_host_and_port(tmp_path: Path, url: str) -> None:
    cfg = load_site(_write_site(tmp_path, mqtt_url="mqtt://127.0.0.1:1883", http_url=url,
                                http_port=18088), PROFILES)
    assert cfg.cloud.http_url == url.rstrip("/")


@pytest.mark.parametrize(("url", "says"), [
    ("ftp://127.0.0.1:21", "must start with http:// or https://"),
    ("127.0.0.1:8080", "must start with http:// or https://"),
    ("http://127.0.0.1:99999", "invalid port"),
    ("http://127.0.0.1:8080/api", "must be only scheme, host and port"),
    ("http://demo:pw@127.0.0.1:8080", "must not carry a user or password"),
    ("http://", "needs a host"),
])
def test_http_url_refuses_anything_else_at_its_position(tmp_path: Path, url: str,
                                                        says: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_site(_write_site(tmp_path, mqtt_url="mqtt://127.0.0.1:1883", http_url=url,
                              http_port=18088), PROFILES)
    (problem,) = err.value.problems
    assert (problem.file.endswith("site.yaml"), problem.line) == (True, 6)
    assert says in problem.what and "http(s)://HOST[:PORT]" in problem.fix


def test_http_url_is_optional_and_empty_means_unset(tmp_path: Path) -> None:
    for url in (None, ""):
        cfg = load_site(_write_site(tmp_path, mqtt_url="mqtt://127.0.0.1:1883", http_url=url,
                                    http_port=18088), PROFILES)
        assert cfg.cloud.http_url is None


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1]", b'{"dataset": "parking"}',
                                     b'{"dataset": "", "version": 2}',
                                     b'{"dataset": "parking", "version": -1}',
                                     b'{"dataset": "parking", "version": true}',
                                     b'{"dataset": "parking", "version": "2"}'])
def test_malformed_sync_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_sync(payload)


def test_sync_payload_may_carry_more_than_it_needs() -> None:
    assert decode_sync(b'{"dataset": "parking", "version": 4, "ts": "x"}') == ("parking", 4)


# -- the edge end to end: notices over Mosquitto, pulls from the console ------------------------

async def _admitted(http_port: int, plate: str) -> bool:
    async with VirtualCamera("vzenith", f"http://127.0.0.1:{http_port}/lpr/vzenith/cam-in",
                             ip="127.0.0.1", images=False,
                             first_plateid=next(_PLATEIDS)) as cam:
        res = await cam.push_plate(plate)
        assert res.status == 200
        return res.opened


async def _publish(mosquitto: Mosquitto, payload: bytes) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.publish(topics.down_sync(SITE), payload, qos=1, retain=True, timeout=5)


def _sync_payload(version: int, dataset: str = "parking") -> bytes:
    return json.dumps({"dataset": dataset, "version": version}).encode()


@dataclass
class RunningEdge:
    app: EdgeApp
    task: asyncio.Task[None]

    @property
    def sync(self) -> DatasetSync:
        assert self.app.parking is not None and self.app.parking.sync is not None
        return self.app.parking.sync

    @property
    def version(self) -> int | None:
        return self.sync.current_version

    def counter(self, name: str) -> int:
        assert self.app.parking is not None
        return self.app.parking.stats.get(name)

    async def stop(self) -> None:
        self.app.request_stop()
        await asyncio.wait_for(self.task, 15)


async def _start_edge(site: Path) -> RunningEdge:
    app = EdgeApp(load_site(site, PROFILES),
                  uplink_overrides={"backoff_initial": 0.2, "backoff_cap": 0.5})
    edge = RunningEdge(app, asyncio.create_task(app.run()))
    await wait_until(lambda: app.parking is not None and app.parking.ready.is_set(),
                     what="parking ready")
    return edge


async def test_a_newer_version_reaches_the_lanes_and_older_ones_are_ignored(
        tmp_path: Path, mosquitto: Mosquitto, console: FakeConsole) -> None:
    console.doc = dataset(1, OWNER)
    base = await console.start()
    http_port = free_port()
    site = _write_site(tmp_path, mqtt_url=mosquitto.url, http_url=base, http_port=http_port)
    edge = await _start_edge(site)
    try:
        # At start: one pull; the console has what the edge already uses.
        await wait_until(lambda: edge.sync.last_outcome is Outcome.SAME, what="start pull")
        assert console.requests[0]["if_none_match"] is None
        assert await _admitted(http_port, OWNER)
        assert not await _admitted(http_port, NEWCOMER), "owners-only lane: not in v1"

        console.doc = dataset(2, OWNER, NEWCOMER)
        await wait_until(lambda: edge.app.uplink is not None and edge.app.uplink.connected,
                         what="uplink connected")
        await _publish(mosquitto, _sync_payload(2))
        await wait_until(lambda: edge.version == 2, what="v2 in use")
        assert console.requests[-1] == {"site": SITE, "if_none_match": '"parking-1"',
                                        "status": 200}
        assert await _admitted(http_port, NEWCOMER), "v2 admits the new owner"
        assert edge.app.health is not None
        async with aiohttp.ClientSession() as http, http.get(
                f"{edge.app.health.url}/healthz") as r:
            parking = (await r.json())["parking"]
        assert parking["dataset_version"] == 2
        assert parking["dataset_sync"]["last"] == "updated"
        assert parking["counters"]["dataset_sync_updated"] == 1
        cache = json.loads((tmp_path / "edge" / "datasets" / "parking.json").read_text("utf-8"))
        assert cache["version"] == 2, "persisted before use"

        pulls = len(console.requests)
        ignored = edge.counter("dataset_sync_ignored")
        for old in (2, 1):  # equal, then older: nothing to fetch
            await _publish(mosquitto, _sync_payload(old))
        await _publish(mosquitto, _sync_payload(9, dataset="visitors"))
        await _publish(mosquitto, b'{"dataset": "parking", "version": "three"}')
        uplink = edge.app.uplink
        assert uplink is not None
        await wait_until(lambda: uplink.counters.downlink_malformed == 1,
                         what="malformed notice counted")
        assert edge.counter("dataset_sync_ignored") == ignored + 2
        assert edge.counter("dataset_sync_other_dataset") == 1
        assert len(console.requests) == pulls and edge.version == 2
        assert uplink.connected, "a bad notice never ends the session"

        # v3 is announced while the console's answer is broken: v2 stays in force, retries.
        console.doc, console.mode = dataset(3, OWNER), "error500"
        await _publish(mosquitto, _sync_payload(3))
        await wait_until(lambda: edge.counter("dataset_sync_error_server_error") >= 1,
                         what="5xx counted")
        assert edge.version == 2 and await _admitted(http_port, NEWCOMER)
        console.mode = "ok"
        await wait_until(lambda: edge.version == 3, within=20, what="v3 after a retry")
        assert not await _admitted(http_port, NEWCOMER), "v3 removed the newcomer again"
    finally:
        await edge.stop()


async def test_restart_with_the_console_down_decides_from_the_cached_dataset(
        tmp_path: Path, mosquitto: Mosquitto, console: FakeConsole) -> None:
    console.doc = dataset(5, OWNER, NEWCOMER)
    base = await console.start()
    http_port = free_port()
    site = _write_site(tmp_path, mqtt_url=mosquitto.url, http_url=base, http_port=http_port)
    edge = await _start_edge(site)
    try:
        await wait_until(lambda: edge.version == 5, what="v5 pulled at start")
        assert await _admitted(http_port, NEWCOMER)
        await _publish(mosquitto, _sync_payload(5))  # the console's retained notice
        await wait_until(lambda: edge.counter("dataset_sync_ignored") == 1, what="notice seen")
    finally:
        await edge.stop()
    await console.stop()  # the console is gone; the broker still has the retained notice

    edge = await _start_edge(site)
    try:
        assert edge.version == 5, "the cache, not the local v1 file"
        assert await _admitted(http_port, NEWCOMER)
        await wait_until(lambda: edge.counter("dataset_sync_error_unreachable") >= 1,
                         what="start pull failed")
        await wait_until(lambda: edge.counter("dataset_sync_ignored") >= 1,
                         what="retained v5 notice ignored")
        assert edge.version == 5 and await _admitted(http_port, NEWCOMER)

        # The console comes back with the same document: If-None-Match → 304, nothing swapped.
        console.requests.clear()
        await console.start()
        await wait_until(lambda: edge.sync.last_outcome is Outcome.NOT_MODIFIED, within=20,
                         what="304 after the console returned")
        assert console.requests[-1]["if_none_match"] == '"parking-5"'
        assert edge.version == 5
    finally:
        await edge.stop()


# -- the puller on its own: errors keep the current dataset ----------------------------------

class _Rig:
    def __init__(self, lanes: ParkingLanes, sync: DatasetSync, sessions: SessionStore) -> None:
        self.lanes, self.sync, self.sessions = lanes, sync, sessions
        self.rules = next(iter(lanes.lanes.values())).rules

    def admits(self, plate: str) -> bool:
        return self.lanes.chain.entry(self.rules, read_plate(plate),
                                      datetime.now(UTC)).open


@pytest.fixture
async def rig(tmp_path: Path, console: FakeConsole) -> AsyncIterator[_Rig]:
    (tmp_path / "local.json").write_text(json.dumps(dataset(1, OWNER)), encoding="utf-8")
    store = DatasetStore(tmp_path / "edge", tmp_path / "local.json", TZ)
    sessions = await SessionStore(tmp_path / "parking.db").open()
    events: list[NewEvent] = []

    async def emit(ev: NewEvent) -> None:
        events.append(ev)

    rules = LaneRules(id="lane-in", lot="lot-a", direction=Direction.IN, temporary=False)
    lanes = ParkingLanes([LaneSetup(rules, camera="cam-in", gate=None, camera_relay=False)],
                         {"lot-a": LotInfo("lot-a", "A", 10)}, await store.load(), sessions,
                         {}, emit, FakeClock(), TZ, SITE)
    base = await console.start()
    sync = DatasetSync(SITE, base, USER, SECRET, store, timeout=0.5, backoff_initial=0.05,
                       backoff_cap=0.2)
    try:
        yield _Rig(lanes, sync, sessions)
    finally:
        await sessions.close()


async def _run(rig: _Rig) -> asyncio.Task[None]:
    task = asyncio.create_task(rig.sync.run(rig.lanes))
    await wait_until(lambda: rig.sync.current_version is not None, what="sync running")
    return task


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(("mode", "reason"), [("error500", "server_error"),
                                              ("bad_json", "bad_json"), ("slow", "timeout")])
async def test_a_failed_pull_keeps_the_dataset_and_is_retried(
        rig: _Rig, console: FakeConsole, mode: str, reason: str) -> None:
    console.doc, console.mode = dataset(2, OWNER, NEWCOMER), mode
    task = await _run(rig)
    try:
        rig.sync.notify("parking", 2)
        await wait_until(lambda: rig.sync.stats.get(f"dataset_sync_error_{reason}") >= 2,
                         what="failed and retried")
        assert isinstance(rig.sync.last_failure, SyncFailure)
        assert rig.sync.current_version == 1 and not rig.admits(NEWCOMER)
        console.mode = "ok"
        await wait_until(lambda: rig.sync.current_version == 2, what="recovered")
        assert rig.admits(NEWCOMER) and rig.sync.last_failure is None
    finally:
        await _cancel(task)


async def test_a_notice_that_arrives_before_the_lanes_is_weighed_once_they_exist(
        rig: _Rig, console: FakeConsole) -> None:
    """On reconnect the retained notice can arrive before the lanes are built."""
    console.doc = dataset(1, OWNER)
    rig.sync.notify("parking", 1)  # the version the lanes will start from: nothing to pull
    rig.sync.notify("parking", 0)
    assert rig.sync.wanted_version == 0
    task = await _run(rig)
    try:
        await wait_until(lambda: rig.sync.last_outcome is not None, what="start pull")
        assert rig.sync.stats.get("dataset_sync_ignored") == 1
        assert rig.sync.wanted_version == 0 and rig.sync.current_version == 1
    finally:
        await _cancel(task)
    early = DatasetSync(SITE, f"http://127.0.0.1:{console.port}", USER, SECRET, rig.sync.store,
                        timeout=0.5, backoff_initial=0.05, backoff_cap=0.2)
    console.doc = dataset(2, OWNER, NEWCOMER)
    early.notify("parking", 2)  # newer than the lanes: pulled even though it came early
    task = asyncio.create_task(early.run(rig.lanes))
    try:
        await wait_until(lambda: early.current_version == 2, what="v2 pulled")
        assert early.stats.get("dataset_sync_ignored") == 0 and rig.admits(NEWCOMER)
    finally:
        await _cancel(task)


async def test_a_refused_credential_is_an_error_not_a_crash(tmp_path: Path, rig: _Rig,
                                                            console: FakeConsole) -> None:
    console.doc = dataset(2, OWNER, NEWCOMER)
    wrong = DatasetSync(SITE, f"http://127.0.0.1:{console.port}", USER, "wrong", rig.sync.store,
                        timeout=0.5, backoff_initial=0.05, backoff_cap=0.2)
    task = asyncio.create_task(wrong.run(rig.lanes))
    try:
        await wait_until(lambda: wrong.stats.get("dataset_sync_error_refused") >= 2,
                         what="401 counted and retried")
        assert wrong.last_failure is not None and "credential" in str(wrong.last_failure)
        assert rig.lanes.chain.data.version == 1
        assert set(console.statuses()) == {401}
    finally:
        await _cancel(task)


async def test_a_document_the_edge_cannot_use_is_refused(rig: _Rig,
                                                         console: FakeConsole) -> None:
    console.doc = {"vehicles": [], "version": "2"}  # no integer version
    task = await _run(rig)
    try:
        rig.sync.notify("parking", 2)
        await wait_until(lambda: rig.sync.stats.get("dataset_sync_error_bad_document") >= 1,
                         what="bad document counted")
        assert rig.sync.current_version == 1
    finally:
        await _cancel(task)


async def test_no_etag_still_works_and_404_at_start_keeps_the_local_dataset(
        rig: _Rig, console: FakeConsole) -> None:
    console.doc = None
    task = await _run(rig)
    try:
        await wait_until(lambda: rig.sync.last_outcome is Outcome.ABSENT, what="404 at start")
        assert rig.sync.stats.get("dataset_sync_errors") == 0
        console.doc, console.mode = dataset(4, OWNER, NEWCOMER), "no_etag"
        rig.sync.notify("parking", 4)
        await wait_until(lambda: rig.sync.current_version == 4, what="v4 without an ETag")
        assert rig.admits(NEWCOMER)
        rig.sync.notify("parking", 4)
        rig.sync.notify("parking", 3)
        assert rig.sync.stats.get("dataset_sync_ignored") == 2
    finally:
        await _cancel(task)
