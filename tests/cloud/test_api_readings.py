"""``/api/devices/{device}/readings`` and the OpenAPI document's completeness."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from aiohttp import web

from cloud.features import install
from cloud.ingest.handlers import HandlerRegistry
from cloud.openapi_doc import openapi_json
from tests.cloud import test_api
from tests.cloud.test_api import T0, Api, reading

api = test_api.api  # the same real-database app fixture


def q(ts: str) -> str:
    return quote(ts, safe="")


async def seed(api: Api) -> None:
    await api.ingest("demo", [
        reading(1, "meter-1", T0, voltage=230.1, energy_import_kwh=1234.56),
        reading(2, "meter-1", T0 + timedelta(minutes=30), voltage=229.9),
        reading(3, "meter-1", T0 + timedelta(hours=1), energy_import_kwh=1300.0),
    ])


async def test_readings_window_values_are_exact_strings_with_local_time(api: Api) -> None:
    await seed(api)
    body = await api.get("/api/devices/meter-1/readings"
                         f"?since={q('2026-03-01T08:00:00+08:00')}&until=2026-03-01T01:00:00Z")
    assert body["site"] == "demo" and body["device"] == "meter-1"
    # until is exclusive: the reading at 01:00Z is not included.
    assert [(r["ts"], r["name"], r["value"]) for r in body["readings"]] == [
        ("2026-03-01T00:00:00.000Z", "energy_import_kwh", "1234.56"),
        ("2026-03-01T00:00:00.000Z", "voltage", "230.1"),
        ("2026-03-01T00:30:00.000Z", "voltage", "229.9"),
    ]
    assert body["readings"][0]["ts_local"] == "2026-03-01T08:00:00.000+08:00"
    assert body["readings"][0]["unit"] == "kWh"
    assert body["since"] == "2026-03-01T00:00:00.000Z"
    assert body["truncated"] is False


async def test_readings_default_window_is_last_day_by_the_clock(api: Api) -> None:
    await seed(api)
    body = await api.get("/api/devices/meter-1/readings?name=energy_import_kwh")
    assert [r["value"] for r in body["readings"]] == ["1234.56", "1300"]
    api.clock.advance(24 * 3600 + 1800)  # now 02:30 next day: only readings after 02:30 today
    body = await api.get("/api/devices/meter-1/readings")
    assert body["readings"] == []


async def test_readings_filter_by_names_and_limit(api: Api) -> None:
    await seed(api)
    body = await api.get("/api/devices/meter-1/readings?name=voltage")
    assert [r["value"] for r in body["readings"]] == ["230.1", "229.9"]
    body = await api.get("/api/devices/meter-1/readings?name=voltage,energy_import_kwh&limit=2")
    assert len(body["readings"]) == 2 and body["truncated"] is True


async def test_ambiguous_device_key_needs_site(api: Api) -> None:
    await seed(api)
    await api.ingest("north", [reading(1, "meter-1", T0, voltage=218.0)])
    body = await api.get("/api/devices/meter-1/readings", 409)
    assert body["error"]["code"] == "ambiguous_device"
    assert body["error"]["field"] == "site"
    assert body["error"]["sites"] == ["demo", "north"]
    assert "?site=" in body["error"]["message"]
    body = await api.get("/api/devices/meter-1/readings?site=north")
    assert [(r["name"], r["value"]) for r in body["readings"]] == [("voltage", "218")]
    assert body["site"] == "north"


async def test_unknown_device_or_site_is_404(api: Api) -> None:
    await seed(api)
    body = await api.get("/api/devices/meter-9/readings", 404)
    assert body["error"]["field"] == "device"
    body = await api.get("/api/devices/meter-1/readings?site=nowhere", 404)
    assert body["error"]["field"] == "site"


async def test_bad_times_are_400_naming_the_field(api: Api) -> None:
    await seed(api)
    cases = {
        "since=yesterday": ("since", "ISO 8601"),
        "since=2026-03-01T08:00:00": ("since", "UTC offset"),
        "until=2026-13-01T00:00:00Z": ("until", "ISO 8601"),
        "since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z": ("since", "earlier"),
        "limit=0": ("limit", "between"),
    }
    for query, (field, why) in cases.items():
        body = await api.get(f"/api/devices/meter-1/readings?{query}", 400)
        assert body["error"]["field"] == field, query
        assert why in body["error"]["message"], query


async def test_openapi_documents_every_route_and_parameter(api: Api) -> None:
    doc = await api.get("/api/openapi.json")
    assert doc["openapi"].startswith("3.1")
    app = web.Application()
    install(app, HandlerRegistry())  # every feature's routes, as create_app adds them
    app.router.add_get("/api/openapi.json", openapi_json)
    routes = {(r.resource.canonical, r.method.lower()) for r in app.router.routes()
              if r.resource is not None and r.method != "HEAD"}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    for path, ops in doc["paths"].items():
        for op in ops.values():
            path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert path_params == {seg[1:-1] for seg in path.split("/")
                                   if seg.startswith("{")}, path
            assert op["responses"], path
    events = doc["paths"]["/api/sites/{site}/events"]["get"]
    assert {p["name"] for p in events["parameters"]} == {
        "site", "after_seq", "kind", "epoch", "limit"}
    readings = doc["paths"]["/api/devices/{device}/readings"]["get"]
    assert {p["name"] for p in readings["parameters"]} == {
        "device", "site", "since", "until", "name", "limit"}
    # Every $ref resolves.
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    schemas = doc["components"]["schemas"]
    assert refs and all(r.rsplit("/", 1)[1] in schemas for r in refs)
