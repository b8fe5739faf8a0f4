"""What every driver shares: the emit callback and the counters the edge shows at /metrics.

Drivers never write to the outbox themselves: they hand events to ``Emit``, which returns only
once the event is durable, so a driver that awaits it cannot run ahead of storage.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Awaitable, Callable

from contract import NewEvent

Emit = Callable[[NewEvent], Awaitable[None]]

_METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _check_name(name: str) -> str:
    """Reject names Prometheus cannot expose, at the call site rather than at scrape time."""
    if not _METRIC_NAME.match(name):
        raise ValueError(f"metric name {name!r} is not Prometheus-friendly ([a-zA-Z0-9_])")
    return name


class DriverStats:
    """Named counters, gauges and a window of recent poll latencies (seconds).

    Counters only go up (Prometheus ``counter``); gauges are set to the latest value. Latencies
    keep the last ``window`` samples so quantiles describe current behaviour, not all history.
    """

    def __init__(self, window: int = 1000) -> None:
        if window < 1:
            raise ValueError("window must be ≥ 1")
        self.counters: dict[str, int] = {}
        self.gauges: dict[str, float] = {}
        self.latencies: deque[float] = deque(maxlen=window)

    def inc(self, name: str, n: int = 1) -> None:
        if n < 0:
            raise ValueError("counters only go up")
        key = _check_name(name)
        self.counters[key] = self.counters.get(key, 0) + n

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)

    def set_gauge(self, name: str, value: float) -> None:
        self.gauges[_check_name(name)] = float(value)

    def observe_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile of the recent latencies; None before the first sample."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be within [0, 1]")
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        # Round before ceil: 0.99 × 100 is 99.00000000000001 in binary floating point.
        rank = max(1, math.ceil(round(q * len(ordered), 9)))
        return ordered[min(rank, len(ordered)) - 1]

    def p50(self) -> float | None:
        return self.quantile(0.5)

    def p99(self) -> float | None:
        return self.quantile(0.99)
