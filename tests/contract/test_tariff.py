"""Parking tariffs: hand-computed fees, validation with positions, round trip, properties.

The fee table (tariff_cases.yaml) is the contract the edge and the cloud both honour; the
properties guard the rules no table can enumerate (never negative, monotonic, capped).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parkingrules.tariff import (
    DayWindow,
    Night,
    Prices,
    Tariff,
    Unit,
    quote,
)
from parkingrules.tariff_yaml import (
    TariffError,
    load_tariff,
    parse_tariff,
    tariff_from_dict,
)

REPO = Path(__file__).resolve().parents[2]
TARIFFS = REPO / "configs" / "tariffs"
CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "tariff_cases.yaml").read_text(encoding="utf-8"))
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _example(name: str) -> Tariff:
    return load_tariff(TARIFFS / f"{name}.yaml")


EXAMPLES = {p.stem: load_tariff(p) for p in sorted(TARIFFS.glob("*.yaml"))}


def _case_tariff(case: dict[str, Any]) -> Tariff:
    tariff = EXAMPLES[case["tariff"]]
    if "timezone" in case:  # the same prices in another site's timezone
        tariff = tariff_from_dict(tariff.to_dict() | {"timezone": case["timezone"]})
    return tariff


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# --- the hand-computed table ----------------------------------------------------------------


def test_table_is_big_enough_and_covers_every_example() -> None:
    assert len(CASES) >= 30
    assert {c["tariff"] for c in CASES} == set(EXAMPLES) == {
        "residential_standard", "day_night", "commercial"}
    assert len({c["name"] for c in CASES}) == len(CASES)
    assert any(c.get("timezone") not in (None, "Asia/Shanghai") for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hand_computed_fee(case: dict[str, Any]) -> None:
    q = quote(
        _case_tariff(case),
        _dt(case.get("entry")),
        datetime.fromisoformat(case["exit"]),
        vehicle_class=case.get("vehicle_class", "small"),
        new_energy=case.get("new_energy", False),
        paid=Decimal(case.get("paid", "0")),
        paid_at=_dt(case.get("paid_at")),
        lost_entry=case.get("lost_entry", False),
    )
    assert q.fee == Decimal(case["fee"])
    assert q.due == Decimal(case.get("due", case["fee"]))
    assert sum((line.amount for line in q.lines), Decimal(0)) == q.fee
    assert all(line.zh and line.en for line in q.lines)


# --- the model and quote() arguments --------------------------------------------------------


def test_example_files_load_with_their_features() -> None:
    r, dn, c = EXAMPLES["residential_standard"], EXAMPLES["day_night"], EXAMPLES["commercial"]
    assert r.daily_cap_window == "entry_24h" and r.day is None and r.rounding == "fen"
    assert dn.small.night == Night("flat", Decimal(5)) and dn.daily_cap_window == "calendar_day"
    assert dn.small.unit == Unit(30, Decimal("1.50"))
    assert c.deduct_free_minutes and c.new_energy.discount_percent == 15
    large = c.prices_for("large")
    assert large.unit == Unit(30, Decimal(6)) and large.night == c.small.night  # inherited


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_to_dict_round_trips_through_json(name: str) -> None:
    tariff = EXAMPLES[name]
    data = json.loads(json.dumps(tariff.to_dict()))
    again = tariff_from_dict(data, source=f"dataset:{name}")
    assert again == tariff
    assert again.to_dict() == tariff.to_dict()


def test_yaml_reads_money_from_the_text_and_times_not_as_base_60() -> None:
    text = """
id: t
timezone: Asia/Shanghai
day: {start: 07:00, end: 19:00}
lost_entry: flat
prices:
  small:
    unit: {minutes: 60, price: 0.10}
    night: {mode: per_unit, minutes: 60, price: "0.30"}
    lost_entry_fee: 1.1
