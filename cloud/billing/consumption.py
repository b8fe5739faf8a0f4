"""Meter consumption over a period from the readings at its boundaries.

For each meter in service during [start, end): the start value is the reading at or before
the start boundary (or the meter's ``initial_reading`` when it was installed inside the
period), the end value the reading at or before the end boundary (or its ``final_reading``
when it was removed inside the period). So a swap bills exactly
``old final − old at start + new at end − new initial``. A register that went down wrapped
when the meter has ``rollover_at`` (the largest value it shows; it counts on from zero, so one
step of its last digit is added); every difference is multiplied by the meter's multiplier
(CT ratio).

A reading counts only when it is at most ``boundary_hours`` older than the boundary and not
older than the meter's installation: a meter silent around the boundary cannot be billed
(``no_reading``). Anomalies become hold reasons naming the meter, the values and why:
``negative`` (the register went down and the meter does not roll over), ``spike`` (more than
``spike_factor`` × the trailing average, or more than ``spike_cap``), ``stuck`` (zero for an
occupied unit over ``stuck_periods`` periods), ``no_reading``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.billing.fee_items import Anomaly
from cloud.billing.money import qty
from cloud.db.models import Reading

#: Devices per readings query (well under PostgreSQL's bind-parameter limit).
QUERY_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class MeterInfo:
    id: int
    code: str
    utility: str
    scope: str
    unit_id: int | None
    building_id: int | None
    device_id: int | None
    register: str | None
    multiplier: Decimal
    rollover_at: Decimal | None
    installed_at: datetime
    initial_reading: Decimal
    removed_at: datetime | None
    final_reading: Decimal | None


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    value: Decimal


Points = Mapping[tuple[int, str], Point]


@dataclass
class Usage:
    """Billed consumption of one utility (after multipliers, never negative) and its trace."""

    quantity: Decimal = Decimal(0)
    segments: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


def rollover_modulus(rollover_at: Decimal) -> Decimal:
    """The register's modulus: its largest value plus one step of its last digit
    (99999.99 → 100000.00, 9999 → 10000)."""
    norm = rollover_at.normalize()
    exp = norm.as_tuple().exponent
    step = Decimal(1).scaleb(exp) if isinstance(exp, int) and exp < 0 else Decimal(1)
    return rollover_at + step


def _problem(meter: str, reason: str, zh: str, en: str, **values: Any) -> dict[str, Any]:
    return {"meter": meter, "reason": reason, "message": f"{zh} / {en}",
            **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}}


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def in_service(m: MeterInfo, start: datetime, end: datetime) -> bool:
    return m.installed_at < end and (m.removed_at is None or m.removed_at > start)


def _at(m: MeterInfo, points: Points, boundary: datetime, hours: int
        ) -> Point | None:
    if m.device_id is None or m.register is None:
        return None
    p = points.get((m.device_id, m.register))
    if p is None or p.ts < m.installed_at or p.ts < boundary - timedelta(hours=hours) \
            or p.ts > boundary:
        return None
    return p


def usage(meters: Iterable[MeterInfo], at_start: Points, at_end: Points, start: datetime,
          end: datetime, boundary_hours: int) -> Usage:
    """Consumption of ``meters`` (one unit's meters of one utility, or one shared pool's)."""
    out = Usage()
    for m in sorted(meters, key=lambda m: (m.installed_at, m.id)):
        if not in_service(m, start, end):
            continue
        if m.installed_at >= start:
            v0, t0, how0 = m.initial_reading, m.installed_at, "installed"
        else:
            p = _at(m, at_start, start, boundary_hours)
            if p is None:
                out.problems.append(_problem(
                    m.code, "no_reading", f"表 {m.code} 在账期开始前 {boundary_hours} 小时内无读数",
                    f"meter {m.code} has no reading within {boundary_hours} h before the "
                    f"period's start", boundary=_iso(start)))
                continue
            v0, t0, how0 = p.value, p.ts, "reading"
        if m.removed_at is not None and m.removed_at <= end:
            if m.final_reading is None:
                out.problems.append(_problem(
                    m.code, "no_reading", f"表 {m.code} 已拆除但未记录拆表读数",
                    f"meter {m.code} was removed without a final reading",
                    removed_at=_iso(m.removed_at)))
                continue
            v1, t1, how1 = m.final_reading, m.removed_at, "removed"
        else:
            p = _at(m, at_end, end, boundary_hours)
            if p is None:
                out.problems.append(_problem(
                    m.code, "no_reading", f"表 {m.code} 在账期结束前 {boundary_hours} 小时内无读数",
                    f"meter {m.code} has no reading within {boundary_hours} h before the "
                    f"period's end", boundary=_iso(end)))
                continue
            v1, t1, how1 = p.value, p.ts, "reading"
        raw = v1 - v0
        rolled = False
        if raw < 0:
            if m.rollover_at is not None:
                raw += rollover_modulus(m.rollover_at)
                rolled = True
            else:
                out.problems.append(_problem(
                    m.code, "negative", f"表 {m.code} 读数倒退：{v0} → {v1}",
                    f"meter {m.code} went backwards: {v0} → {v1}", start=v0, end=v1))
                raw = Decimal(0)
        billed = qty(raw * m.multiplier)
        out.quantity += billed
        out.segments.append({
            "meter_id": m.id, "meter": m.code, "start": str(v0), "start_at": _iso(t0),
            "start_from": how0, "end": str(v1), "end_at": _iso(t1), "end_from": how1,
            "multiplier": str(m.multiplier), "rollover": rolled, "consumption": str(billed)})
    return out


def check(u: Usage, meters: Sequence[str], history: Sequence[Decimal], rule: Anomaly,
          occupied: bool) -> None:
    """Add spike and stuck reasons to ``u``; ``history`` is the consumption of the previous
    periods, newest first (as far as bills exist)."""
    label = ", ".join(meters) or "?"
    q = u.quantity
    shown = f"{q.normalize():f}"  # 850, not the stored 850.000000
    if rule.spike_cap is not None and q > rule.spike_cap:
        u.problems.append(_problem(
            label, "spike", f"表 {label} 用量 {shown} 超过上限 {rule.spike_cap}",
            f"meter {label} used {shown}, above the cap {rule.spike_cap}", consumption=q,
            cap=rule.spike_cap))
    else:
        past = list(history[:rule.spike_periods])
        if past:
            avg = sum(past, Decimal(0)) / len(past)
            if avg > 0 and q > avg * rule.spike_factor:
                avg_s = qty(avg)
                u.problems.append(_problem(
                    label, "spike", f"表 {label} 用量 {shown} 超过近 {len(past)} 期平均 {avg_s} "
                    f"的 {rule.spike_factor} 倍", f"meter {label} used {shown}, more than "
                    f"{rule.spike_factor}× the trailing average {avg_s} of {len(past)} "
                    f"period(s)", consumption=q, average=avg_s))
    if occupied and q == 0 and meters:
        need = rule.stuck_periods - 1
        if len(history) >= need and all(h == 0 for h in history[:need]):
            u.problems.append(_problem(
                label, "stuck", f"表 {label} 已连续 {rule.stuck_periods} 期用量为零（住户在住）",
                f"meter {label} shows zero consumption for {rule.stuck_periods} period(s) "
                f"in an occupied unit", consumption=q, periods=rule.stuck_periods))


async def boundary_points(session: AsyncSession, device_ids: Iterable[int], at: datetime,
                          hours: int) -> dict[tuple[int, str], Point]:
    """The newest reading of each (device, register) in [at − hours, at], one query per
    chunk of devices (a window over the (device_id, ts) index)."""
    ids = sorted(set(device_ids))
    out: dict[tuple[int, str], Point] = {}
    lo = at - timedelta(hours=hours)
    pg = session.get_bind().dialect.name == "postgresql"
    for i in range(0, len(ids), QUERY_CHUNK):
        chunk = ids[i:i + QUERY_CHUNK]
        # PostgreSQL: one array parameter (= ANY) instead of a thousand expanded ones.
        match = (Reading.device_id == any_(bindparam("devs", chunk, type_=ARRAY(Integer)))
                 if pg else Reading.device_id.in_(chunk))
        rn = func.row_number().over(partition_by=(Reading.device_id, Reading.name),
                                    order_by=(Reading.ts.desc(), Reading.id.desc())).label("rn")
        sub = (select(Reading.device_id, Reading.name, Reading.ts, Reading.value, rn)
               .where(match, Reading.ts <= at, Reading.ts >= lo)
               .subquery())
        rows = await session.execute(
            select(sub.c.device_id, sub.c.name, sub.c.ts, sub.c.value).where(sub.c.rn == 1))
        for dev, name, ts, value in rows:
            out[(dev, name)] = Point(ts, value)
    return out
