"""``meter.reading`` → exact ``readings`` rows, the meter's latest values, device last seen.

Values become money (utility bills), so they are converted to Decimal from their JSON text form
(``repr`` of the float, never its binary expansion) and kept to six places. Non-numeric values
(a valve state string, a boolean) are not readings and are skipped, counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import Table, insert, select

from cloud.db.models import Device, Meter, Reading
from cloud.db.types import QUANTITY_LIMIT
from cloud.ingest.handlers import HandlerContext, StoredEvent
from cloud.ingest.sql import dialect_insert

SIX_PLACES = Decimal("0.000001")
ENERGY_REGISTER = "energy_import_kwh"
WATER_REGISTER = "water_forward_m3"
MAX_NAME = 64
MAX_UNIT = 16


def to_quantity(raw: Any) -> Decimal | None:
    """A JSON number as an exact Decimal with six places, or None when it is not one."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    try:
        value = Decimal(repr(raw) if isinstance(raw, float) else raw).quantize(SIX_PLACES)
    except InvalidOperation:
        return None
    if abs(value) >= QUANTITY_LIMIT:
        return None
    return value


def _values_of(ctx: HandlerContext, ev: StoredEvent) -> dict[str, Decimal]:
    values = ev.data.get("values")
    if not isinstance(values, dict):
        ctx.count("readings_without_values")
        ctx.log.warning("meter.reading.no_values", device=ev.device, seq=ev.seq)
        return {}
    out: dict[str, Decimal] = {}
    for name, raw in values.items():
        q = to_quantity(raw)
        if q is None or not name or len(name) > MAX_NAME:
            ctx.count("readings_skipped")
            continue
        out[name] = q
    return out


async def on_meter_reading(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    rows: list[dict[str, Any]] = []
    per_device: dict[int, list[tuple[StoredEvent, dict[str, Decimal]]]] = defaultdict(list)
    for ev in events:
        values = _values_of(ctx, ev)
        units = ev.data.get("units")
        units = units if isinstance(units, dict) else {}
        for name, q in values.items():
            unit = units.get(name)
            rows.append({
                "site_id": ctx.site_id, "device_id": ev.device_id, "ts": ev.ts, "name": name,
                "value": q, "unit": unit[:MAX_UNIT] if isinstance(unit, str) else None,
                "event_id": ev.id, "received_at": ctx.now,
            })
        per_device[ev.device_id].append((ev, values))
    if rows:
        await ctx.session.execute(insert(cast(Table, Reading.__table__)), rows)
        ctx.count("readings_inserted", len(rows))
    await _update_meters(ctx, per_device)


async def _update_meters(
    ctx: HandlerContext,
    per_device: dict[int, list[tuple[StoredEvent, dict[str, Decimal]]]],
) -> None:
    ids = list(per_device)
    if not ids:
        return
    await ctx.session.execute(
        dialect_insert(ctx.session, cast(Table, Meter.__table__))
        .values([{"device_id": i, "last_values": {}} for i in ids])
        .on_conflict_do_nothing(index_elements=["device_id"])
    )
    meters = {m.device_id: m for m in (await ctx.session.scalars(
        select(Meter).where(Meter.device_id.in_(ids)))).all()}
    devices = {d.id: d for d in (await ctx.session.scalars(
        select(Device).where(Device.id.in_(ids)))).all()}
    for device_id, items in per_device.items():
        meter, dev = meters[device_id], devices[device_id]
        merged = dict(meter.last_values or {})
        newest = meter.last_reading_at
        for ev, values in sorted(items, key=lambda x: (x[0].ts, x[0].seq)):
            if newest is not None and ev.ts < newest:
                continue  # a late arrival must not roll the meter back
            merged.update({k: str(v) for k, v in values.items()})
            newest = ev.ts
            profile, unit_ref = ev.data.get("profile"), ev.data.get("unit")
            if isinstance(profile, str):
                meter.profile = dev.profile = profile[:64]
            if isinstance(unit_ref, str):
                meter.unit_ref = dev.unit_ref = unit_ref[:64]
        if newest is not None and newest != meter.last_reading_at:
            meter.last_values = merged
            meter.last_reading_at = newest
            if ENERGY_REGISTER in merged:
                meter.last_energy_kwh = Decimal(merged[ENERGY_REGISTER])
            if WATER_REGISTER in merged:
                meter.last_water_m3 = Decimal(merged[WATER_REGISTER])
        dev.kind = dev.kind or "meter"
        last = max(ev.ts for ev, _ in items)
        if dev.last_seen_at is None or last > dev.last_seen_at:
            dev.last_seen_at = last
