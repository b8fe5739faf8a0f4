"""A scheduled bill run waits for the edge's backlog from before the period's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.jobs.console.period_data import delivered
from cloud.sites.edge_health import EdgeHealth

END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December, 00:00 in Shanghai


def health(edge_ts: datetime, oldest_age_s: float | None) -> EdgeHealth:
    return EdgeHealth(site_id=1, reported_at=edge_ts, edge_ts=edge_ts,
                      outbox_depth=0 if oldest_age_s is None else 5,
                      oldest_age_s=oldest_age_s, devices={}, patrol_receivers=None,
                      stale=False)


def test_a_site_without_an_edge_report_is_not_waited_for() -> None:
    assert delivered(None, END)


def test_a_report_from_before_the_end_cannot_say_the_end_was_sent() -> None:
    assert not delivered(health(END - timedelta(minutes=1), None), END)


def test_an_empty_outbox_after_the_end_means_everything_is_in() -> None:
    assert delivered(health(END + timedelta(seconds=5), None), END)


def test_an_event_buffered_before_the_end_is_waited_for_and_one_after_is_not() -> None:
    after = END + timedelta(hours=1)
    assert not delivered(health(after, 3601), END)  # buffered at 23:59:59
    assert delivered(health(after, 3599), END)  # buffered at 00:00:01, the new period's
