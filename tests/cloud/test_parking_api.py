"""Parking through the console API, on real SQLite and PostgreSQL: the lists staff edit, the
versioned dataset the edge pulls (and decides from), and the stays, charges and lane reads
that come back from the edge."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Event
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.parking import current_version
from cloud.parking.routes import configure_parking
from cloud.parking.sync import SyncPublisher
from cloud.settings import Settings
from contract import Batch, Envelope, FakeClock, NewEvent, encode_batch, priority_for, topics
from edge.parking.datasets import MonthlyPass, Vehicle, parse_dataset
from parkingrules.tariff_yaml import tariff_from_dict
from tests.edge.parking.test_lanes import TARIFF, TZ, _rig
from tests.support.auth import admin_headers
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
CREDENTIALS = {"demo": "demo-secret", "north": "north-secret"}
DEMO_AUTH = {"Authorization": encode_basic_auth("demo", "demo-secret")}
P = "/api/sites/demo/parking"


class RecordingPublisher(SyncPublisher):
    """Records what the API hands over after each commit (no broker needed)."""

    def __init__(self) -> None:
        super().__init__("mqtt://127.0.0.1:1", None, None)
        self.calls: list[tuple[str, str, int]] = []

    def notify(self, site: str, dataset: str, version: int) -> None:
        self.calls.append((site, dataset, version))


@dataclass
class Api:
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    publisher: RecordingPublisher
    seq: int = 0
    ingestor: Ingestor = field(init=False)

    def __post_init__(self) -> None:
        self.ingestor = Ingestor(self.sessions, self.clock, default_registry())

    async def call(self, method: str, path: str, status: int, body: Any = None,
                   **kw: Any) -> Any:
        resp = await self.client.request(method, path, json=body, **kw)
        assert resp.status == status, await resp.text()
        return await resp.json() if resp.content_type == "application/json" else resp

    async def get(self, path: str, status: int = 200) -> Any:
        return await self.call("GET", path, status)

    async def post(self, path: str, body: Any, status: int = 201) -> Any:
        return await self.call("POST", path, status, body)

    async def put(self, path: str, body: Any, status: int = 200) -> Any:
        return await self.call("PUT", path, status, body)

    async def delete(self, path: str, status: int = 200) -> Any:
        return await self.call("DELETE", path, status)

    async def version(self, site_id: int = 1) -> int:
        async with self.sessions() as s:
            return await current_version(s, site_id)

    async def ingest(self, events: list[tuple[str, str, dict[str, Any], datetime]]) -> list[int]:
        """Store (device, kind, data, ts) as the edge would send them; their seqs."""
        envs = []
        for device, kind, data, ts in events:
            self.seq += 1
            envs.append(Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=ts, device=device,
                                 kind=kind, data=data, priority=priority_for(kind)))
        payload = encode_batch(Batch(epoch=TEST_EPOCH, site="demo", events=envs))
        result = await self.ingestor.handle(topics.up_events("demo"), payload)
        assert result.ok, result
        return [e.seq for e in envs]


@asynccontextmanager
async def parking_api(db_url: str) -> AsyncIterator[Api]:
    """The console on ``db_url`` (migrated) with parking's sync publisher recorded."""
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=db_url, site_credentials=CREDENTIALS), sessions,
                     clock)
    publisher = RecordingPublisher()
    configure_parking(app, CREDENTIALS, publisher)
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Api(client, sessions, clock, publisher)
    finally:
        await client.close()
        await engine.dispose()


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    async with parking_api(db_url) as a:
        yield a


def error(body: dict[str, Any]) -> tuple[str, str | None, str]:
    err = body["error"]
    zh, en = err["message"].split(" / ", 1)
    assert zh and en
    return err["code"], err["field"], en


# --- the lists ---------------------------------------------------------------------------------


