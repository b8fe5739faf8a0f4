# Over 500 lines on purpose: the fee of one stay, whole, so edge and console compute it alike.
"""Parking tariffs: the model and the fee for one stay.

The edge computes the fee at the exit gate and the cloud re-computes it from the same events,
so this module is pure: it never reads the clock, never uses float, and the algorithm below is
the contract. Two people computing a stay by hand with it must get the same fee.

Terms
-----
* Times are timezone-aware. All durations are real elapsed time (instants compared in UTC);
  "local" means the tariff's ``timezone`` (default Asia/Shanghai). Local wall-clock instants
  that a DST change makes ambiguous or non-existent are read with ``fold=0``.
* A *unit* of N minutes is charged whole once started: ``units = ceil(length / N)``.
* Money is ``Decimal`` in yuan; every step before the final rounding is exact.

Algorithm of ``quote(tariff, entry, exit, ...)``
------------------------------------------------
0. Checks. ``exit`` (and ``entry`` unless lost, ``paid_at`` if given) must be aware, else
   ValueError; ``exit < entry`` is a ValueError; ``paid_at < entry`` is a ValueError.
   ``P`` = the class's prices: ``prices.small``; for ``large``, ``prices.large`` replaces
   whole keys of ``prices.small`` (``unit``, ``first_period``, ``night``, ``daily_cap``,
   ``lost_entry_fee``) and inherits the others.
1. Billed end ``B``. With ``paid_at`` given and ``exit <= paid_at + grace_minutes``, the car
   left within the grace period: ``B = min(paid_at, exit)`` (nothing accrues after payment).
   Otherwise ``B = exit`` (the whole stay is charged again).
2. Lost entry (no entry record): the fee is ``P.lost_entry_fee`` (``lost_entry: flat``) or
   ``P.daily_cap`` (``lost_entry: daily_cap``); no discount applies; go to step 7.
3. Free time. ``F = free_minutes`` (+ ``new_energy.extra_free_minutes`` for a new-energy
   vehicle). If ``B - entry <= F`` the fee is 0. Otherwise charging starts at
   ``S = entry + F`` when ``deduct_free_minutes`` is true, else ``S = entry``.
4. First period. If ``P.first_period`` is set, ``[S, S + first_period.minutes)`` costs
   ``first_period.price`` whatever the time of day, even if ``B`` comes earlier; the rest
   ``R = [S + first_period.minutes, B)`` (possibly empty). Without it ``R = [S, B)``.
5. The rest ``R`` is cut into pieces at every local day start and day end (only when the
   class has ``night`` prices) and at every cap-window boundary (only when the class has a
   ``daily_cap``). A piece is *day* when its start's local time ``t`` has
   ``day.start <= t < day.end``, else *night*; without night prices every piece is day.
   * A day piece costs ``ceil(length / unit.minutes) * unit.price``.
   * A night piece with ``night.mode: per_unit`` costs ``ceil(length / night.minutes) *
     night.price``.
   * With ``night.mode: flat``, night pieces cost nothing by length; instead every night
     (local ``day.end`` of date d to ``day.start`` of date d+1) that overlaps ``R`` for a
     positive time costs ``night.price`` once, at the start of that overlap.
6. Daily cap. Cap windows are ``daily_cap_window: entry_24h`` (default): consecutive 24 h
   of elapsed time from ``entry`` (``[entry + 24h*k, entry + 24h*(k+1))``), or
   ``calendar_day``: local calendar days from 00:00. Each charge of steps 4–5 belongs to
   the window containing its start instant (the first period to the window of ``S``). In
   every window, the sum of its charges above ``P.daily_cap`` is removed. New-energy
   vehicles then get ``new_energy.discount_percent`` off the capped sum (exact, unrounded).
7. Rounding. The fee is rounded once, half-up, to ``rounding``: fen (0.01, default),
   jiao (0.1) or yuan (1).
8. Due. ``due = max(fee - paid, 0)``: within the grace period that is the fee up to the
   payment minus what was paid (0 when the payment covered it); after it, the fee of the
   whole stay minus what was paid, never negative.

``Quote.lines`` explain the fee in this order; their amounts add up exactly to ``fee``
(informative lines have amount 0). ``Quote.minutes`` is the whole stay in started minutes.

Decisions, and why
------------------
* Cap window default ``entry_24h``: it is the usual "每24小时封顶" sign, and a short stay
  across midnight can never pay two caps (``calendar_day`` can; sites that bill per
  calendar day say so explicitly).
* Free minutes are not deducted by default ("15 分钟内免费，超时从入场起计费" is the common
  rule); ``deduct_free_minutes: true`` deducts them, NEV extra minutes included.
* Units restart at day/night and cap-window boundaries, so every charge lies in exactly one
  period and one window: the cap and the day/night price never have to split a unit.
* Grace is inclusive (``exit == paid_at + grace`` is within it). A ``paid_at`` a few
  seconds after ``exit`` (payment terminal and camera clocks differ) is within it too.
* The NEV discount applies after the cap (the cap is the posted price, the discount a
  rebate on it); a lost-entry fee is a penalty, so it gets no discount.
* ``daily_cap`` and ``lost_entry_fee`` must be multiples of the rounding step (checked on
  load), so rounding can never lift a fee above the cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from itertools import pairwise
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

VehicleClass = Literal["small", "large"]
Rounding = Literal["fen", "jiao", "yuan"]
CapWindow = Literal["entry_24h", "calendar_day"]
LostEntryPolicy = Literal["flat", "daily_cap"]
NightMode = Literal["per_unit", "flat"]

VEHICLE_CLASSES: tuple[str, ...] = get_args(VehicleClass)
ROUNDINGS: tuple[str, ...] = get_args(Rounding)
CAP_WINDOWS: tuple[str, ...] = get_args(CapWindow)
LOST_ENTRY_POLICIES: tuple[str, ...] = get_args(LostEntryPolicy)
NIGHT_MODES: tuple[str, ...] = get_args(NightMode)

ROUNDING_STEPS: dict[str, Decimal] = {
    "fen": Decimal("0.01"), "jiao": Decimal("0.1"), "yuan": Decimal("1")}
ROUNDING_ZH: dict[str, str] = {"fen": "分", "jiao": "角", "yuan": "元"}
CLASS_ZH: dict[str, str] = {"small": "小型车", "large": "大型车"}
DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_MINUTES = 1440
#: Arithmetic before the final rounding must be exact: an inexact step raises instead.
_EXACT = Context(prec=50, rounding=ROUND_HALF_UP, traps=[Inexact])
_DAY = timedelta(hours=24)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Unit:
    """A price per started block of minutes (also used for the first period)."""

    minutes: int
    price: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"minutes": self.minutes, "price": money_text(self.price)}


@dataclass(frozen=True, slots=True)
class Night:
    """Night price: per started unit (``minutes`` set) or one flat amount per night."""

    mode: NightMode
    price: Decimal
    minutes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.minutes is not None:
            out["minutes"] = self.minutes
        out["price"] = money_text(self.price)
        return out


@dataclass(frozen=True, slots=True)
class Prices:
    """One vehicle class's prices; None means not set (for ``large``: inherited)."""

    unit: Unit | None = None
    first_period: Unit | None = None
    night: Night | None = None
    daily_cap: Decimal | None = None
    lost_entry_fee: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("first_period", "unit", "night", "daily_cap", "lost_entry_fee"):
            value = getattr(self, name)
            if isinstance(value, Decimal):
                out[name] = money_text(value)
            elif value is not None:
                out[name] = value.to_dict()
        return out

    def over(self, base: Prices) -> Prices:
        """These prices laid over ``base``: every key set here replaces base's whole key."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(base, **{k: v for k, v in given.items() if v is not None})


@dataclass(frozen=True, slots=True)
class DayWindow:
    """Local day hours ``[start, end)``; the rest of the 24 h is night."""

    start: time
    end: time

    def is_day(self, local: time) -> bool:
        return self.start <= local < self.end


@dataclass(frozen=True, slots=True)
class NewEnergy:
    """New-energy (NEV, green plate) benefits: percent off and/or extra free minutes."""

    discount_percent: Decimal = _ZERO
    extra_free_minutes: int = 0


@dataclass(frozen=True, slots=True)
class Tariff:
    """A site's parking tariff, as an installer wrote it (see the module docstring)."""

    id: str
    small: Prices
    lost_entry: LostEntryPolicy
    large: Prices = field(default_factory=Prices)
    name: str = ""
    timezone: str = DEFAULT_TIMEZONE
    rounding: Rounding = "fen"
    free_minutes: int = 0
    deduct_free_minutes: bool = False
    grace_minutes: int = 15
    daily_cap_window: CapWindow = "entry_24h"
    day: DayWindow | None = None
    new_energy: NewEnergy = field(default_factory=NewEnergy)

    def __post_init__(self) -> None:
        # The YAML loader reports these with positions first; this guards direct construction.
        problems = self.invariant_problems()
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def step(self) -> Decimal:
        return ROUNDING_STEPS[self.rounding]

    def prices_for(self, vehicle_class: str) -> Prices:
        """The resolved prices of a class (large inherits what it does not override)."""
        if vehicle_class not in VEHICLE_CLASSES:
            raise ValueError(f"未知车型 {vehicle_class!r} / unknown vehicle class "
                             f"{vehicle_class!r}: use small or large")
        return self.small if vehicle_class == "small" else self.large.over(self.small)

    def invariant_problems(self) -> list[str]:
        """Rules a tariff must keep whoever built it; empty when it is usable."""
        out: list[str] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(f"unknown timezone {self.timezone!r}")
        if self.rounding not in ROUNDINGS:
            out.append(f"rounding must be one of {', '.join(ROUNDINGS)}")
        if self.daily_cap_window not in CAP_WINDOWS:
            out.append(f"daily_cap_window must be one of {', '.join(CAP_WINDOWS)}")
        if self.lost_entry not in LOST_ENTRY_POLICIES:
            out.append(f"lost_entry must be one of {', '.join(LOST_ENTRY_POLICIES)}")
        if self.small.unit is None:
            out.append("prices.small.unit is required")
        if self.day is not None and not self.day.start < self.day.end:
            out.append("day.start must be before day.end")
        if min(self.free_minutes, self.grace_minutes, self.new_energy.extra_free_minutes) < 0:
            out.append("free, grace and extra free minutes cannot be negative")
        if not 0 <= self.new_energy.discount_percent <= 100:
            out.append("new_energy.discount_percent must be 0 to 100")
        step = ROUNDING_STEPS.get(self.rounding, Decimal("0.01"))
        for cls in VEHICLE_CLASSES:
            p = self.large.over(self.small) if cls == "large" else self.small
            blocks = [b for b in (p.unit, p.first_period, p.night) if b is not None]
            if any((b.minutes is not None and b.minutes < 1) or b.price < 0 for b in blocks):
                out.append(f"{cls}: unit minutes must be at least 1 and prices not negative")
            if any(a is not None and a < 0 for a in (p.daily_cap, p.lost_entry_fee)):
                out.append(f"{cls}: daily_cap and lost_entry_fee cannot be negative")
            if p.night is not None and self.day is None:
                out.append(f"{cls}: night prices need a day window")
            if p.night is not None and (p.night.mode == "per_unit") != (p.night.minutes
                                                                       is not None):
                out.append(f"{cls}: night minutes are set exactly when mode is per_unit")
            if self.lost_entry == "flat" and p.lost_entry_fee is None:
                out.append(f"{cls}: lost_entry flat needs lost_entry_fee")
            if self.lost_entry == "daily_cap" and p.daily_cap is None:
                out.append(f"{cls}: lost_entry daily_cap needs daily_cap")
            for what, amount in (("daily_cap", p.daily_cap),
                                 ("lost_entry_fee", p.lost_entry_fee)):
                if amount is not None and amount % step != 0:
                    out.append(f"{cls}: {what} must be a multiple of the rounding step")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (money as strings) that ``tariff_from_dict`` reads back."""
        out: dict[str, Any] = {"id": self.id}
        if self.name:
            out["name"] = self.name
        out |= {
            "timezone": self.timezone,
            "rounding": self.rounding,
            "free_minutes": self.free_minutes,
            "deduct_free_minutes": self.deduct_free_minutes,
            "grace_minutes": self.grace_minutes,
            "daily_cap_window": self.daily_cap_window,
        }
        if self.day is not None:
            out["day"] = {"start": self.day.start.strftime("%H:%M"),
                          "end": self.day.end.strftime("%H:%M")}
        out["lost_entry"] = self.lost_entry
        out["new_energy"] = {
            "discount_percent": money_text(self.new_energy.discount_percent),
            "extra_free_minutes": self.new_energy.extra_free_minutes,
        }
        prices = {"small": self.small.to_dict()}
        if self.large != Prices():
            prices["large"] = self.large.to_dict()
        out["prices"] = prices
        return out


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """One step of the fee, explained for the driver (zh) and the operator (en)."""

    zh: str
    en: str
    amount: Decimal

    def __str__(self) -> str:
        return f"{format_yuan(self.amount):>10}  {self.zh} / {self.en}"


@dataclass(frozen=True, slots=True)
class Quote:
    """The fee for a stay, what remains to pay, and how the fee was made."""

    fee: Decimal
    due: Decimal
    paid: Decimal
    minutes: int | None  # the whole stay, started minutes; None when the entry is unknown
    lines: tuple[QuoteLine, ...]
    billed_until: datetime
    vehicle_class: VehicleClass
    new_energy: bool
    lost_entry: bool
    within_grace: bool


def money_text(amount: Decimal) -> str:
    """Exact decimal text of an amount (never exponent notation)."""
    return format(amount, "f")


def format_yuan(amount: Decimal) -> str:
    """``¥5.00`` / ``-¥1.20``; keeps extra places of an unrounded intermediate amount."""
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    shown = a.quantize(Decimal("0.01")) if a == a.quantize(Decimal("0.01")) else a.normalize()
    return f"{sign}¥{money_text(shown)}"


def round_money(amount: Decimal, rounding: str) -> Decimal:
    """Half-up to the rounding step, shown with two decimals (9 yuan → 9.00)."""
    ctx = Context(prec=50)
    stepped = amount.quantize(ROUNDING_STEPS[rounding], rounding=ROUND_HALF_UP, context=ctx)
    return stepped.quantize(Decimal("0.01"), context=ctx)


def quote(
    tariff: Tariff,
    entry: datetime | None,
    exit: datetime,
    *,
    vehicle_class: str = "small",
    new_energy: bool = False,
    paid: Decimal | int = _ZERO,
    paid_at: datetime | None = None,
    lost_entry: bool = False,
) -> Quote:
    """The fee of one stay and the amount still due (algorithm: module docstring).

    ``entry`` may be None only with ``lost_entry=True``. ``paid`` is what the driver already
    paid for this stay, ``paid_at`` when (for the grace period).
    """
    prices = tariff.prices_for(vehicle_class)
    exit_u = _utc("exit", "出场时间", exit)
    entry_u = None if entry is None and lost_entry else _utc("entry", "入场时间", entry)
    paid_at_u = None if paid_at is None else _utc("paid_at", "缴费时间", paid_at)
    paid_d = _paid(paid)
    tz = tariff.tz
    if entry_u is not None and exit_u < entry_u:
        raise ValueError(f"出场时间 {_local(exit_u, tz)} 早于入场时间 {_local(entry_u, tz)} / "
                         f"exit {_local(exit_u, tz)} is before entry {_local(entry_u, tz)}")
    if entry_u is not None and paid_at_u is not None and paid_at_u < entry_u:
        raise ValueError(f"缴费时间 {_local(paid_at_u, tz)} 早于入场时间 / "
                         f"paid_at {_local(paid_at_u, tz)} is before entry "
                         f"{_local(entry_u, tz)}")

    grace = timedelta(minutes=tariff.grace_minutes)
    within_grace = paid_at_u is not None and exit_u <= paid_at_u + grace
    billed_until = exit_u
    if within_grace and paid_at_u is not None:
        billed_until = min(paid_at_u, exit_u)

    with localcontext(_EXACT):
        if lost_entry:
            lines = [_lost_entry_line(tariff, prices)]
        else:
            assert entry_u is not None
            lines = _stay_lines(tariff, prices, entry_u, billed_until, new_energy)
        total = sum((line.amount for line in lines), _ZERO)
    fee = round_money(total, tariff.rounding)
    if fee != total:
        lines.append(QuoteLine(
            f"按{ROUNDING_ZH[tariff.rounding]}四舍五入", f"rounded half-up to "
            f"{money_text(tariff.step)} yuan", fee - total))
    if paid_at_u is not None:
        g = tariff.grace_minutes
        at = _local(paid_at_u, tz)
        if within_grace:
            lines.append(QuoteLine(f"{at} 缴费后 {g} 分钟内离场，缴费后不再计费",
                                   f"left within {g} min of paying at {at}: "
                                   "nothing accrues after payment", _ZERO))
        else:
            lines.append(QuoteLine(f"{at} 缴费后超过 {g} 分钟离场，按整段停车计费并抵扣已付",
                                   f"left more than {g} min after paying at {at}: "
                                   "whole stay charged, payment deducted", _ZERO))
    minutes = None if entry_u is None else _started_minutes(exit_u - entry_u)
    return Quote(
        fee=fee,
        due=max(fee - paid_d, _ZERO).quantize(Decimal("0.01")),
        paid=paid_d,
        minutes=minutes,
        lines=tuple(lines),
        billed_until=billed_until.astimezone(tz),
        vehicle_class="large" if vehicle_class == "large" else "small",
        new_energy=new_energy,
        lost_entry=lost_entry,
        within_grace=within_grace,
    )


# --- the stay -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Charge:
    at: datetime  # UTC start instant: decides the cap window
    line: QuoteLine


def _stay_lines(t: Tariff, p: Prices, entry: datetime, end: datetime,
                new_energy: bool) -> list[QuoteLine]:
    """Steps 3–6 for a known entry, all in UTC instants."""
    tz = t.tz
    free = t.free_minutes + (t.new_energy.extra_free_minutes if new_energy else 0)
    stay = end - entry
    lines: list[QuoteLine] = []
    if stay <= timedelta(minutes=free):
        m = _started_minutes(stay)
        return [QuoteLine(f"停车 {m} 分钟，未超过免费时长 {free} 分钟",
                          f"{m} min stay within the {free} free minutes", _ZERO)]
    start = entry
    if free and t.deduct_free_minutes:
        start = entry + timedelta(minutes=free)
        lines.append(QuoteLine(f"扣除免费时长 {free} 分钟", f"first {free} free minutes deducted",
                               _ZERO))
    elif free:
        lines.append(QuoteLine(f"超过免费时长 {free} 分钟，从入场起计费",
                               f"longer than the {free} free minutes: charged from entry",
                               _ZERO))

    charges: list[_Charge] = []
    rest = start
    if p.first_period is not None:
        fp = p.first_period
        rest = start + timedelta(minutes=fp.minutes)
        span = _span(start, min(rest, end), tz)
        charges.append(_Charge(start, QuoteLine(
            f"首段 {fp.minutes} 分钟 {span}", f"first {fp.minutes} min {span}", fp.price)))
    if rest < end:
        charges += _rest_charges(t, p, entry, rest, end)
    charges.sort(key=lambda c: c.at)

    capped: list[QuoteLine] = []
    for window, group in _by_window(t, entry, charges):
        subtotal = sum((c.line.amount for c in group), _ZERO)
        capped += [c.line for c in group]
        if p.daily_cap is not None and subtotal > p.daily_cap:
            cap = format_yuan(p.daily_cap)
            zh, en = _window_text(t, entry, window)
            capped.append(QuoteLine(f"{zh}封顶 {cap}（原 {format_yuan(subtotal)}）",
                                    f"daily cap {cap} for {en} (was {format_yuan(subtotal)})",
                                    p.daily_cap - subtotal))
    lines += capped
    pct = t.new_energy.discount_percent
    if new_energy and pct > 0:
        subtotal = sum((line.amount for line in lines), _ZERO)
        if subtotal > 0:
            lines.append(QuoteLine(f"新能源车优惠 {money_text(pct)}%",
                                   f"new-energy discount {money_text(pct)}%",
                                   -(subtotal * pct / 100)))
    return lines


def _rest_charges(t: Tariff, p: Prices, entry: datetime, rest: datetime,
                  end: datetime) -> list[_Charge]:
    """Step 5: per-unit pieces of ``[rest, end)`` and flat nights."""
    tz = t.tz
    assert p.unit is not None
    night = p.night if t.day is not None else None
    cuts: set[datetime] = set()
    if night is not None and t.day is not None:
        for d in _dates(rest, end, tz):
            cuts.add(_at(d, t.day.start, tz))
            cuts.add(_at(d, t.day.end, tz))
    if p.daily_cap is not None:
        cuts.update(_window_starts(t, entry, rest, end))
    points = [rest, *sorted(c for c in cuts if rest < c < end), end]

    charges: list[_Charge] = []
    for a, b in pairwise(points):
        is_night = (night is not None and t.day is not None
                    and not t.day.is_day(a.astimezone(tz).time()))
        if is_night and night is not None:
            if night.mode == "flat":
                continue
            assert night.minutes is not None
            unit, zh, en = Unit(night.minutes, night.price), "夜间 ", "night "
        else:
            unit, zh, en = p.unit, ("白天 " if night is not None else ""), (
                "day " if night is not None else "")
        n = _ceil_div(b - a, timedelta(minutes=unit.minutes))
        span = _span(a, b, tz)
        price = format_yuan(unit.price)
        charges.append(_Charge(a, QuoteLine(
            f"{zh}{span}：{n} 个计费单位 × {price}/{unit.minutes}分钟",
            f"{en}{span}: {n} × {price} per {unit.minutes} min", n * unit.price)))

    if night is not None and night.mode == "flat" and t.day is not None:
        for d in _dates(rest, end, tz):
            ns = _at(d, t.day.end, tz)
            ne = _at(d + timedelta(days=1), t.day.start, tz)
            a, b = max(ns, rest), min(ne, end)
            if a < b:
                span = _span(ns, ne, tz)
                price = format_yuan(night.price)
                charges.append(_Charge(a, QuoteLine(f"夜间 {span} 按夜收费 {price}",
                                                    f"night {span}: flat {price}",
                                                    night.price)))
    return charges


def _lost_entry_line(t: Tariff, p: Prices) -> QuoteLine:
    if t.lost_entry == "flat":
        assert p.lost_entry_fee is not None
        return QuoteLine("无入场记录，按固定金额收费", "no entry record: flat lost-entry fee",
                         p.lost_entry_fee)
    assert p.daily_cap is not None
    return QuoteLine("无入场记录，按一天封顶金额收费", "no entry record: one daily cap",
                     p.daily_cap)


# --- cap windows ----------------------------------------------------------------------------


def _window_of(t: Tariff, entry: datetime, at: datetime) -> int | date:
    if t.daily_cap_window == "calendar_day":
        return at.astimezone(t.tz).date()
    return (at - entry) // _DAY


def _window_starts(t: Tariff, entry: datetime, a: datetime, b: datetime) -> Iterator[datetime]:
    """Cap-window boundaries that may fall inside ``[a, b]``."""
    if t.daily_cap_window == "calendar_day":
        for d in _dates(a, b, t.tz):
            yield _at(d, time(0), t.tz)
        return
    k = (a - entry) // _DAY
    while entry + _DAY * k <= b:
        yield entry + _DAY * k
        k += 1


def _by_window(t: Tariff, entry: datetime,
               charges: list[_Charge]) -> Iterator[tuple[int | date, list[_Charge]]]:
    group: list[_Charge] = []
    current: int | date | None = None
    for c in charges:
        w = _window_of(t, entry, c.at)
        if group and w != current:
            assert current is not None
            yield current, group
            group = []
        current = w
        group.append(c)
    if group:
        assert current is not None
        yield current, group


def _window_text(t: Tariff, entry: datetime, window: int | date) -> tuple[str, str]:
    if isinstance(window, date):
        return f"{window.isoformat()} ", window.isoformat()
    a = entry + _DAY * window
    span = _span(a, a + _DAY, t.tz)
    return (f"入场后第 {window + 1} 个24小时（{span}）",
            f"24 h period {window + 1} from entry ({span})")


# --- time helpers ---------------------------------------------------------------------------


def _utc(name: str, zh: str, value: datetime | None) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"缺少{zh} / {name} is required (a timezone-aware datetime)")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{zh}没有时区 / {name} {value.isoformat()} has no timezone: "
                         "pass an aware datetime (e.g. with ZoneInfo('Asia/Shanghai'))")
    return value.astimezone(UTC)


def _paid(paid: Decimal | int) -> Decimal:
    if isinstance(paid, bool) or not isinstance(paid, Decimal | int):
        raise ValueError(f"已付金额必须是 Decimal / paid must be a Decimal, got {paid!r}")
    d = Decimal(paid)
    if not d.is_finite() or not 0 <= d <= 10**9 or d != d.quantize(Decimal("0.01")):
        raise ValueError(f"已付金额无效 / paid must be a non-negative amount in fen (at most "
                         f"2 decimals), got {paid!r}")
    return d


def _at(d: date, t: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local wall time ``t`` on date ``d`` (fold=0)."""
    return datetime.combine(d, t, tzinfo=tz).astimezone(UTC)


def _dates(a: datetime, b: datetime, tz: ZoneInfo) -> Iterator[date]:
    """Local dates from the day before ``a`` to the day after ``b`` (covers any boundary)."""
    d = a.astimezone(tz).date() - timedelta(days=1)
    last = b.astimezone(tz).date() + timedelta(days=1)
    while d <= last:
        yield d
        d += timedelta(days=1)


def _ceil_div(length: timedelta, unit: timedelta) -> int:
    return -(-length // unit)


def _started_minutes(length: timedelta) -> int:
    return _ceil_div(length, timedelta(minutes=1))


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _clock(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return local.strftime("%m-%d %H:%M:%S" if local.second or local.microsecond
                          else "%m-%d %H:%M")


def _span(a: datetime, b: datetime, tz: ZoneInfo) -> str:
    """``05-01 10:00–11:30``; the end's date is shown only when it differs."""
    end = _clock(b, tz)
    if a.astimezone(tz).date() == b.astimezone(tz).date():
        end = end[6:]
    return f"{_clock(a, tz)}–{end}"