"""
    t = parse_tariff(text, "t.yaml")
    assert t.day == DayWindow(datetime(2000, 1, 1, 7).time(), datetime(2000, 1, 1, 19).time())
    assert t.small.unit == Unit(60, Decimal("0.10"))
    assert t.small.lost_entry_fee == Decimal("1.1")
    assert t.small.night == Night("per_unit", Decimal("0.30"), 60)


def test_quote_rejects_naive_and_reversed_times() -> None:
    t = EXAMPLES["residential_standard"]
    aware = datetime(2024, 5, 1, 8, tzinfo=SHANGHAI)
    with pytest.raises(ValueError, match="no timezone"):
        quote(t, datetime(2024, 5, 1, 8), aware)
    with pytest.raises(ValueError, match="no timezone"):
        quote(t, aware, datetime(2024, 5, 1, 9))
    with pytest.raises(ValueError, match="before entry"):
        quote(t, aware, aware - timedelta(seconds=1))
    with pytest.raises(ValueError, match=r"paid_at .* before entry"):
        quote(t, aware, aware + timedelta(hours=1), paid=Decimal(5),
              paid_at=aware - timedelta(minutes=1))
    with pytest.raises(ValueError, match="entry is required"):
        quote(t, None, aware)
    with pytest.raises(ValueError, match="unknown vehicle class"):
        quote(t, aware, aware, vehicle_class="bus")
    with pytest.raises(ValueError, match="paid"):
        quote(t, aware, aware, paid=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="paid"):
        quote(t, aware, aware, paid=Decimal("-1"))


def test_times_in_any_offset_bill_in_site_time() -> None:
    t = EXAMPLES["day_night"]
    local = quote(t, datetime(2024, 5, 1, 18, tzinfo=SHANGHAI),
                  datetime(2024, 5, 1, 20, tzinfo=SHANGHAI))
    utc = quote(t, datetime(2024, 5, 1, 10, tzinfo=UTC), datetime(2024, 5, 1, 12, tzinfo=UTC))
    assert local.fee == utc.fee == Decimal(8)
    assert utc.billed_until.tzinfo == SHANGHAI and utc.minutes == 120


def test_payment_after_the_exit_camera_time_is_within_grace() -> None:
    """Payment terminal and camera clocks differ by seconds: never charge after payment."""
    t = EXAMPLES["residential_standard"]
    entry = datetime(2024, 5, 1, 8, tzinfo=SHANGHAI)
    exit = datetime(2024, 5, 1, 11, 30, tzinfo=SHANGHAI)
    q = quote(t, entry, exit, paid=Decimal(9), paid_at=exit + timedelta(seconds=5))
    assert q.within_grace and q.fee == Decimal(9) and q.due == 0


def test_direct_construction_keeps_the_invariants() -> None:
    with pytest.raises(ValueError, match="night prices need a day window"):
        Tariff(id="x", small=Prices(unit=Unit(60, Decimal(1)), night=Night("flat", Decimal(5)),
                                    lost_entry_fee=Decimal(1)), lost_entry="flat")
    with pytest.raises(ValueError, match="minutes must be at least 1"):
        Tariff(id="x", small=Prices(unit=Unit(0, Decimal(1)), lost_entry_fee=Decimal(1)),
               lost_entry="flat")
    with pytest.raises(ValueError, match="multiple of the rounding step"):
        Tariff(id="x", small=Prices(unit=Unit(60, Decimal(1)), daily_cap=Decimal("20.5")),
               lost_entry="daily_cap", rounding="yuan")


# --- validation -----------------------------------------------------------------------------


def _problems(text: str, source: str = "bad.yaml") -> list[str]:
    with pytest.raises(TariffError) as err:
        parse_tariff(text, source)
    return [str(p) for p in err.value.problems]


def test_three_mistakes_give_three_positioned_errors() -> None:
    text = """\
id: three-mistakes
lost_entry: daily_cap
prices:
  small:
    first_period: {minutes: 120, price: 5}
    unit: {minutes: sixty, price: 2}
    daily_cap: 20.005
    colour: blue
"""
    problems = _problems(text)
    assert len(problems) == 3
    assert problems[0].startswith("bad.yaml:6:21: prices.small.unit.minutes: ")
    assert problems[1].startswith("bad.yaml:7:16: prices.small.daily_cap: 金额写法不对")
    assert problems[2].startswith("bad.yaml:8:5: prices.small.colour: 未知的键 / unknown key")
    for p in problems:
        assert " — " in p  # every problem says how to fix it


def test_unknown_key_suggests_the_near_name() -> None:
    [p] = _problems("id: x\nlost_entry: flat\nfree_minute: 5\nprices:\n  small:\n"
                    "    unit: {minutes: 60, price: 2}\n    lost_entry_fee: 10\n")
    assert p.startswith("bad.yaml:3:1: free_minute: 未知的键")
    assert "did you mean free_minutes?" in p


def test_wrong_types_are_refused() -> None:
    text = """\
id: x
free_minutes: "30"
deduct_free_minutes: maybe
rounding: cent
lost_entry: flat
prices:
  small:
    unit: {minutes: 60, price: "¥2"}
    lost_entry_fee: [10]
