"""The edge's health report to the console (``up/health``, ``contract.health``).

While the uplink is connected it publishes, right after each (re)connect and then every
``interval_s`` (15 s), what the console cannot learn from ``up/status``: how many events the
outbox still holds and how old the oldest one is (a site that is online but not draining shows
here first), how many devices of each family answer, how many patrol receivers are heard.

The report is a side channel: building or publishing it never blocks the events and never
ends the uplink session. A failure is logged and counted (``counters``) and the next turn
tries again; a lost report is replaced 15 s later (QoS 1, not retained: only the latest
matters, and a report retained at the broker would describe a past the edge has left).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any, TypeVar

import aiomqtt
import structlog

from contract import Clock, topics
from contract.health import (
    FAMILIES,
    DeviceCount,
    Health,
    OutboxHealth,
    ReceiverCount,
    encode_health,
)
from edge.outbox import AsyncOutbox
from edge.outbox.store import Outbox

log = structlog.get_logger("edge.health_report")

DEFAULT_INTERVAL_S = 15.0
T = TypeVar("T")

#: Devices per family, read when a report is built (a family it cannot judge is left out).
DeviceCounts = Callable[[], Mapping[str, DeviceCount]]
#: Patrol receivers heard, or None on a site without patrol.
ReceiverCounts = Callable[[], ReceiverCount | None]


def _edge_version() -> str:
    try:
        return metadata.version("courtyard")
    except metadata.PackageNotFoundError:
        return "dev"


#: Read once at import: not on the event loop at every report.
EDGE_VERSION = _edge_version()


@dataclass(slots=True)
class ReportCounters:
    sent: int = 0
    #: Reports that could not be built (a part of the edge raised): logged, none sent.
    build_failed: int = 0
    #: Parts (devices, patrol receivers) that raised and were left out of a report.
    part_failed: int = 0
    #: Reports built but not published (the link dropped or timed out).
    publish_failed: int = 0


def count_online(states: Iterable[bool | None]) -> DeviceCount:
    """Online among ``states`` (None: not known yet, so not online)."""
    seen = list(states)
    return DeviceCount(sum(1 for s in seen if s is True), len(seen))


class HealthReporter:
    """Builds and publishes ``up/health``; the uplink runs ``run(client)`` per session."""

    def __init__(self, site: str, outbox: AsyncOutbox, clock: Clock, *,
                 interval_s: float = DEFAULT_INTERVAL_S, devices: DeviceCounts | None = None,
                 receivers: ReceiverCounts | None = None, version: str = EDGE_VERSION,
                 call_timeout: float = 10.0) -> None:
        if interval_s <= 0:
            raise ValueError("health interval_s must be > 0")
        self.site = site
        self.interval_s = interval_s
        self.counters = ReportCounters()
        self._outbox = outbox
        self._clock = clock
        self._devices = devices
        self._receivers = receivers
        self._version = version or "dev"
        self._timeout = call_timeout
        self._started = clock.monotonic()
        self._log = log.bind(site=site)

    async def build(self) -> Health:
        """The report as of now (outbox read in one hop to its thread)."""
        depth, oldest = await self._outbox.read(_outbox_counts)
        now = self._clock.now()
        age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
        found: Mapping[str, DeviceCount] = self._part("devices", self._devices, {})
        devices = {f: c for f, c in found.items() if f in FAMILIES}
        return Health(ts=now,
                      outbox=OutboxHealth(depth=depth, oldest_ts=oldest if depth else None,
                                          oldest_age_s=age if depth else None),
                      devices=devices,
                      patrol_receivers=self._part("patrol_receivers", self._receivers, None),
                      uptime_s=max(0.0, self._clock.monotonic() - self._started),
                      version=self._version)

    def _part(self, name: str, read: Callable[[], T] | None, default: T) -> T:
        """One part of the report; a part that raises is left out (logged, counted), so the
        outbox numbers still go out when, say, the patrol service is broken."""
        if read is None:
            return default
        try:
            return read()
        except Exception:
            self.counters.part_failed += 1
            self._log.exception("健康报告部分内容读取失败 / health report part failed", part=name)
            return default

    async def publish_once(self, client: aiomqtt.Client) -> bool:
        """Build and publish one report; False (logged, counted) when either failed."""
        try:
            payload = encode_health(await self.build())
        except Exception:  # a part of the edge misbehaving must not silence the rest
            self.counters.build_failed += 1
            self._log.exception("健康报告生成失败 / health report could not be built")
            return False
        try:
            await client.publish(topics.up_health(self.site), payload, qos=1, retain=False,
                                 timeout=self._timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the session notices a dead link itself
            self.counters.publish_failed += 1
            self._log.warning("健康报告发送失败 / health report not published", error=repr(exc))
            return False
        self.counters.sent += 1
        return True

    async def run(self, client: aiomqtt.Client) -> None:
        """Until cancelled: a report now, then one every ``interval_s``."""
        while True:
            await self.publish_once(client)
            await asyncio.sleep(self.interval_s)


def _outbox_counts(box: Outbox) -> tuple[int, datetime | None]:
    """Depth and the oldest unacked event's time, read together (on the outbox thread)."""
    return box.depth(), box.oldest_unacked_ts()


def family_counts(*, meters: Iterable[Mapping[str, bool]], meters_total: int,
                  access: Iterable[bool | None] = (), elevators: Iterable[bool | None] = (),
                  gates: Iterable[bool | None] = ()) -> dict[str, DeviceCount]:
    """Devices per family from what the edge's parts know now: the Modbus buses' meters
    (online per bus driver, against the site's configured total), OSDP readers (``access``),
    elevator boxes and the gates' relay boards. A family with no device here is left out (the
    console shows it as not reported, not as zero of zero)."""
    out: dict[str, DeviceCount] = {}
    if meters_total:
        online = sum(1 for states in meters for up in states.values() if up)
        out["meter"] = DeviceCount(min(online, meters_total), meters_total)
    for family, states in (("access", access), ("elevator", elevators), ("gate", gates)):
        c = count_online(states)
        if c.total:
            out[family] = c
    return out


def heard_receivers(receivers: Mapping[str, Mapping[str, Any]]) -> ReceiverCount:
    """Patrol receivers heard lately, from the patrol service's status (``receivers``)."""
    heard = sum(1 for r in receivers.values() if r.get("state") == "heard")
    return ReceiverCount(heard, len(receivers))
