"""The console's HTTP API: route table here, one module per resource (aiohttp layout)."""

from __future__ import annotations

from aiohttp import web

from cloud.api.alarms import add_alarm_routes
from cloud.api.billing import add_billing_routes
from cloud.api.board import add_board_routes
from cloud.api.health import healthz
from cloud.api.index import index
from cloud.api.maintenance import add_maintenance_routes
from cloud.api.parking import add_parking_routes
from cloud.api.payments import add_payment_routes
from cloud.api.readings import device_readings
from cloud.api.records import add_record_routes
from cloud.api.rules import add_rules_routes
from cloud.api.sites import list_devices, list_events, list_sites
from cloud.api.workorder_pages import add_workorder_pages
from cloud.api.workorder_photos import add_workorder_photo_routes
from cloud.api.workorders import add_workorder_routes


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
    add_parking_routes(app)
    add_alarm_routes(app)
    add_board_routes(app)
    add_workorder_photo_routes(app)
    add_workorder_routes(app)
    add_maintenance_routes(app)
    add_rules_routes(app)
    add_workorder_pages(app)
    add_record_routes(app)
    add_billing_routes(app)
    add_payment_routes(app)
