"""The cockpit benchmark (``python -m benchmarks cockpit``) still runs end to end with tiny
numbers — fill, console, cockpits, ingest, the two request loops — so it cannot rot between
the times someone measures with the issue's figures."""

from __future__ import annotations

import pytest

from benchmarks.cockpit import Options, bench, parser
from tests.support.services import pg_admin_url


def test_the_cockpit_benchmark_runs_with_tiny_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTYARD_BENCH_PG_URL", pg_admin_url())
    fig, res = bench(Options(sites=2, devices=5, days=2, cockpits=2, rate=500, seconds=5))
    assert res.rollup_rows > 0, "the fill wrote no rollups"
    for name, loop in (("company", res.company), ("site", res.site)):
        assert loop.latencies, f"no {name} view was requested"
        assert set(loop.statuses) == {200}, (name, loop.statuses)
    assert all(c["snapshot"] == 1 for c in res.cockpit_messages), res.cockpit_messages
    assert sum(c["tick"] + c["panels"] for c in res.cockpit_messages) > 0, \
        "the cockpits heard nothing of the events ingested"
    assert res.ingest["errors"] == 0
    assert res.ingest["events"] == res.ingest["offered"] == 2_500
    measures = [row[0] for row in fig.rows]
    assert any("p99" in m for m in measures) and any("RSS" in m for m in measures)


def test_the_issue_figures_are_the_defaults() -> None:
    a = parser().parse_args([])
    assert (a.sites, a.devices, a.days, a.cockpits, a.rate, a.seconds) == (50, 100, 30, 20,
                                                                            500, 60)
