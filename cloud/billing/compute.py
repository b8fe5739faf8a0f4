"""One unit's bill lines for a period, from the fee items and the data of its batch.

Pure computation: the bill run (``cloud.billing.runs``) loads what a batch of units needs in
a few queries and calls ``unit_lines`` for each unit. A line is a dict with the columns of
``bill_lines``; its ``source`` says where the amount came from (area and rate, meter readings,
the apportionment basis, the parking pass or the ``parking.exit`` charge).

Temporary parking (``parking.exit`` charges): a charge paid at the booth (paid = amount) is
income already collected and never becomes a bill line; only the unpaid part of a charge
(amount − paid) of a vehicle registered to the unit is billed, once (``billed_charges``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cloud.billing.consumption import MeterInfo, Points, check, usage
from cloud.billing.discounts import VACANT_STATUSES, prepay_discount, vacant_discount
from cloud.billing.fee_items import Rule
from cloud.billing.money import fen, qty
from cloud.billing.periods import Period
from cloud.billing.tiers import split

OCCUPIED_STATUSES = ("occupied", "rented")
_UTILITY_ZH = {"electricity": ("电", "kWh"), "water": ("水", "m³"), "gas": ("燃气", "m³")}


@dataclass(frozen=True)
class Item:
    id: int
    code: str
    name: str
    kind: str
    rule: Rule
    due_days: int


@dataclass(frozen=True)
class UnitFacts:
    id: int
    code: str
    building_id: int
    area: Decimal
    unit_type: str
    status: str


@dataclass(frozen=True)
class PassInfo:
    id: int
    plate: str
    valid_from: date
    valid_to: date


@dataclass(frozen=True)
class ChargeInfo:
    id: int
    plate: str | None
    amount: Decimal
    paid: Decimal
    event_id: int
    source_ref: str
    created_at: datetime


@dataclass
class Context:
    """What every unit of a run shares: the period, its boundaries, the items, the 公摊."""

    period: Period
    start: datetime
    end: datetime
    items: list[Item]
    #: shared item id → unit id → its line (computed for whole buildings at the run's start)
    shares: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: shared item id → unit id → reasons its pool could not be measured
    share_problems: dict[int, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)


@dataclass
class Batch:
    """The data of one batch of units, keyed for lookup."""

    meters: dict[int, list[MeterInfo]] = field(default_factory=dict)  # unit id → meters
    at_start: Points = field(default_factory=dict)
    at_end: Points = field(default_factory=dict)
    #: (unit id, fee item id) → consumption of previous periods, newest first
    history: dict[tuple[int, int], list[Decimal]] = field(default_factory=dict)
    passes: dict[int, list[PassInfo]] = field(default_factory=dict)  # unit id → passes
    charges: dict[int, list[ChargeInfo]] = field(default_factory=dict)  # unit id → charges


def _line(item: Item, kind: str, description: str, quantity: Decimal, unit_price: Decimal,
          amount: Decimal, source: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "fee_item_id": item.id, "fee_code": item.code,
            "description": description[:200], "quantity": qty(quantity),
            "unit_price": unit_price, "amount": amount, "source": source}


def _money_lines(item: Item, unit: UnitFacts, ctx: Context, out: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Area and fixed fees, with their vacant and prepay discounts."""
    rule, months = item.rule, ctx.period.months
    vacant = unit.status in VACANT_STATUSES
    if item.kind == "area":
        rate = rule.rates.get(unit.unit_type)
        if rate is None:
            return [{"meter": None, "reason": "no_rate", "fee": item.code,
                     "message": f"收费项目 {item.code} 没有房屋类型 {unit.unit_type} 的单价 / "
                                f"fee item {item.code} has no rate for unit type "
                                f"{unit.unit_type}"}]
        quantity = unit.area * months
        charge = fen(quantity * rate)
        out.append(_line(item, "charge", f"{item.name} {unit.area}㎡ × {rate}元/㎡·月 × "
                         f"{months}月", quantity, rate, charge,
                         {"area": str(unit.area), "rate": str(rate), "months": months,
                          "unit_type": unit.unit_type}))
    else:
        if rule.unit_types is not None and unit.unit_type not in rule.unit_types:
            return []
        if rule.exclude_vacant and vacant:
            return []
        charge = fen(rule.amount * months)
        out.append(_line(item, "charge", f"{item.name} {rule.amount}元/月 × {months}月",
                         Decimal(months), rule.amount, charge,
                         {"amount": str(rule.amount), "months": months}))
    if vacant and rule.vacant_share is not None:
        cut = vacant_discount(charge, rule.vacant_share)
        out.append(_line(item, "discount", f"{item.name} 空置房按 {rule.vacant_share} 收取 / "
                         f"vacant", Decimal(1), cut, cut,
                         {"vacant_share": str(rule.vacant_share), "charge": str(charge),
                          "status": unit.status}))
    if rule.prepay_discount is not None:
        cut = prepay_discount(charge, rule.prepay_discount)
        out.append(_line(item, "discount", f"{item.name} 预缴一年优惠 {rule.prepay_discount} / "
                         f"yearly prepay", Decimal(1), cut, cut,
                         {"prepay_discount": str(rule.prepay_discount),
                          "charge": str(charge)}))
    return []


