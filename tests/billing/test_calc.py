"""The arithmetic of billing without a database: tiers, 公摊 to the fen, periods and time
zones, meter consumption with rollover, replacement and multiplier, and each anomaly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from cloud.billing.apportion import largest_remainder
from cloud.billing.consumption import MeterInfo, Point, check, rollover_modulus, usage
from cloud.billing.fee_items import Anomaly, FeeItemError, parse_fee_item
from cloud.billing.money import fen
from cloud.billing.periods import PeriodError, parse_period
from cloud.billing.tiers import Tier, split

SH = ZoneInfo("Asia/Shanghai")
S = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 Shanghai
E = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 Shanghai
OLD = datetime(2025, 1, 1, tzinfo=UTC)
TIERS = [Tier(D(200), D("0.5283")), Tier(D(400), D("0.5783")), Tier(None, D("0.8283"))]


def meter(mid: int = 1, code: str = "E-1", **kw: object) -> MeterInfo:
    base: dict[str, object] = dict(
        id=mid, code=code, utility="electricity", scope="unit", unit_id=1, building_id=None,
        device_id=mid, register="kwh", multiplier=D(1), rollover_at=None, installed_at=OLD,
        initial_reading=D(0), removed_at=None, final_reading=None)
    base.update(kw)
    return MeterInfo(**base)  # type: ignore[arg-type]


def pts(**values: tuple[datetime, str]) -> dict[tuple[int, str], Point]:
    return {(int(k[1:]), "kwh"): Point(ts, D(v)) for k, (ts, v) in values.items()}


def test_tiers_split_consumption_over_bands_and_scale_with_months() -> None:
    assert [(b.index, b.quantity) for b in split(D(450), TIERS)] == [
        (1, D(200)), (2, D(200)), (3, D(50))]
    assert [(b.index, b.quantity) for b in split(D("185.5"), TIERS)] == [(1, D("185.5"))]
    assert split(D(0), TIERS) == []
    # a quarter's first band is three months' worth
    assert [(b.index, b.quantity) for b in split(D(700), TIERS, months=3)] == [
        (1, D(600)), (2, D(100))]
    # each band line is rounded half up on its own: 50 × 0.8283 = 41.415 → 41.42
    assert fen(D(50) * D("0.8283")) == D("41.42")


@pytest.mark.parametrize(("amount", "weights"), [
    ("238.00", {1: D("89.50"), 2: D("120.00"), 3: D("89.50")}),
    ("0.01", {1: D(1), 2: D(1), 3: D(1)}),
    ("100.00", {i: D(1) for i in range(1, 8)}),
    ("158.49", {1: D(200), 2: D(170), 3: D(450)}),
    ("9999.99", {i: D(i) / 7 for i in range(1, 50)}),
])
def test_apportionment_adds_up_to_the_fen(amount: str, weights: dict[int, D]) -> None:
    parts = largest_remainder(D(amount), weights)
    assert sum(parts.values()) == D(amount)
    assert all(p == fen(p) and p >= 0 for p in parts.values())


def test_apportionment_gives_leftover_fen_to_the_largest_remainders() -> None:
    assert largest_remainder(D("238.00"), {1: D("89.50"), 2: D("120.00"), 3: D("89.50")}) == {
        1: D("71.24"), 2: D("95.52"), 3: D("71.24")}
    # equal remainders: the lower key first
    assert largest_remainder(D("0.02"), {5: D(1), 3: D(1), 9: D(1)}) == {
        3: D("0.01"), 5: D("0.01"), 9: D("0.00")}
    assert largest_remainder(D("10.00"), {1: D(0)}) == {}


def test_periods_in_the_site_time_zone() -> None:
    nov = parse_period("monthly", "2026-11")
    assert (nov.start, nov.end, nov.months) == (date(2026, 11, 1), date(2026, 12, 1), 1)
    assert nov.bounds(SH) == (S, E)
    assert nov.due_date(15) == date(2026, 12, 15)
    assert nov.previous().label == "2026-10" and parse_period("monthly", "2026-01").previous(
        ).label == "2025-12"
    q4 = parse_period("quarterly", "2026-Q4")
    assert (q4.start, q4.end, q4.months) == (date(2026, 10, 1), date(2027, 1, 1), 3)
    assert q4.previous().label == "2026-Q3"
    year = parse_period("yearly", "2026")
    assert (year.start, year.end, year.months) == (date(2026, 1, 1), date(2027, 1, 1), 12)
    for cycle, label, field in [("monthly", "2026-13", "period"), ("weekly", "2026-11", "cycle"),
                                ("quarterly", "2026-11", "period"), ("yearly", "1999", "period")]:
        with pytest.raises(PeriodError) as err:
            parse_period(cycle, label)
        assert err.value.field == field


def test_a_reading_at_2359_local_on_the_last_day_belongs_to_the_period() -> None:
    last_minute = datetime(2026, 11, 30, 23, 59, tzinfo=SH)
    next_day = datetime(2026, 12, 1, 0, 1, tzinfo=SH)
    start = pts(d1=(datetime(2026, 10, 31, 23, 50, tzinfo=SH), "100"))
    u = usage([meter()], start, pts(d1=(last_minute, "180")), S, E, 48)
    assert u.quantity == D(80) and not u.problems
    # one minute after midnight is December's: not an end reading for November
    u = usage([meter()], start, pts(d1=(next_day, "190")), S, E, 48)
    assert u.problems[0]["reason"] == "no_reading"


def test_rollover_replacement_and_multiplier() -> None:
    t0, t1 = S - (S - S.replace(hour=15)), E.replace(hour=15)
    rolled = usage([meter(rollover_at=D("9999.9"))], pts(d1=(t0, "9950.0")),
                   pts(d1=(t1, "120.0")), S, E, 48)
    assert rolled.quantity == D("170.0") and rolled.segments[0]["rollover"] is True
    assert rollover_modulus(D("99999.99")) == D("100000.00")
    assert rollover_modulus(D("9999")) == D("10000")
    swap = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
    old = meter(1, "E-old", removed_at=swap, final_reading=D("8090"))
    new = meter(2, "E-new", installed_at=swap, initial_reading=D("5"))
    u = usage([old, new], pts(d1=(t0, "8000")), pts(d2=(t1, "115")), S, E, 48)
    assert u.quantity == D(200) and [s["meter"] for s in u.segments] == ["E-old", "E-new"]
    ct = usage([meter(multiplier=D(40))], pts(d1=(t0, "10.25")), pts(d1=(t1, "12.50")), S, E,
               48)
    assert ct.quantity == D(90)


def test_each_anomaly_is_a_reason_naming_the_meter_and_values() -> None:
    t0, t1 = S.replace(hour=15), E.replace(hour=15)
    neg = usage([meter()], pts(d1=(t0, "500")), pts(d1=(t1, "480")), S, E, 48)
    assert neg.quantity == 0
    (p,) = neg.problems
    assert (p["meter"], p["reason"], p["start"], p["end"]) == ("E-1", "negative", "500", "480")
    assert " / " in p["message"]

    u = usage([meter()], pts(d1=(t0, "0")), pts(d1=(t1, "900")), S, E, 48)
    check(u, ["E-1"], [D(100), D(120), D(110)], Anomaly(), occupied=True)
    assert [(p["reason"], p["average"]) for p in u.problems] == [("spike", "110.000000")]
    capped = usage([meter()], pts(d1=(t0, "0")), pts(d1=(t1, "70")), S, E, 48)
    check(capped, ["E-1"], [], Anomaly(spike_cap=D(60)), occupied=True)
    assert [p["reason"] for p in capped.problems] == ["spike"]

    stuck = usage([meter()], pts(d1=(t0, "42")), pts(d1=(t1, "42")), S, E, 48)
    check(stuck, ["E-1"], [D(0)], Anomaly(stuck_periods=2), occupied=True)
    assert [p["reason"] for p in stuck.problems] == ["stuck"]
    vacant = usage([meter()], pts(d1=(t0, "42")), pts(d1=(t1, "42")), S, E, 48)
    check(vacant, ["E-1"], [D(0)], Anomaly(stuck_periods=2), occupied=False)
    assert vacant.problems == []

    stale = usage([meter()], pts(d1=(S.replace(day=20), "1")), pts(d1=(t1, "2")), S, E, 48)
    assert [p["reason"] for p in stale.problems] == ["no_reading"]


@pytest.mark.parametrize(("doc", "field"), [
    ({"code": "E", "name": "电费", "kind": "metered",
      "rule": {"utility": "electricity", "tiers": [{"upto": "200", "price": "0.5"},
                                                   {"upto": "100", "price": "0.6"},
                                                   {"upto": None, "price": "0.8"}]}},
     "rule.tiers[1].upto"),
    ({"code": "E", "name": "电费", "kind": "metered",
      "rule": {"utility": "electricity", "tiers": [{"upto": "200", "price": 0.5}]}},
     "rule.tiers[0].price"),
    ({"code": "E", "name": "电费", "kind": "metered", "rule": {"utility": "steam",
                                                                "price": "1"}},
     "rule.utility"),
    ({"code": "P", "name": "物业费", "kind": "area", "rule": {"rates": {"residential": "x"}}},
     "rule.rates.residential"),
    ({"code": "P", "name": "物业费", "kind": "area",
      "rule": {"rates": {"residential": "2"}, "prepay_discount": "0.05"}},
     "rule.prepay_discount"),
    ({"code": "S", "name": "公摊", "kind": "shared",
      "rule": {"utility": "water", "basis": "floor", "price": "1"}}, "rule.basis"),
    ({"code": "F", "name": "固定", "kind": "fixed", "rule": {"amount": "5", "colour": 1}},
     "rule.colour"),
    ({"code": "F", "name": "固定", "kind": "fixed", "rule": {"amount": "5"},
      "late_fee": {"daily_rate": "0.5"}}, "late_fee.daily_rate"),
    ({"code": "F", "name": "固定", "kind": "fixed", "rule": {"amount": "5"}, "due_days": -1},
     "due_days"),
    ({"code": "", "name": "x", "kind": "fixed", "rule": {"amount": "5"}}, "code"),
    ({"code": "X", "name": "x", "kind": "lottery", "rule": {}}, "kind"),
])
def test_fee_item_errors_name_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(FeeItemError) as err:
        parse_fee_item(doc)
    assert err.value.field == field and err.value.zh and err.value.en


def test_a_yearly_item_may_carry_a_prepay_discount() -> None:
    item = parse_fee_item({"code": "PF-Y", "name": "物业费（预缴）", "kind": "area",
                           "cycle": "yearly", "rule": {"rates": {"residential": "2.20"},
                                                       "prepay_discount": "0.05"}})
    assert item.cycle == "yearly" and item.due_days == 15
