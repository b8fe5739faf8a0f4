"""Sites, devices, the event log and meter readings: the home page, health, the lists every
role starts from, and what ingest derives from readings and device status (online/offline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contract import Kind

if TYPE_CHECKING:
    from aiohttp import web

    from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """The home page, health, sites, devices (and their page), the event log and readings;
    readings, device status and device families from ingest, and each edge's health report."""
    # Adapters load only when the console wires the feature (cloud.features).
    from cloud.sites import openapi as _openapi  # noqa: F401  (its paths join the document)
    from cloud.sites.device_family import KIND_BY_PREFIX, on_family_event
    from cloud.sites.device_handlers import on_buffer_dropped, on_device_status
    from cloud.sites.devices_page import devices_asset, devices_page
    from cloud.sites.edge_health import store_report
    from cloud.sites.health import healthz
    from cloud.sites.index import index, overview_asset
    from cloud.sites.meter_handlers import on_meter_reading
    from cloud.sites.readings import device_readings
    from cloud.sites.routes import device_events, list_devices, list_events, list_sites

    app.router.add_get("/", index, name="index")
    app.router.add_get("/overview/static/{name}", overview_asset, name="overview_asset")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/api/sites", list_sites, name="sites")
    app.router.add_get("/api/sites/{site}/devices", list_devices, name="site_devices")
    app.router.add_get("/api/sites/{site}/devices/{device}/events", device_events,
                       name="device_events")
    app.router.add_get("/api/sites/{site}/events", list_events, name="site_events")
    app.router.add_get("/devices", devices_page, name="devices_page")
    app.router.add_get("/devices/static/{name}", devices_asset, name="devices_asset")
    app.router.add_get("/api/devices/{device}/readings", device_readings,
                       name="device_readings")
    registry.register(Kind.METER_READING, on_meter_reading)
    registry.register(Kind.DEVICE_ONLINE, on_device_status)
    registry.register(Kind.DEVICE_OFFLINE, on_device_status)
    registry.register(Kind.BUFFER_DROPPED, on_buffer_dropped)
    for prefix in KIND_BY_PREFIX:  # the family a device's events prove (the device page)
        registry.register_prefix(prefix, on_family_event)
    registry.health_sink = store_report  # each edge's latest up/health report