def metered_lines(item: Item, consumption: Decimal, months: int, source: dict[str, Any]
                  ) -> list[dict[str, Any]]:
    """One line per price band used (one zero line when nothing was used)."""
    _zh, measure = _UTILITY_ZH.get(item.rule.utility, (item.rule.utility, ""))
    bands = split(consumption, list(item.rule.tiers), months)
    if not bands:
        price = item.rule.tiers[0].price
        return [_line(item, "charge", f"{item.name} 0{measure}", Decimal(0), price,
                      Decimal("0.00"), {**source, "band": 1})]
    many = len(item.rule.tiers) > 1
    out = []
    for b in bands:
        label = f" 第{b.index}档" if many else ""
        out.append(_line(item, "charge", f"{item.name}{label} {qty(b.quantity).normalize():f}"
                         f"{measure} × {b.price}元", b.quantity, b.price,
                         fen(b.quantity * b.price),
                         {**source, "band": b.index, "band_from": str(b.lower),
                          "band_to": None if b.upper is None else str(b.upper)}))
    return out


def unit_lines(unit: UnitFacts, ctx: Context, data: Batch
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], date | None]:
    """(lines, hold reasons, due date) of ``unit``; no lines means no bill."""
    lines: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    due: date | None = None
    months = ctx.period.months
    for item in ctx.items:
        before = len(lines)
        if item.kind in ("area", "fixed"):
            problems += _money_lines(item, unit, ctx, lines)
        elif item.kind == "metered":
            meters = [m for m in data.meters.get(unit.id, ())
                      if m.utility == item.rule.utility]
            if not meters:
                continue
            u = usage(meters, data.at_start, data.at_end, ctx.start, ctx.end,
                      item.rule.anomaly.boundary_hours)
            check(u, [s["meter"] for s in u.segments],
                  data.history.get((unit.id, item.id), []), item.rule.anomaly,
                  unit.status in OCCUPIED_STATUSES)
            problems += [{**p, "fee": item.code} for p in u.problems]
            lines += metered_lines(item, u.quantity, months, {
                "utility": item.rule.utility, "consumption": str(u.quantity),
                "segments": u.segments})
        elif item.kind == "shared":
            problems += ctx.share_problems.get(item.id, {}).get(unit.id, [])
            line = ctx.shares.get(item.id, {}).get(unit.id)
            if line is not None:
                lines.append(line)
        elif item.kind == "parking_pass":
            for p in data.passes.get(unit.id, ()):
                lines.append(_line(item, "charge", f"{item.name} {p.plate} {item.rule.price}元/月"
                                   f" × {months}月", Decimal(months), item.rule.price,
                                   fen(item.rule.price * months),
                                   {"pass_id": p.id, "plate": p.plate,
                                    "valid_from": p.valid_from.isoformat(),
                                    "valid_to": p.valid_to.isoformat()}))
        elif item.kind == "parking_temp":
            for c in data.charges.get(unit.id, ()):
                owed = c.amount - c.paid
                lines.append(_line(item, "charge", f"{item.name} {c.plate or ''} 未缴临停费",
                                   Decimal(1), owed, fen(owed),
                                   {"charge_id": c.id, "event_id": c.event_id,
                                    "session": c.source_ref, "plate": c.plate,
                                    "amount": str(c.amount), "paid": str(c.paid),
                                    "at": c.created_at.isoformat()}))
        if len(lines) > before:
            d = ctx.period.due_date(item.due_days)
            due = d if due is None or d < due else due
    return lines, problems, due


def share_line(item: Item, unit_id: int, amount: Decimal, quantity: Decimal,
               source: Mapping[str, Any]) -> dict[str, Any]:
    zh, _measure = _UTILITY_ZH.get(item.rule.utility, (item.rule.utility, ""))
    basis = "按面积" if item.rule.basis == "area" else "按用量"
    del unit_id
    return _line(item, "charge", f"{item.name} 公摊{zh}（{basis}）", quantity, item.rule.price,
                 amount, dict(source))


def bill_total(lines: Sequence[Mapping[str, Any]]) -> Decimal:
    """A bill's total: the sum of its (already rounded) lines."""
    return sum((Decimal(line["amount"]) for line in lines), Decimal("0.00"))
