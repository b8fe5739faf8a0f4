"""Prometheus text exposition for the edge, rendered by hand.

The format is a few lines of text; writing it here keeps the edge box free of another
dependency and makes the exact output easy to test. ``EdgeSnapshot`` is what the health
server gathers once per scrape; ``render_metrics`` turns it into the text.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from contract import Clock
from drivers.base import DriverStats

POLL_ERROR_COUNTERS: Mapping[str, str] = {
    "poll_timeouts": "timeout",
    "poll_exceptions": "exception",
    "poll_garbage": "garbage",
    "poll_bus_down": "bus_down",
}
"""Driver counters that are poll errors, and the ``kind`` label each one gets."""

QUANTILES = (0.5, 0.99)


class RateMeter:
    """Events per second over a sliding window (one minute by default), for publish rate."""

    def __init__(self, clock: Clock, window: float = 60.0) -> None:
        self._clock = clock
        self.window = window
        self._marks: deque[tuple[float, int]] = deque()
        self._sum = 0

    def add(self, n: int) -> None:
        self._marks.append((self._clock.monotonic(), n))
        self._sum += n
        self._trim()

    def rate(self) -> float:
        self._trim()
        return self._sum / self.window

    def _trim(self) -> None:
        horizon = self._clock.monotonic() - self.window
        while self._marks and self._marks[0][0] < horizon:
            self._sum -= self._marks.popleft()[1]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    type: str  # "gauge" | "counter"
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EdgeSnapshot:
    """What the edge looks like at one instant, read once per scrape or health check."""

    site: str
    uplink_connected: bool
    outbox_depth: int
    oldest_unacked_s: float | None
    outbox_bytes: int
    buffer_dropped_total: int
    published_events_total: int
    publish_rate: float
    devices_online: int
    devices_total: int
    bus_stats: Mapping[str, DriverStats]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def render(metrics: Iterable[Metric]) -> str:
    """Prometheus text format 0.0.4: HELP and TYPE lines, then one line per sample."""
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {m.help}")
        lines.append(f"# TYPE {m.name} {m.type}")
        for labels, value in m.samples:
            if labels:
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                lines.append(f"{m.name}{{{inner}}} {_number(value)}")
            else:
                lines.append(f"{m.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _one(name: str, kind: str, help_text: str, value: float) -> Metric:
    return Metric(name, kind, help_text, [({}, value)])


def edge_metrics(s: EdgeSnapshot) -> list[Metric]:
    """The edge's metric families, from one snapshot."""
    errors = Metric("courtyard_poll_errors_total", "counter",
                    "Failed device polls by bus and cause.")
    latency = Metric("courtyard_poll_latency_seconds", "gauge",
                     "Recent poll round-trip latency quantiles by bus.")
    for bus, stats in sorted(s.bus_stats.items()):
        for counter, kind in POLL_ERROR_COUNTERS.items():
            errors.samples.append(({"bus": bus, "kind": kind}, stats.get(counter)))
        for q in QUANTILES:
            value = stats.quantile(q)
            if value is not None:
                latency.samples.append(({"bus": bus, "quantile": str(q)}, value))
    oldest = s.oldest_unacked_s if s.oldest_unacked_s is not None else 0.0
    return [
        _one("courtyard_outbox_depth", "gauge", "Events in the outbox not yet acked by the cloud.",
             s.outbox_depth),
        _one("courtyard_outbox_oldest_unacked_seconds", "gauge",
             "Age of the oldest unacked event (0 when none).", oldest),
        _one("courtyard_outbox_bytes", "gauge", "Bytes the unacked events take in the outbox.",
             s.outbox_bytes),
        _one("courtyard_devices_online", "gauge", "Devices currently answering.",
             s.devices_online),
        _one("courtyard_devices_total", "gauge", "Devices configured on this site.",
             s.devices_total),
        errors,
        latency,
        _one("courtyard_published_events_total", "counter",
             "Events published to the cloud (resends included).", s.published_events_total),
        _one("courtyard_publish_rate", "gauge", "Events published per second over the last minute.",
             s.publish_rate),
        _one("courtyard_buffer_dropped_total", "counter",
             "Telemetry events dropped under the outbox disk budget.", s.buffer_dropped_total),
        _one("courtyard_uplink_connected", "gauge", "1 while connected to the cloud broker.",
             1.0 if s.uplink_connected else 0.0),
    ]


def render_edge(s: EdgeSnapshot) -> str:
    return render(edge_metrics(s))
