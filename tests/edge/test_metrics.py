"""The Prometheus text the edge exposes, rendered by our own small renderer."""

from __future__ import annotations

from contract import FakeClock
from drivers.base import DriverStats
from edge.metrics import EdgeSnapshot, Metric, RateMeter, render, render_edge


def test_render_escapes_labels_and_formats_numbers() -> None:
    text = render([Metric("x_total", "counter", "Things.", [({"bus": 'a"b\\c'}, 3.0)]),
                   Metric("y", "gauge", "Ratio.", [({}, 0.25)])])
    assert text == ('# HELP x_total Things.\n# TYPE x_total counter\n'
                    'x_total{bus="a\\"b\\\\c"} 3\n'
                    "# HELP y Ratio.\n# TYPE y gauge\ny 0.25\n")


def test_rate_meter_counts_only_the_last_minute() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    meter.add(600)
    clock.advance(30)
    meter.add(600)
    assert meter.rate() == 20.0
    clock.advance(31)
    assert meter.rate() == 10.0


def test_edge_metrics_cover_outbox_devices_polls_and_uplink() -> None:
    stats = DriverStats()
    stats.inc("poll_timeouts", 4)
    stats.inc("poll_garbage")
    for ms in range(1, 101):
        stats.observe_latency(ms / 1000)
    snap = EdgeSnapshot(site="demo", uplink_connected=True, outbox_depth=12,
                        oldest_unacked_s=3.5, outbox_bytes=4096, buffer_dropped_total=7,
                        published_events_total=1000, publish_rate=16.5, devices_online=9,
                        devices_total=10, bus_stats={"tcp1": stats})
    lines = set(render_edge(snap).splitlines())
    for expected in (
        "courtyard_outbox_depth 12",
        "courtyard_outbox_oldest_unacked_seconds 3.5",
        "courtyard_outbox_bytes 4096",
        "courtyard_devices_online 9",
        "courtyard_devices_total 10",
        'courtyard_poll_errors_total{bus="tcp1",kind="timeout"} 4',
        'courtyard_poll_errors_total{bus="tcp1",kind="garbage"} 1',
        'courtyard_poll_errors_total{bus="tcp1",kind="exception"} 0',
        'courtyard_poll_latency_seconds{bus="tcp1",quantile="0.5"} 0.05',
        'courtyard_poll_latency_seconds{bus="tcp1",quantile="0.99"} 0.099',
        "courtyard_published_events_total 1000",
        "courtyard_publish_rate 16.5",
        "courtyard_buffer_dropped_total 7",
        "courtyard_uplink_connected 1",
        "# TYPE courtyard_poll_errors_total counter",
    ):
        assert expected in lines, expected