async def test_vehicle_crud_normalises_the_plate_and_bumps_the_version_once_per_write(
        api: Api) -> None:
    made = await api.post(f"{P}/vehicles", {"plate": "粤ｂ·12345", "holder": " 张伟 ",
                                            "unit": "1-101", "lots": ["lot-b", "lot-a"]})
    assert (made["plate"], made["holder"], made["unit"], made["role"], made["lots"]) == (
        "粤B12345", "张伟", "1-101", "owner", ["lot-a", "lot-b"])
    assert made["version"] == 1 and made["plate_valid"] is True
    assert made["created_at"] == "2026-11-23T01:00:00.000Z"
    assert made["created_at_local"] == "2026-11-23T09:00:00.000+08:00"
    vid = made["id"]
    listed = await api.get(f"{P}/vehicles?plate=粤b 12345")
    assert [v["id"] for v in listed["vehicles"]] == [vid] and listed["version"] == 1
    api.clock.advance(60)
    changed = await api.put(f"{P}/vehicles/{vid}", {"plate": "粤B12345", "holder": "李娜",
                                                    "role": "tenant"})
    assert (changed["holder"], changed["role"], changed["unit"], changed["lots"]) == (
        "李娜", "tenant", None, [])  # PUT replaces the row: left-out fields take defaults
    assert changed["version"] == 2 and changed["updated_at"] == "2026-11-23T01:01:00.000Z"
    assert (await api.get(f"{P}/vehicles/{vid}"))["holder"] == "李娜"
    assert (await api.delete(f"{P}/vehicles/{vid}")) == {"deleted": vid, "version": 3}
    assert (await api.get(f"{P}/vehicles"))["vehicles"] == []
    assert api.publisher.calls == [("demo", "parking", 1), ("demo", "parking", 2),
                                   ("demo", "parking", 3)]
    assert await api.version() == 3
    # Refused writes change nothing: no version, no announcement.
    await api.get(f"{P}/vehicles/{vid}", 404)
    await api.put(f"{P}/vehicles/{vid}", {"plate": "粤B12345", "holder": "x"}, 404)
    await api.delete(f"{P}/vehicles/{vid}", 404)
    await api.post(f"{P}/vehicles", {"plate": "粤B1", "holder": "x"}, 400)
    assert await api.version() == 3 and len(api.publisher.calls) == 3


@pytest.mark.parametrize(("resource", "body", "field", "why"), [
    ("vehicles", {"plate": "粤B123", "holder": "x"}, "plate", "expected 7 or 8"),
    ("vehicles", {"plate": "无车牌", "holder": "x"}, "plate", "empty"),
    ("vehicles", {"plate": 12345, "holder": "x"}, "plate", "must be text"),
    ("vehicles", {"plate": "粤B12345"}, "holder", "required"),
    ("vehicles", {"plate": "粤B12345", "holder": "x", "role": "boss"}, "role", "one of"),
    ("vehicles", {"plate": "粤B12345", "holder": "x", "hodler": "y"}, "hodler", "unknown"),
    ("vehicles", {"plate": "粤B12345", "holder": "x", "lots": ["ok", "bad lot"]}, "lots[1]",
     "lot id"),
    ("vehicles", {"plate": "粤B12345", "holder": "x", "force": "yes"}, "force", "true or"),
    ("spaces", {"code": "B2-017", "lot": "main", "kind": "sold"}, "kind", "one of"),
    ("passes", {"plate": "粤B77777", "valid_from": "2026-12-01", "valid_to": "2026-11-30"},
     "valid_to", "before valid_from"),
    ("passes", {"plate": "粤B77777", "valid_from": "2026/12/01", "valid_to": "2026-12-31"},
     "valid_from", "YYYY-MM-DD"),
    ("passes", {"plate": "粤B77777", "valid_from": "2026-12-01", "valid_to": "2026-12-31",
                "grace_days": 2.5}, "grace_days", "integer"),
    ("visitors", {"plate": "粤S99999", "start": "2026-11-23T08:00:00",
                  "end": "2026-11-23T12:00:00+08:00"}, "start", "UTC offset"),
    ("visitors", {"plate": "粤S99999", "start": "2026-11-23T08:00:00+08:00",
                  "end": "2026-11-23T07:00:00+08:00"}, "end", "after start"),
    ("blacklist", {"plate": "粤B44444", "reason": "  "}, "reason", "empty"),
])
async def test_a_refused_record_names_the_field_and_why(
        api: Api, resource: str, body: dict[str, Any], field: str, why: str) -> None:
    got = await api.post(f"{P}/{resource}", body, 400)
    code, named, en = error(got)
    assert named == field and why in en, got
    assert code in ("invalid_field", "invalid_plate")
    assert await api.version() == 0


async def test_an_invalid_plate_is_stored_when_forced_and_flagged(api: Api) -> None:
    got = await api.post(f"{P}/vehicles", {"plate": "粤B123", "holder": "x"}, 400)
    assert error(got)[0] == "invalid_plate" and '"force": true' in got["error"]["message"]
    made = await api.post(f"{P}/vehicles", {"plate": "粤B123", "holder": "x", "force": True})
    assert made["plate"] == "粤B123" and made["plate_valid"] is False


