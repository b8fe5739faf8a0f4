"""Equipment statistics on a small example worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cloud.maintenance.model import Asset
from cloud.maintenance.stats import (
    FaultRecord,
    OrderRecord,
    asset_stats,
    faults_per_asset,
    fleet_stats,
    sla_compliance,
)

H = timedelta(hours=1)


def t(day: int, hour: int = 0, month: int = 1, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


SINCE, UNTIL = t(1), t(11)  # ten days: 240 h

FAULTS = [
    FaultRecord("A", t(2, 0), t(2, 4)),   # 4 h
    FaultRecord("A", t(5, 0), t(5, 8)),   # 8 h
    FaultRecord("A", t(5, 6), t(5, 10)),  # 4 h, overlaps the previous: down 00:00–10:00
    FaultRecord("B", t(31, 22, month=12, year=2026), t(1, 2)),  # before the window: 2 h inside
    FaultRecord("B", t(10, 12)),          # still open: down until the window's end, 12 h
]


def test_mtbf_and_mttr_by_hand() -> None:
    a = asset_stats("A", FAULTS, SINCE, UNTIL)
    # downtime 4 h + 10 h (overlap counted once); operating 240 − 14 = 226 h; 3 faults
    assert (a.faults, a.downtime, a.operating) == (3, 14 * H, 226 * H)
    assert a.mtbf == 226 * H / 3 == timedelta(hours=75, minutes=20)
    assert a.mttr == (4 + 8 + 4) * H / 3 == timedelta(hours=5, minutes=20)

    b = asset_stats("B", FAULTS, SINCE, UNTIL)
    # only the fault that started in the window counts; both take time out of it
    assert (b.faults, b.downtime, b.operating) == (1, 14 * H, 226 * H)
    assert b.mtbf == 226 * H
    assert b.mttr is None  # no fault of the window was resolved


def test_an_asset_operates_from_its_install_date_site_time() -> None:
    c = Asset("C", "site-a", "pump", "Grundfos", "CR", "SN9", date(2027, 1, 6))
    stats = fleet_stats([c, "A"], FAULTS, SINCE, UNTIL)
    # installed 2027-01-06 00:00 Shanghai = 01-05 16:00 UTC: 5 days 8 hours to the end
    assert stats["C"].operating == 128 * H
    assert stats["C"].faults == 0 and stats["C"].mtbf is None and stats["C"].mttr is None
    assert stats["A"].faults == 3


def test_faults_per_asset() -> None:
    assert faults_per_asset(FAULTS) == {"A": 3, "B": 2}


def test_sla_compliance_is_a_decimal_percentage() -> None:
    orders = [
        OrderRecord(t(1), t(2), t(1, 20)),   # on time
        OrderRecord(t(1), t(2), t(2)),       # closed exactly at the due time: on time
        OrderRecord(t(3), t(4), t(5)),       # late
        OrderRecord(t(8), t(9)),             # open and past due at t(11): late
        OrderRecord(t(10), t(12)),           # open, not yet due: not judged
    ]
    assert sla_compliance(orders, UNTIL) == Decimal("50.00")
    assert sla_compliance(orders[:3], UNTIL) == Decimal("66.67")  # 2/3, rounded half up
    assert sla_compliance(orders[4:], UNTIL) is None


def test_naive_times_and_empty_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        asset_stats("A", FAULTS, datetime(2027, 1, 1), UNTIL)
    with pytest.raises(ValueError, match="window is empty"):
        asset_stats("A", FAULTS, UNTIL, SINCE)
