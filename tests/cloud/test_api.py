"""The console's JSON API and front page, on real SQLite and PostgreSQL.

Data goes in the way production data does (batches through the Ingestor), then the API is
read through a real HTTP server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.settings import Settings
from contract import Batch, Envelope, FakeClock, encode_batch, priority_for, topics
from tests.support.auth import admin_headers
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def env(seq: int, device: str, kind: str, data: dict[str, Any], ts: datetime) -> Envelope:
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=ts, device=device, kind=kind, data=data,
                    priority=priority_for(kind))


def reading(seq: int, device: str, ts: datetime, **values: float) -> Envelope:
    return env(seq, device, "meter.reading",
               {"v": 1, "profile": "eastron_sdm120", "unit": "1-101", "values": values,
                "units": {"voltage": "V", "energy_import_kwh": "kWh"}}, ts)


@dataclass
class Api:
    client: TestClient[Any, Any]
    ingestor: Ingestor
    clock: FakeClock
    sessions: Any

    async def ingest(self, site: str, events: list[Envelope]) -> None:
        result = await self.ingestor.handle(
            topics.up_events(site), encode_batch(Batch(epoch=TEST_EPOCH, site=site, events=events)))
        assert result.ok, result

    async def get(self, path: str, status: int = 200) -> Any:
        resp = await self.client.get(path)
        assert resp.status == status, await resp.text()
        return await resp.json()


@pytest.fixture
async def api(db_url: str) -> AsyncIterator[Api]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0 + timedelta(hours=2))
    app = create_app(Settings(database_url=db_url), sessions, clock)
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Api(client, Ingestor(sessions, clock, default_registry()), clock, sessions)
    finally:
        await client.close()
        await engine.dispose()


async def seed_demo(api: Api) -> None:
    await api.ingest("demo", [
        reading(1, "meter-1", T0, voltage=230.1, energy_import_kwh=1234.56),
        env(2, "meter-2", "device.offline", {"reason": "timeout", "detail": "no reply"},
            T0 + timedelta(minutes=5)),
        reading(3, "meter-1", T0 + timedelta(hours=1), energy_import_kwh=1235.5),
    ])


async def test_sites_show_online_state_and_ack_backlog(api: Api) -> None:
    assert await api.get("/api/sites") == {"sites": []}
    await seed_demo(api)
    await api.ingestor.handle_status(topics.up_status("demo"), b"online")
    body = await api.get("/api/sites")
    [site] = body["sites"]
    assert site["slug"] == "demo"
    assert site["online"] is True
    assert site["timezone"] == "Asia/Shanghai"
    assert site["backlog"]["acked_seq"] == 3
    # Stored as UTC, shown also in the site's own time (UTC+8).
    assert site["backlog"]["last_batch_at"] == "2026-03-01T02:00:00.000Z"
    assert site["backlog"]["last_batch_at_local"] == "2026-03-01T10:00:00.000+08:00"
    assert site["last_seen"] == "2026-03-01T02:00:00.000Z"


async def test_site_timezone_is_used_for_local_times(api: Api) -> None:
    await seed_demo(api)
    async with api.sessions() as s, s.begin():
        await s.execute(update(Site).where(Site.slug == "demo").values(timezone="Asia/Urumqi"))
    body = await api.get("/api/sites/demo/events?limit=1")
    assert body["timezone"] == "Asia/Urumqi"
    assert body["events"][0]["ts_local"] == "2026-03-01T06:00:00.000+06:00"


async def test_devices_list_online_state_and_last_readings(api: Api) -> None:
    await seed_demo(api)
    body = await api.get("/api/sites/demo/devices")
    devices = {d["key"]: d for d in body["devices"]}
    assert set(devices) == {"meter-1", "meter-2"}
    m1, m2 = devices["meter-1"], devices["meter-2"]
    assert m1["online"] is True and m2["online"] is False
    assert m2["offline_reason"] == "timeout"
    assert m1["last_seen"] == "2026-03-01T01:00:00.000Z"
    assert m1["last_seen_local"] == "2026-03-01T09:00:00.000+08:00"
    # Latest values are exact decimal strings; the newer reading wins per register.
    assert m1["meter"]["last_values"] == {"energy_import_kwh": "1235.5", "voltage": "230.1"}
    assert m1["meter"]["last_energy_kwh"] == "1235.5"
    assert m1["profile"] == "eastron_sdm120" and m1["unit"] == "1-101"
    assert m2["meter"] is None


async def test_unknown_site_is_404_with_field(api: Api) -> None:
    for path in ("/api/sites/nowhere/devices", "/api/sites/nowhere/events"):
        body = await api.get(path, 404)
        assert body["error"]["code"] == "not_found"
        assert body["error"]["field"] == "site"
        assert "nowhere" in body["error"]["message"]
        assert body["error"]["message"].startswith("小区不存在")


async def test_events_page_by_seq_cursor_until_exhausted(api: Api) -> None:
    await api.ingest("demo", [reading(seq, "meter-1", T0 + timedelta(seconds=seq),
                                      voltage=220.0 + seq) for seq in range(1, 26)])
    seen: list[int] = []
    cursor: int | None = 0
    pages = 0
    while cursor is not None:
        body = await api.get(f"/api/sites/demo/events?after_seq={cursor}&limit=10")
        seen += [e["seq"] for e in body["events"]]
        cursor = body["next_after_seq"]
        pages += 1
    assert seen == list(range(1, 26))
    assert pages == 3
    # Resuming from the last seq seen returns nothing new until more arrives.
    assert (await api.get("/api/sites/demo/events?after_seq=25"))["events"] == []
    await api.ingest("demo", [reading(26, "meter-1", T0, voltage=1.0)])
    body = await api.get("/api/sites/demo/events?after_seq=25")
    assert [e["seq"] for e in body["events"]] == [26]
    assert body["next_after_seq"] is None


async def test_events_of_two_epochs_page_without_skipping_and_filter_by_epoch(
        api: Api) -> None:
    """A replaced box starts its seqs again at 1: paging by seq must not skip the old box's
    events that share a seq with the new one's, and ``epoch`` shows one box's run."""
    await api.ingest("demo", [reading(s, "meter-1", T0, voltage=1.0) for s in range(1, 6)])
    other = "box-b-epoch-000000000000000"
    result = await api.ingestor.handle(topics.up_events("demo"), encode_batch(Batch(
        epoch=other, site="demo",
        events=[reading(s, "meter-2", T0, voltage=2.0) for s in range(1, 4)])))
    assert result.ok, result
    for limit in (1, 2, 3, 4):
        seen: list[tuple[str, int]] = []
        cursor: int | None = 0
        while cursor is not None:
            body = await api.get(f"/api/sites/demo/events?after_seq={cursor}&limit={limit}")
            seen += [(e["epoch"], e["seq"]) for e in body["events"]]
            cursor = body["next_after_seq"]
        assert sorted(seen) == sorted([(TEST_EPOCH, s) for s in range(1, 6)]
                                      + [(other, s) for s in range(1, 4)]), limit
    body = await api.get(f"/api/sites/demo/events?epoch={other}")
    assert [(e["epoch"], e["seq"], e["device"]) for e in body["events"]] == [
        (other, 1, "meter-2"), (other, 2, "meter-2"), (other, 3, "meter-2")]


async def test_events_default_limit_is_100(api: Api) -> None:
    await api.ingest("demo", [env(seq, "door-1", "access.denied", {"card": str(seq)}, T0)
                              for seq in range(1, 131)])
    body = await api.get("/api/sites/demo/events")
    assert len(body["events"]) == 100
    assert body["next_after_seq"] == 100


async def test_events_filter_by_kind_and_envelope_fields(api: Api) -> None:
    await seed_demo(api)
    body = await api.get("/api/sites/demo/events?kind=device.offline")
    [ev] = body["events"]
    assert ev["seq"] == 2 and ev["device"] == "meter-2" and ev["kind"] == "device.offline"
    assert ev["data"] == {"reason": "timeout", "detail": "no reply"}
    assert ev["ts"] == "2026-03-01T00:05:00.000Z"
    assert ev["ts_local"] == "2026-03-01T08:05:00.000+08:00"
    assert ev["priority"] == 1
    uuid.UUID(ev["id"])
    body = await api.get("/api/sites/demo/events?kind=meter.reading&after_seq=1")
    assert [e["seq"] for e in body["events"]] == [3]


@pytest.mark.parametrize(("query", "field", "why"), [
    ("after_seq=abc", "after_seq", "integer"),
    ("after_seq=-1", "after_seq", "between"),
    ("limit=0", "limit", "between 1 and 1000"),
    ("limit=1001", "limit", "between 1 and 1000"),
    ("limit=ten", "limit", "integer"),
])
async def test_events_bad_parameters_name_the_field(api: Api, query: str, field: str,
                                                    why: str) -> None:
    await seed_demo(api)
    body = await api.get(f"/api/sites/demo/events?{query}", 400)
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["field"] == field
    zh, en = body["error"]["message"].split(" / ", 1)
    assert why in en and zh


async def test_unknown_api_path_is_json_404(api: Api) -> None:
    body = await api.get("/api/nothing-here", 404)
    assert body["error"]["code"] == "not_found"


async def test_healthz_reports_database_and_process_parts(api: Api, db_url: str) -> None:
    body = await api.get("/healthz")
    assert body["status"] == "ok" and body["db"] == {"ok": True}
    # With the process status wired in, a disconnected ingest makes the console unhealthy.
    state = {"connected": False}
    app = create_app(Settings(database_url=db_url), api.sessions, api.clock,
                     status=lambda: {"ingest": {"ok": state["connected"],
                                                "connected": state["connected"],
                                                "counters": {"ingest_batches": 4}}})
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/healthz")
        assert resp.status == 503
        body = await resp.json()
        assert body["status"] == "degraded"
        assert body["ingest"]["counters"] == {"ingest_batches": 4}
        state["connected"] = True
        resp = await client.get("/healthz")
        assert resp.status == 200 and (await resp.json())["ingest"]["connected"] is True


async def test_index_page_lists_sites_devices_and_escapes(api: Api) -> None:
    await seed_demo(api)
    await api.ingest("demo", [reading(4, "<script>alert(1)</script>", T0, voltage=1.5)])
    resp = await api.client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert '<script src="/ui/shell.js" defer>' in page  # inside the console shell
    assert "meter-1" in page and "1235.5" in page and "电压 V 230.1" in page
    assert 'data-en="Offline">离线' in page  # meter-2
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "T0" not in page and "+08:00" not in page  # site time to the minute, no ISO