async def test_a_body_that_is_not_a_json_object_is_refused(api: Api) -> None:
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        resp = await api.client.post(f"{P}/vehicles", data=raw)
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_body"


async def test_duplicates_are_409_naming_the_field_and_the_existing_row(api: Api) -> None:
    first = await api.post(f"{P}/vehicles", {"plate": "粤B12345", "holder": "张伟"})
    dup = await api.post(f"{P}/vehicles", {"plate": "粤b-12345", "holder": "李娜"}, 409)
    assert error(dup)[:2] == ("duplicate", "plate")
    assert dup["error"]["existing_id"] == first["id"]
    other = await api.post(f"{P}/vehicles", {"plate": "粤B54321", "holder": "王芳"})
    moved = await api.put(f"{P}/vehicles/{other['id']}", {"plate": "粤B12345", "holder": "王芳"},
                          409)
    assert error(moved)[1] == "plate"
    # Each list is its own: a registered vehicle can also be on the blacklist.
    await api.post(f"{P}/blacklist", {"plate": "粤B12345", "reason": "冲卡"})
    # Spaces are unique by code within a lot.
    await api.post(f"{P}/spaces", {"code": "B2-017", "lot": "main", "kind": "owned",
                                   "unit": "1-101", "plate": "粤B12345"})
    await api.post(f"{P}/spaces", {"code": "B2-017", "lot": "east", "kind": "public"})
    clash = await api.post(f"{P}/spaces", {"code": "B2-017", "lot": "main", "kind": "rented"},
                           409)
    assert error(clash)[1] == "code"
    assert await api.version() == 5  # the three refused writes left no trace
    # The same plate may be registered at another site.
    await api.post("/api/sites/north/parking/vehicles", {"plate": "粤B12345", "holder": "x"})


async def test_sites_unknown_404_and_configured_ones_exist_from_their_first_edit(
        api: Api) -> None:
    got = await api.get("/api/sites/nowhere/parking/vehicles", 404)
    assert error(got)[:2] == ("not_found", "site")
    await api.post("/api/sites/nowhere/parking/vehicles", {"plate": "粤B12345", "holder": "x"},
                   404)
    # A configured site nobody has reported from reads as empty, and an edit creates it.
    assert (await api.get("/api/sites/north/parking/passes"))["passes"] == []
    await api.post("/api/sites/north/parking/passes", {
        "plate": "湘A8B888", "valid_from": "2026-06-01", "valid_to": "2026-11-30"})
    assert [s["slug"] for s in (await api.get("/api/sites"))["sites"]] == ["north"]
    assert api.publisher.calls == [("north", "parking", 1)]


async def test_lists_page_by_id(api: Api) -> None:
    for i in range(5):
        await api.post(f"{P}/blacklist", {"plate": f"粤B4444{i}", "reason": "冲卡"})
    page = await api.get(f"{P}/blacklist?limit=2")
    assert [b["plate"] for b in page["blacklist"]] == ["粤B44440", "粤B44441"]
    page = await api.get(f"{P}/blacklist?limit=3&after_id={page['next_after_id']}")
    assert [b["plate"] for b in page["blacklist"]] == ["粤B44442", "粤B44443", "粤B44444"]
    assert page["next_after_id"] is None
    got = await api.get(f"{P}/blacklist?limit=0", 400)
    assert error(got)[1] == "limit"
    assert error(await api.get(f"{P}/blacklist/abc", 400))[1] == "id"
    assert error(await api.get(f"{P}/blacklist/{2**40}", 400))[1] == "id"
    assert error(await api.get(f"{P}/blacklist/²", 400))[1] == "id"
    assert error(await api.get(f"{P}/blacklist?after_id={2**40}", 400))[1] == "after_id"
    assert error(await api.get(f"{P}/sessions?before_id={2**40}", 400))[1] == "before_id"


# --- tariffs -----------------------------------------------------------------------------------


