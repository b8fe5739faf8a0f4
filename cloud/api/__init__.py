"""The console's HTTP API: route table here, one module per resource (aiohttp layout)."""

from __future__ import annotations

from aiohttp import web

from cloud.api.health import healthz
from cloud.api.index import index
from cloud.api.readings import device_readings
from cloud.api.sites import list_devices, list_events, list_sites


def setup_routes(app: web.Application) -> None:
    # Imported here: cloud.openapi imports cloud.api.respond, and this keeps import order simple.
    from cloud.openapi import openapi_json

    app.router.add_get("/", index, name="index")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/api/openapi.json", openapi_json, name="openapi")
    app.router.add_get("/api/sites", list_sites, name="sites")
    app.router.add_get("/api/sites/{site}/devices", list_devices, name="site_devices")
    app.router.add_get("/api/sites/{site}/events", list_events, name="site_events")
    app.router.add_get("/api/devices/{device}/readings", device_readings,
                       name="device_readings")
