"""DriverStats: the numbers the edge renders at /metrics."""

from __future__ import annotations

import pytest

from drivers.base import DriverStats


def test_counters_add_up_and_default_to_zero() -> None:
    stats = DriverStats()
    stats.inc("polls_ok")
    stats.inc("polls_ok", 4)
    assert stats.get("polls_ok") == 5
    assert stats.get("poll_timeouts") == 0
    assert stats.counters == {"polls_ok": 5}


def test_names_must_be_prometheus_friendly() -> None:
    stats = DriverStats()
    with pytest.raises(ValueError):
        stats.inc("poll-timeouts")
    with pytest.raises(ValueError):
        stats.set_gauge("online devices", 1)
    with pytest.raises(ValueError):
        stats.inc("polls_ok", -1)


def test_quantiles_over_a_bounded_window() -> None:
    stats = DriverStats(window=100)
    assert stats.p99() is None
    for ms in range(1, 101):
        stats.observe_latency(ms / 1000)
    assert stats.p50() == 0.05
    assert stats.p99() == 0.099
    # Old samples leave the window: 100 slow polls replace the fast ones.
    for _ in range(100):
        stats.observe_latency(2.0)
    assert stats.p50() == 2.0
    assert len(stats.latencies) == 100


def test_gauges_hold_the_latest_value() -> None:
    stats = DriverStats()
    stats.set_gauge("devices_online", 3)
    stats.set_gauge("devices_online", 2)
    assert stats.gauges == {"devices_online": 2.0}