"""
    problems = _problems(text)
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "8", "9"]
    assert "fen | jiao | yuan" in problems[2]
    assert "no ¥ sign" in problems[3]


def test_cross_field_rules_point_at_the_right_place() -> None:
    text = """\
id: x
rounding: yuan
lost_entry: daily_cap
day: {start: "19:00", end: "07:00"}
prices:
  small:
    unit: {minutes: 60, price: 2}
    night: {mode: flat, minutes: 60, price: 5}
    daily_cap: 20.5
    lost_entry_fee: 30
"""
    problems = _problems(text)
    joined = "\n".join(problems)
    assert "bad.yaml:4:28: day.end: 白天结束时间必须晚于开始时间" in joined
    assert "bad.yaml:8:34: prices.small.night.minutes:" in joined
    assert "bad.yaml:9:16: prices.small.daily_cap: 金额 20.5 不是 1 元的整数倍" in joined
    assert "bad.yaml:10:21: prices.small.lost_entry_fee:" in joined


def test_missing_required_keys_and_policy_needs() -> None:
    problems = _problems("name: 无标识\nlost_entry: flat\nprices:\n  small:\n"
                         "    first_period: {minutes: 60, price: 5}\n")
    joined = "\n".join(problems)
    assert "id: 缺少 id / id is missing" in joined
    assert "prices.small.unit: 缺少 unit" in joined
    assert "lost_entry: flat needs prices.small.lost_entry_fee" in joined


def test_syntax_error_duplicate_key_and_empty_file() -> None:
    [p] = _problems("id: x\nprices:\n  small:\n unit: 1\n")
    assert p.startswith("bad.yaml:4:2: YAML 语法错误")
    [p] = _problems("id: x\nid: y\nlost_entry: flat\nprices: {small: {unit: {minutes: 1, "
                    "price: 1}, lost_entry_fee: 1}}\n")
    assert p.startswith('bad.yaml:2:1: 重复的键 "id"（第 1 行已有）')
    [p] = _problems("# nothing yet\n")
    assert "the file is empty" in p
    [p] = _problems("a: &x [*x]\n")  # an alias inside its own anchor ends, with a problem
    assert p.startswith("bad.yaml:1:4: 别名引用了自身")


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(TariffError) as err:
        load_tariff(tmp_path / "none.yaml")
    [p] = err.value.problems
    assert str(p).endswith("none.yaml: 文件不存在 / file not found — 检查路径是否正确 / "
                           "check the path")


def test_dict_refuses_float_money_and_names_the_path() -> None:
    data = EXAMPLES["residential_standard"].to_dict()
    data["prices"]["small"]["unit"]["price"] = 2.5
    data["grace_minutes"] = True
    with pytest.raises(TariffError) as err:
        tariff_from_dict(data, source="dataset:r1")
    text = str(err.value)
    assert "dataset:r1: prices.small.unit.price: 浮点数 2.5 不精确" in text
    assert "dataset:r1: grace_minutes:" in text
    data["prices"]["small"]["unit"]["price"] = Decimal("2.5")
    data["grace_minutes"] = 10
    assert tariff_from_dict(data).small.unit == Unit(60, Decimal("2.5"))


# --- properties -----------------------------------------------------------------------------


def _money(draw: st.DrawFn, lo: int, hi: int, step_fen: int = 1) -> str:
    fen = draw(st.integers(lo, hi)) * step_fen
    return f"{fen // 100}.{fen % 100:02d}"


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    """Random valid tariffs, built the way the cloud would push them (dicts)."""
    rounding = draw(st.sampled_from(["fen", "jiao", "yuan"]))
    step_fen = {"fen": 1, "jiao": 10, "yuan": 100}[rounding]
    has_night = draw(st.booleans())
    policy = draw(st.sampled_from(["flat", "daily_cap"]))

    def prices(required: bool) -> dict[str, Any]:
        p: dict[str, Any] = {}
        if required or draw(st.booleans()):
            p["unit"] = {"minutes": draw(st.sampled_from([1, 15, 30, 60, 90])),
                         "price": _money(draw, 1, 1000)}
        if draw(st.booleans()):
            p["first_period"] = {"minutes": draw(st.sampled_from([30, 60, 120, 180])),
                                 "price": _money(draw, 0, 2000)}
        if has_night and (required or draw(st.booleans())):
            if draw(st.booleans()):
                p["night"] = {"mode": "flat", "price": _money(draw, 0, 2000)}
            else:
                p["night"] = {"mode": "per_unit", "minutes": draw(st.sampled_from([30, 60])),
                              "price": _money(draw, 0, 500)}
        if (policy == "daily_cap" and required) or draw(st.booleans()):
            p["daily_cap"] = _money(draw, 1, 100, step_fen)
        if policy == "flat" and (required or draw(st.booleans())):
            p["lost_entry_fee"] = _money(draw, 0, 100, step_fen)
        return p

    start = draw(st.integers(0, 22))
    data: dict[str, Any] = {
        "id": "random",
        "timezone": draw(st.sampled_from(["Asia/Shanghai", "Europe/Berlin",
                                          "America/New_York"])),
        "rounding": rounding,
        "free_minutes": draw(st.sampled_from([0, 10, 15, 30])),
        "deduct_free_minutes": draw(st.booleans()),
        "grace_minutes": draw(st.sampled_from([0, 15])),
        "daily_cap_window": draw(st.sampled_from(["entry_24h", "calendar_day"])),
        "lost_entry": policy,
        "new_energy": {"discount_percent": _money(draw, 0, 10000),
                       "extra_free_minutes": draw(st.sampled_from([0, 30]))},
        "prices": {"small": prices(True), "large": prices(False)},
    }
    if has_night:
        data["day"] = {"start": f"{start:02d}:00",
                       "end": f"{draw(st.integers(start + 1, 23)):02d}:30"}
    return tariff_from_dict(data, source="hypothesis")


all_tariffs = st.one_of(st.sampled_from(list(EXAMPLES.values())), tariffs())
entries = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31),
                       timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
stays = st.integers(0, 4 * 24 * 3600)
classes = st.sampled_from(["small", "large"])
PROPS = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(all_tariffs, entries, stays, stays, classes, st.booleans())
def test_fee_is_never_negative_and_monotonic_in_exit(
        tariff: Tariff, entry: datetime, a: int, b: int, cls: str, nev: bool) -> None:
    early, late = sorted((a, b))
    q1 = quote(tariff, entry, entry + timedelta(seconds=early), vehicle_class=cls,
               new_energy=nev)
    q2 = quote(tariff, entry, entry + timedelta(seconds=late), vehicle_class=cls,
               new_energy=nev)
    assert Decimal(0) <= q1.fee <= q2.fee
    for q in (q1, q2):
        assert sum((line.amount for line in q.lines), Decimal(0)) == q.fee
        assert q.fee == q.fee.quantize(tariff.step)


@PROPS
@given(all_tariffs, entries, stays, classes, st.booleans())
def test_fee_never_exceeds_the_cap_per_started_day(
        tariff: Tariff, entry: datetime, seconds: int, cls: str, nev: bool) -> None:
    cap = tariff.prices_for(cls).daily_cap
    assume(cap is not None and seconds > 0)
    assert cap is not None
    exit = entry + timedelta(seconds=seconds)
    if tariff.daily_cap_window == "entry_24h":
        days = -(-seconds // (24 * 3600))
    else:  # local calendar days touched by [entry, exit)
        tz = tariff.tz
        last = (exit - timedelta(microseconds=1)).astimezone(tz).date()
        days = (last - entry.astimezone(tz).date()).days + 1
    q = quote(tariff, entry, exit, vehicle_class=cls, new_energy=nev)
    assert q.fee <= cap * days


@PROPS
@given(all_tariffs, entries, stays, st.integers(0, 3600), classes, st.booleans())
def test_paying_the_fee_then_leaving_within_grace_leaves_nothing_due(
        tariff: Tariff, entry: datetime, until_paid: int, after: int, cls: str,
        nev: bool) -> None:
    paid_at = entry + timedelta(seconds=until_paid)
    exit = paid_at + timedelta(seconds=after)
    at_pay = quote(tariff, entry, paid_at, vehicle_class=cls, new_energy=nev)
    q = quote(tariff, entry, exit, vehicle_class=cls, new_energy=nev, paid=at_pay.fee,
              paid_at=paid_at)
    whole = quote(tariff, entry, exit, vehicle_class=cls, new_energy=nev)
    if after <= tariff.grace_minutes * 60:
        assert q.due == 0 and q.fee == at_pay.fee
    else:
        assert q.fee == whole.fee and q.due == whole.fee - at_pay.fee
    assert q.due >= 0


@settings(max_examples=100, deadline=None)
@given(tariffs())
def test_random_tariffs_round_trip(tariff: Tariff) -> None:
    assert tariff_from_dict(json.loads(json.dumps(tariff.to_dict()))) == tariff
