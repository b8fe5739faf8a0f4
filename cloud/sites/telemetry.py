"""Optional export of meter readings to InfluxDB (v2 write API), off the ingest path.

The cloud database is the source of truth; InfluxDB is a copy for dashboards. An exporter task
reads ``readings`` past its stored cursor, writes them, and moves the cursor only after the
write succeeded — so while InfluxDB is down nothing is lost, it is only late. Readings younger
than ``settle_seconds`` wait one more round: on PostgreSQL a concurrent ingest transaction may
commit a smaller id after a larger one, and the cursor must not jump over it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from influxdb_client import Point, WritePrecision
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Device, Reading, Site, TelemetryCursor
from contract import Clock, SystemClock

log = structlog.get_logger(__name__)

MEASUREMENT = "meter"


def build_points(rows: Sequence[Any]) -> list[Point]:
    """One point per (site, device, time): tags site/device/unit, one float field per register.

    ``unit`` is the residential unit the meter serves (e.g. ``1-101``), which is what a
    dashboard filters by; the register name already implies the physical unit.
    """
    points: dict[tuple[str, str, str | None, datetime], Point] = {}
    for r in rows:
        key = (r.site, r.device, r.unit_ref, r.ts)
        point = points.get(key)
        if point is None:
            point = Point(MEASUREMENT).tag("site", r.site).tag("device", r.device)
            if r.unit_ref:
                point = point.tag("unit", r.unit_ref)
            point = point.time(r.ts, WritePrecision.MS)
            points[key] = point
        point.field(r.name, float(r.value))
    return list(points.values())


class TelemetryExporter:
    """Copies ``readings`` to InfluxDB in id order; one exporter per cursor name."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], url: str, token: str,
                 org: str, bucket: str, batch_size: int = 5000, clock: Clock | None = None, *,
                 cursor_name: str = "influxdb", settle_seconds: float = 2.0,
                 poll_interval: float = 1.0, timeout: float = 10.0,
                 max_backoff: float = 60.0) -> None:
        self._sessions = session_factory
        self._url, self._token, self._org, self._bucket = url, token, org, bucket
        self._batch_size = batch_size
        self._clock: Clock = clock or SystemClock()
        self._cursor_name = cursor_name
        self._settle = timedelta(seconds=settle_seconds)
        self._poll_interval = poll_interval
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._client: InfluxDBClientAsync | None = None
        self.counters: dict[str, int] = {"telemetry_exported": 0, "telemetry_write_failures": 0}

    async def cursor(self) -> int:
        async with self._sessions() as session:
            row = await session.get(TelemetryCursor, self._cursor_name)
            return row.last_id if row is not None else 0

    async def _pending(self, after: int) -> list[Any]:
        newest = self._clock.now() - self._settle
        query = (
            select(Reading.id, Reading.ts, Reading.name, Reading.value,
                   Site.slug.label("site"), Device.key.label("device"), Device.unit_ref)
            .join(Site, Site.id == Reading.site_id)
            .join(Device, Device.id == Reading.device_id)
            .where(Reading.id > after, Reading.received_at <= newest)
            .order_by(Reading.id)
            .limit(self._batch_size)
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).all())

    async def _write(self, points: list[Point]) -> None:
        if self._client is None:
            self._client = InfluxDBClientAsync(url=self._url, token=self._token, org=self._org,
                                               timeout=int(self._timeout * 1000))
        async with asyncio.timeout(self._timeout + 1):
            # Each point carries its own (millisecond) precision.
            await self._client.write_api().write(bucket=self._bucket, org=self._org,
                                                 record=points)

    async def _advance(self, last_id: int) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(TelemetryCursor, self._cursor_name, with_for_update=True)
            if row is None:
                session.add(TelemetryCursor(name=self._cursor_name, last_id=last_id,
                                            updated_at=self._clock.now()))
            elif last_id > row.last_id:
                row.last_id = last_id
                row.updated_at = self._clock.now()

    async def export_once(self) -> int:
        """Export one batch; return how many readings went out (0: nothing ready).

        Raises when the write fails; the cursor then stays where it was.
        """
        rows = await self._pending(await self.cursor())
        if not rows:
            return 0
        await self._write(build_points(rows))
        await self._advance(int(rows[-1].id))
        self.counters["telemetry_exported"] += len(rows)
        log.debug("telemetry.exported", readings=len(rows), cursor=int(rows[-1].id))
        return len(rows)

    async def run(self) -> None:
        """Export until cancelled; back off with jitter while InfluxDB is unreachable."""
        backoff = 1.0
        try:
            while True:
                try:
                    n = await self.export_once()
                    backoff = 1.0
                    if n < self._batch_size:
                        await asyncio.sleep(self._poll_interval)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.counters["telemetry_write_failures"] += 1
                    delay = backoff * random.uniform(0.5, 1.5)
                    log.warning("telemetry.export_failed", url=self._url, retry_in=round(delay, 2),
                                error=f"{type(exc).__name__}: {exc}"[:300])
                    await asyncio.sleep(delay)
                    backoff = min(backoff * 2, self._max_backoff)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