async def test_tariffs_are_checked_by_the_edge_code_and_problems_name_their_field(
        api: Api) -> None:
    resp = await api.client.put(f"{P}/tariffs/lot-main", data=(
        b'{"id": "std", "lost_entry": "flat", "free_minutes": 30, "prices": {"small": '
        b'{"unit": {"minutes": 60, "price": 2.50}, "daily_cap": 30, "lost_entry_fee": "50"}}}'),
        headers={"Content-Type": "application/json"})
    assert resp.status == 201, await resp.text()  # 2.50 is read as an exact decimal
    made = await resp.json()
    assert made["tariff"]["prices"]["small"]["unit"]["price"] == "2.50"
    assert made["version"] == 1
    again = await api.put(f"{P}/tariffs/lot-main", TARIFF)
    assert again["version"] == 2
    assert again["tariff"] == tariff_from_dict(TARIFF).to_dict()
    assert (await api.get(f"{P}/tariffs/lot-main"))["tariff"] == again["tariff"]
    assert [t["lot"] for t in (await api.get(f"{P}/tariffs"))["tariffs"]] == ["lot-main"]
    bad = {**TARIFF, "prices": {"small": {"unit": {"minutes": 60, "price": "-2"}}},
           "roundign": "fen"}
    got = await api.put(f"{P}/tariffs/lot-main", bad, 400)
    code, field_, _ = error(got)
    assert code == "invalid_tariff"
    fields = {p["field"] for p in got["error"]["problems"]}
    assert field_ in fields and {"roundign", "prices.small.unit.price"} <= fields
    assert all(p["message"] for p in got["error"]["problems"])
    assert error(await api.put(f"{P}/tariffs/bad lot", TARIFF, 400))[1] == "lot"
    assert error(await api.get(f"{P}/tariffs/lot-x", 404))[1] == "lot"
    assert await api.version() == 2
    assert (await api.delete(f"{P}/tariffs/lot-main"))["version"] == 3
    await api.delete(f"{P}/tariffs/lot-main", 404)


# --- the dataset the edge pulls ----------------------------------------------------------------


async def fill(api: Api) -> None:
    await api.post(f"{P}/vehicles", {"plate": "粤B12345", "holder": "张伟", "unit": "1-101"})
    await api.post(f"{P}/vehicles", {"plate": "粤B5S678", "holder": "王芳", "role": "tenant",
                                     "lots": ["lot"]})
    await api.post(f"{P}/passes", {"plate": "粤B77777", "holder": "赵强", "valid_from":
                                   "2026-01-01", "valid_to": "2026-11-30", "grace_days": 3})
    await api.post(f"{P}/visitors", {"plate": "粤S99999", "host_unit": "1-101",
                                     "start": "2026-11-23T08:00:00+08:00",
                                     "end": "2026-11-23T12:00:00+08:00"})
    await api.post(f"{P}/blacklist", {"plate": "粤B44444", "reason": "冲卡"})
    await api.post(f"{P}/spaces", {"code": "B2-017", "lot": "lot", "kind": "owned",
                                   "unit": "1-101", "plate": "粤B12345"})
    await api.put(f"{P}/tariffs/lot", TARIFF, 201)


async def test_dataset_is_what_the_edge_parses_with_an_etag_per_version(api: Api) -> None:
    await fill(api)
    resp = await api.client.get(f"{P}/dataset", headers=DEMO_AUTH)
    assert resp.status == 200 and resp.headers["ETag"] == '"parking-7"'
    doc = await resp.json()
    assert doc["version"] == 7
    data = parse_dataset(doc, TZ)
    assert data.skipped == []
    assert data.counts() == {"vehicles": 2, "passes": 1, "visitors": 1, "blacklist": 1,
                             "tariffs": 1, "skipped": 0}
    owner = data.vehicles.lookup("粤B12345").match
    assert owner is not None and owner.value == Vehicle("粤B12345", "张伟", "1-101", "owner")
    tenant = data.vehicles.lookup("粤B5S678").match
    assert tenant is not None and tenant.value.lots == frozenset({"lot"})
    monthly = data.passes.lookup("粤B77777").match
    assert monthly is not None and monthly.value == MonthlyPass(
        "粤B77777", date(2026, 1, 1), date(2026, 11, 30), "赵强", frozenset(), 3, 7)
    visitor = data.visitors.lookup("粤S99999").match
    assert visitor is not None and visitor.value.start == datetime(2026, 11, 23, 0, tzinfo=UTC)
    assert visitor.value.host_unit == "1-101"
    barred = data.blacklist.lookup("粤B44444").match
    assert barred is not None and barred.value.reason == "冲卡"
    assert data.tariffs["lot"] == tariff_from_dict(TARIFF)
    assert doc["spaces"] == [{"lot": "lot", "code": "B2-017", "kind": "owned",
                              "unit": "1-101", "plate": "粤B12345"}]
    # The edge asks again with the tag it holds: nothing to send.
    same = await api.client.get(f"{P}/dataset",
                                headers={**DEMO_AUTH, "If-None-Match": '"parking-7"'})
    assert same.status == 304 and same.headers["ETag"] == '"parking-7"'
    assert await same.read() == b""
    await api.delete(f"{P}/blacklist/1")
    newer = await api.client.get(f"{P}/dataset",
                                 headers={**DEMO_AUTH, "If-None-Match": '"parking-7"'})
    assert newer.status == 200 and newer.headers["ETag"] == '"parking-8"'
    assert (await newer.json())["blacklist"] == []
    # Large datasets travel compressed when the edge accepts it.
    gz = await api.client.get(f"{P}/dataset",
                              headers={**DEMO_AUTH, "Accept-Encoding": "gzip"})
    assert gz.headers.get("Content-Encoding") == "gzip" and (await gz.json())["version"] == 8


