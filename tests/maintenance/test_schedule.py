"""Preventive maintenance calendar: the elevator's simulated year and the other plans."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from cloud.maintenance.loader import load_plans
from cloud.maintenance.model import Asset, Plan, Tier
from cloud.maintenance.schedule import (
    add_months,
    occurrences,
    release,
    site_today,
    tier_hits,
)
from contract.clock import FakeClock

PLANS = Path(__file__).resolve().parents[2] / "configs" / "maintenance" / "plans.yaml"


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {p.id: p for p in load_plans(PLANS)}


def asset(kind: str = "elevator", installed: date = date(2020, 1, 1)) -> Asset:
    return Asset(f"{kind}-1", "site-a", kind, "Otis", "GeN2", "SN-1", installed,
                 warranty_until=date(2022, 1, 1), contract="MC-7", building="3")


def elevator_plan(start: date, ahead: int = 3) -> Plan:
    def tier(name: str, every: str) -> Tier:
        return Tier(name, name, name, every, (f"{name} item",))
    return Plan("lift", "elevator", (tier("annual", "1y"), tier("half_month", "15d"),
                                     tier("quarterly", "3m"), tier("half_year", "6m")),
                ahead, "elevator", "elevator.maintenance", 3 * 86400, start)


def test_simulated_year_gives_the_acceptance_tier_hits(plans: dict[str, Plan]) -> None:
    plan = plans["elevator-tsg-t5002"]
    dues = occurrences(plan, asset(), plan.start, add_months(plan.start, 12))
    assert len(dues) == 24  # one order per visit
    assert tier_hits(dues) == Counter(half_month=24, quarterly=4, half_year=2, annual=1)
    # the orders themselves: the highest tier due wins
    assert Counter(d.tier for d in dues) == Counter(half_month=20, quarterly=2, half_year=1,
                                                    annual=1)
    by_date = {d.due_date: d for d in dues}
    assert by_date[date(2027, 3, 16)].tier == "quarterly"
    assert by_date[date(2027, 6, 16)].tier == "half_year"
    assert by_date[date(2027, 9, 16)].tier == "quarterly"
    annual = by_date[date(2027, 12, 16)]
    assert annual.tier == "annual"
    assert annual.covers == ("annual", "half_year", "quarterly", "half_month")
    assert by_date[date(2027, 1, 1)].covers == ("half_month",)


def test_half_month_visits_are_twice_a_month_and_never_more_than_16_days_apart(
        plans: dict[str, Plan]) -> None:
    plan = plans["elevator-tsg-t5002"]
    dues = occurrences(plan, asset(), plan.start, add_months(plan.start, 12))
    assert Counter(d.due_date.month for d in dues) == Counter({m: 2 for m in range(1, 13)})
    gaps = [(b.due_date - a.due_date).days for a, b in pairwise(dues)]
    assert min(gaps) == 13 and max(gaps) == 16


def test_every_year_repeats_the_same_counts(plans: dict[str, Plan]) -> None:
    plan = plans["elevator-tsg-t5002"]
    for year in range(3):
        lo, hi = add_months(plan.start, 12 * year), add_months(plan.start, 12 * (year + 1))
        hits = tier_hits(occurrences(plan, asset(), lo, hi))
        assert hits == Counter(half_month=24, quarterly=4, half_year=2, annual=1), year


@pytest.mark.parametrize("start", [date(2028, 1, 1), date(2028, 2, 29), date(2027, 1, 31),
                                   date(2027, 5, 20)])
def test_leap_years_month_ends_and_mid_month_starts_keep_24_visits(start: date) -> None:
    plan = elevator_plan(start)
    dues = occurrences(plan, asset(), start, add_months(start, 12))
    assert len(dues) == 24
    assert tier_hits(dues) == Counter(half_month=24, quarterly=4, half_year=2, annual=1)
    days = [d.due_date for d in dues]
    assert days == sorted(set(days))  # strictly increasing, no two visits on one day
    assert days[0] == start


def test_mid_month_start_dates_and_the_year_after() -> None:
    plan = elevator_plan(date(2027, 5, 20))
    dues = occurrences(plan, asset(), date(2027, 5, 1), date(2027, 7, 1))
    assert [d.due_date for d in dues] == [date(2027, 5, 20), date(2027, 6, 4),
                                          date(2027, 6, 20)]
    # a plan starting on Jan 31 clamps to the month's end without creeping: back to the 31st
    jan31 = elevator_plan(date(2028, 1, 31))
    got = [d.due_date for d in occurrences(jan31, asset(), date(2028, 1, 1), date(2028, 4, 1))]
    assert got == [date(2028, 1, 31), date(2028, 2, 15), date(2028, 2, 29), date(2028, 3, 15),
                   date(2028, 3, 31)]


def test_no_visits_before_the_plan_start_or_the_install_date() -> None:
    plan = elevator_plan(date(2027, 1, 1))
    assert occurrences(plan, asset(), date(2026, 1, 1), date(2027, 1, 1)) == []
    late = asset(installed=date(2027, 7, 1))
    dues = occurrences(plan, late, date(2027, 1, 1), date(2028, 1, 1))
    assert dues[0].due_date == date(2027, 7, 1) and len(dues) == 12


def test_a_plan_for_another_kind_is_refused(plans: dict[str, Plan]) -> None:
    with pytest.raises(ValueError, match="plan fire-monthly is for fire_system"):
        occurrences(plans["fire-monthly"], asset(), date(2027, 1, 1), date(2028, 1, 1))


def test_monthly_fire_inspection_gives_12(plans: dict[str, Plan]) -> None:
    plan = plans["fire-monthly"]
    dues = occurrences(plan, asset("fire_system"), date(2027, 1, 1), date(2028, 1, 1))
    assert [d.due_date for d in dues] == [date(2027, m, 1) for m in range(1, 13)]
    assert tier_hits(dues) == Counter(monthly=12)


def test_yearly_meter_calibration_gives_1(plans: dict[str, Plan]) -> None:
    plan = plans["meter-calibration"]
    dues = occurrences(plan, asset("meter"), date(2027, 1, 1), date(2028, 1, 1))
    assert [(d.tier, d.due_date) for d in dues] == [("annual", date(2027, 1, 1))]
    assert dues[0].release_date == date(2026, 12, 2)  # 30 days ahead


def test_orders_are_released_n_days_ahead(plans: dict[str, Plan]) -> None:
    plan = plans["elevator-tsg-t5002"]  # release_days_ahead: 3
    dues = occurrences(plan, asset(), date(2027, 1, 1), date(2027, 3, 1))
    assert [d.due_date for d in release(date(2027, 1, 12), dues)] == [date(2027, 1, 1)]
    assert [d.due_date for d in release(date(2027, 1, 13), dues)] == [date(2027, 1, 1),
                                                                       date(2027, 1, 16)]
    assert all(d.due_date - d.release_date == timedelta(days=3) for d in dues)


def test_two_generator_runs_never_create_an_order_twice(plans: dict[str, Plan]) -> None:
    plan = plans["elevator-tsg-t5002"]
    created: dict[str, object] = {}

    def run(today: date) -> int:
        # each run recomputes the calendar from scratch, as a restarted service would
        dues = occurrences(plan, asset(), date(2027, 1, 1), today + timedelta(days=60))
        fresh = release(today, dues, created.keys())
        for d in fresh:
            created[d.key] = d
        return len(fresh)

    assert run(date(2027, 2, 1)) == 3  # Jan 1, Jan 16, Feb 1
    assert run(date(2027, 2, 1)) == 0  # the same day again: nothing new
    assert run(date(2027, 2, 12)) == 0
    assert run(date(2027, 2, 13)) == 1  # Feb 16, three days ahead
    assert run(date(2027, 2, 13)) == 0
    assert sorted(created) == [
        "pm:elevator-tsg-t5002:elevator-1:2027-01-01",
        "pm:elevator-tsg-t5002:elevator-1:2027-01-16",
        "pm:elevator-tsg-t5002:elevator-1:2027-02-01",
        "pm:elevator-tsg-t5002:elevator-1:2027-02-16",
    ]


def test_site_today_uses_the_site_calendar() -> None:
    clock = FakeClock(datetime(2027, 1, 15, 16, 30, tzinfo=UTC))  # 00:30 on the 16th, Shanghai
    assert site_today(clock) == date(2027, 1, 16)
    assert site_today(clock, "UTC") == date(2027, 1, 15)


def test_warranty_is_read_from_the_ledger() -> None:
    lift = asset()  # warranty until 2022-01-01
    assert lift.under_warranty(date(2022, 1, 1)) and not lift.under_warranty(date(2022, 1, 2))
    assert not Asset("x", "s", "meter", "m", "m", "1", date(2020, 1, 1)).under_warranty(
        date(2020, 1, 1))
