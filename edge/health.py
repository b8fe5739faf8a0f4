"""``/healthz`` and ``/metrics`` for the people and systems watching a site's edge box.

``/healthz`` answers 200 whenever the process runs, and its body says what is degraded: a
load balancer should not restart a gateway because the cloud link is down (restarting would
not help, and the outbox is doing its job). ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiohttp import web

from contract import Clock, SystemClock
from drivers.base import DriverStats
from edge.metrics import EdgeSnapshot, render_edge
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink

log = structlog.get_logger("edge.health")

STALE_BACKLOG_S = 300.0
"""An unacked event older than this means the cloud is not keeping up (or not reachable)."""


class OnlineSource(Protocol):
    def online(self) -> dict[str, bool]: ...


@dataclass(frozen=True, slots=True)
class BusView:
    """What the health server reads of one bus: its driver's counters and who is online."""

    stats: DriverStats
    driver: OnlineSource | None = None


class HealthServer:
    def __init__(self, site: str, outbox: AsyncOutbox, uplink: Uplink | None,
                 buses: Mapping[str, BusView], devices_total: int, *,
                 host: str = "127.0.0.1", port: int = 9100, clock: Clock | None = None,
                 extra: Mapping[str, Any] | None = None,
                 routes: Sequence[web.RouteDef] = ()) -> None:
        self.site = site
        self._routes = list(routes)
        self.host = host
        self.port = port
        self._outbox = outbox
        self._uplink = uplink
        self._buses = buses
        self._devices_total = devices_total
        self._clock: Clock = clock or SystemClock()
        self._extra = extra
        self._log = log.bind(site=site)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def snapshot(self) -> EdgeSnapshot:
        box = await self._outbox.stats()
        oldest = box["oldest"]
        age = None if oldest is None else max(0.0, (self._clock.now() - oldest).total_seconds())
        online = 0
        for view in self._buses.values():
            if view.driver is not None:
                online += sum(1 for up in view.driver.online().values() if up)
        up = self._uplink
        return EdgeSnapshot(
            site=self.site, uplink_connected=bool(up and up.connected),
            outbox_depth=box["depth"], oldest_unacked_s=age, outbox_bytes=box["bytes"],
            buffer_dropped_total=box["dropped_total"],
            published_events_total=up.counters.published_events if up else 0,
            publish_rate=up.rate.rate() if up else 0.0,
            devices_online=online, devices_total=self._devices_total,
            bus_stats={bus: v.stats for bus, v in self._buses.items()})

    async def healthz(self, _request: web.Request) -> web.Response:
        s = await self.snapshot()
        degraded: list[str] = []
        if not s.uplink_connected:
            degraded.append("uplink disconnected")
        if s.devices_online < s.devices_total:
            degraded.append(f"{s.devices_total - s.devices_online} of {s.devices_total} "
                            "devices offline")
        if s.oldest_unacked_s is not None and s.oldest_unacked_s > STALE_BACKLOG_S:
            degraded.append(f"oldest unacked event is {round(s.oldest_unacked_s)} s old")
        if s.buffer_dropped_total:
            degraded.append(f"{s.buffer_dropped_total} telemetry events dropped under budget")
        body: dict[str, Any] = {
            "site": s.site,
            "status": "degraded" if degraded else "ok",
            "degraded": degraded,
            "uplink": {"connected": s.uplink_connected},
            "outbox": {"depth": s.outbox_depth,
                       "oldest_unacked_s": (None if s.oldest_unacked_s is None
                                            else round(s.oldest_unacked_s, 3)),
                       "bytes": s.outbox_bytes, "dropped_total": s.buffer_dropped_total},
            "devices": {"online": s.devices_online, "total": s.devices_total},
        }
        if self._extra:
            body.update(self._extra)
        return web.json_response(body, dumps=_dumps)

    async def metrics(self, _request: web.Request) -> web.Response:
        text = render_edge(await self.snapshot())
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Prometheus-Format": "0.0.4"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.add_routes(self._routes)
        return app

    async def serve(self) -> None:
        """Listen until cancelled, then close the socket."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self._log.info("health server listening", url=self.url)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