async def test_dataset_needs_the_sites_own_credential(api: Api) -> None:
    missing = await api.client.get(f"{P}/dataset")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert error(await missing.json())[:2] == ("unauthorized", "authorization")
    for login, secret in (("demo", "wrong"), ("north", "north-secret")):
        resp = await api.client.get(f"{P}/dataset", headers={
            "Authorization": encode_basic_auth(login, secret)})
        assert resp.status == 401 and "WWW-Authenticate" in resp.headers
    garbled = await api.client.get(f"{P}/dataset", headers={"Authorization": "Basic !!!"})
    assert garbled.status == 401
    forbidden = await api.client.get("/api/sites/nowhere/parking/dataset",
                                     headers={"Authorization": encode_basic_auth("nowhere",
                                                                                 "x")})
    assert forbidden.status == 403
    body = await forbidden.json()
    assert error(body)[:2] == ("site_not_configured", "site")
    assert "COURTYARD_SITE_CREDENTIALS" in body["error"]["message"]
    # A configured site with nothing entered yet: version 0, an empty but usable dataset.
    empty = await api.client.get("/api/sites/north/parking/dataset",
                                 headers={"Authorization": encode_basic_auth(
                                     "north", "north-secret")})
    assert empty.status == 200 and empty.headers["ETag"] == '"parking-0"'
    assert parse_dataset(await empty.json(), TZ).counts()["vehicles"] == 0


# --- what comes back from the edge -------------------------------------------------------------


async def test_the_edge_decides_from_the_cloud_dataset_and_its_stays_come_back(
        api: Api, tmp_path: Path) -> None:
    await fill(api)
    doc = await (await api.client.get(f"{P}/dataset", headers=DEMO_AUTH)).json()
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=TZ).astimezone(UTC))
    rig, store = await _rig(tmp_path, clock, dataset=doc)
    try:
        assert not (await rig.read("cam-in", "粤B44444")).open  # blacklisted in the console
        await rig.read("cam-in", "粤B12345")
        await rig.read("cam-in", "粤A2B345")
        clock.advance(3 * 3600 + 60)
        assert (await rig.read("cam-out", "粤B12345")).open  # owner: free
        await rig.read("cam-out", "粤A2B345")
        await rig.lanes.pay("out", "9", "wechat", "booth-1")
    finally:
        await store.close()
    events: list[NewEvent] = rig.events
    await api.ingest([(e.device, e.kind, e.data, e.ts) for e in events])

    stays = (await api.get(f"{P}/sessions"))["sessions"]
    assert {s["plate"]: (s["category"], s["state"], s["fee"]) for s in stays} == {
        "粤B12345": ("owner", "closed", "0.00"), "粤A2B345": ("temporary", "closed", "9.00")}
    visitor = next(s for s in stays if s["plate"] == "粤A2B345")
    assert visitor["entry_ts_local"] == "2026-11-23T09:00:00.000+08:00"
    assert (visitor["minutes"], visitor["paid"], visitor["entry_lane"]) == (181, "9.00", "in")
    only = await api.get(f"{P}/sessions?plate=粤a2b345&state=closed")
    assert [s["plate"] for s in only["sessions"]] == ["粤A2B345"]
    assert (await api.get(f"{P}/sessions?state=inside"))["sessions"] == []
    later = (clock.now() + timedelta(hours=1)).isoformat()
    assert (await api.get(f"{P}/sessions?since={later.replace('+', '%2B')}"))["sessions"] == []
    assert error(await api.get(f"{P}/sessions?state=gone", 400))[1] == "state"
    assert error(await api.get(f"{P}/sessions?since=yesterday", 400))[1] == "since"

    [charge] = (await api.get(f"{P}/charges"))["charges"]
    assert (charge["plate"], charge["amount"], charge["paid"], charge["recheck"]) == (
        "粤A2B345", "9.00", "9.00", None)
    assert charge["session"] == visitor["session"]
    assert (await api.get(f"{P}/charges?plate=粤B12345"))["charges"] == []


