"""The scale benchmark (``python -m benchmarks scale``) still runs end to end with tiny numbers
— `courtyard cloud serve --workers 2`, the read API mix, live ingest from two sites, a backlog
drained — so it cannot rot between the times someone measures with the issue's figures."""

from __future__ import annotations

from benchmarks.__main__ import BENCHES
from benchmarks.bench_scale import SMOKE, Sizes, run_sized


def test_the_scale_benchmark_runs_with_tiny_numbers() -> None:
    fig = run_sized(SMOKE)  # raises when a request fails or an outbox is not drained
    rows = {what: value for what, value, _ in fig.rows}
    assert rows["@20 statuses (0 = client timeout)"] == "200: 20"
    assert any(w.startswith("live: acked") for w in rows)
    assert rows["backlog queued in the outboxes (2,000)"]
    assert any(w.startswith("backlog drained") for w in rows)
    assert all("PostgreSQL CPU" not in w or "%" in v for w, v in rows.items())


def test_the_issue_figures_are_the_defaults() -> None:
    s = Sizes()
    assert (s.workers, s.api_rate, s.live_rate, s.backlog) == (2, 300.0, 12_000.0, 1_000_000)
    assert BENCHES["scale"] == "benchmarks.bench_scale"