def jpeg(shade: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((16, 24, 3), shade, np.uint8))
    assert ok
    return bytes(buf.tobytes())


def b64(image: bytes | None) -> str | None:
    return base64.b64encode(image).decode() if image is not None else None


def read_data(camera: str, plate: str, evidence: bytes | None = None,
              crop: bytes | None = None) -> dict[str, Any]:
    return {"v": 1, "camera": camera, "vendor": "vzenith", "plate_raw": plate,
            "colour_name": "blue", "confidence": 92, "direction": "in", "offline": False,
            "evidence_jpeg_b64": b64(evidence), "crop_jpeg_b64": b64(crop)}


async def test_lanes_show_each_cameras_last_reads_with_their_snapshots(api: Api) -> None:
    full, crop, later = jpeg(40), jpeg(200), jpeg(120)
    t = T0
    seqs = await api.ingest([
        ("cam-in", "plate.read", read_data("cam-in", "粤B11111"), t),
        ("meter-1", "meter.reading", {"values": {"energy_import_kwh": 1.5}}, t),
        ("cam-in", "plate.read", read_data("cam-in", "粤b·22222", full, crop),
         t + timedelta(seconds=5)),
        ("cam-out", "plate.read", read_data("cam-out", "粤B33333"), t + timedelta(seconds=6)),
        ("cam-in", "plate.read", read_data("cam-in", "粤B44444"), t + timedelta(seconds=9)),
    ])
    out_read = seqs[3]
    async with api.sessions() as s:
        out_uuid = (await s.scalars(select(Event.uuid).where(Event.seq == out_read))).one()
    # The snapshots of the exit read come after the gate decision, as plate.evidence.
    await api.ingest([("cam-out", "plate.evidence",
                       {"v": 1, "read": out_uuid, "camera": "cam-out",
                        "evidence_jpeg_b64": b64(later),
                        "crop_jpeg_b64": None}, t + timedelta(seconds=7))])

    view = await api.get(f"{P}/lanes?limit=2")
    assert [lane["camera"] for lane in view["lanes"]] == ["cam-in", "cam-out"]
    cam_in, cam_out = view["lanes"]
    assert [r["plate"] for r in cam_in["reads"]] == ["粤B44444", "粤B22222"]
    newest, shot = cam_in["reads"]
    assert newest["evidence_url"] is None and newest["crop_url"] is None
    assert shot["plate_raw"] == "粤b·22222" and shot["confidence"] == 92
    assert shot["ts_local"] == "2026-11-23T09:00:05.000+08:00" and shot["offline"] is False
    assert shot["evidence_url"] == f"{P}/reads/{seqs[2]}/evidence.jpg?epoch={TEST_EPOCH}"
    assert shot["crop_url"] == f"{P}/reads/{seqs[2]}/crop.jpg?epoch={TEST_EPOCH}"
    [exit_read] = cam_out["reads"]
    assert exit_read["evidence_url"] == f"{P}/reads/{out_read}/evidence.jpg?epoch={TEST_EPOCH}"
    assert exit_read["crop_url"] is None
    only = await api.get(f"{P}/lanes?camera=cam-out&limit=5")
    assert [lane["camera"] for lane in only["lanes"]] == ["cam-out"]

    for url, image in ((shot["evidence_url"], full), (shot["crop_url"], crop),
                       (exit_read["evidence_url"], later)):
        resp = await api.client.get(url)
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        assert await resp.read() == image
    nothing = await api.get(f"{P}/reads/{seqs[0]}/evidence.jpg", 404)
    assert error(nothing)[:2] == ("no_image", "seq")
    await api.get(f"{P}/reads/{out_read}/crop.jpg", 404)
    assert error(await api.get(f"{P}/reads/{seqs[1]}/evidence.jpg", 404))[0] == "not_found"
    await api.get(f"{P}/reads/999/evidence.jpg", 404)
    # Another edge box (epoch) has no read at that seq.
    await api.get(f"{P}/reads/{seqs[2]}/evidence.jpg?epoch=another-box-00000000000000", 404)
    assert error(await api.get(f"{P}/reads/abc/evidence.jpg", 400))[1] == "seq"
