"""``meter.reading`` → exact ``readings`` rows, the meter's latest values, device last seen.

Values become money (utility bills), so they are converted to Decimal from their JSON text form
(``repr`` of the float, never its binary expansion) and kept to six places. Non-numeric values
(a valve state string, a boolean) are not readings and are skipped, counted.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.dialect import dialect_insert, dialect_name, pg_driver
from cloud.db.models import Device, Meter, Reading
from cloud.db.types import QUANTITY_LIMIT, Quantity, UTCDateTime
from cloud.ingest.handlers import HandlerContext, StoredEvent

SIX_PLACES = Decimal("0.000001")
ENERGY_REGISTER = "energy_import_kwh"
WATER_REGISTER = "water_forward_m3"
MAX_NAME = 64
MAX_UNIT = 16


_LIMIT = float(QUANTITY_LIMIT)


def quantity_text(raw: Any) -> str | None:
    """A JSON number as exact decimal text with at most six places (what ``NUMERIC(20,6)``
    stores), or None when it is not a storable number.

    A float's text is its ``repr`` (the shortest text that round-trips, never its binary
    expansion); only the rare text with more than six places or an exponent goes through
    Decimal to be rounded (half even).
    """
    kind = type(raw)
    if kind is float:
        if not -_LIMIT < raw < _LIMIT:  # also refuses nan and infinities
            return None
        text = repr(raw)
        dot = text.find(".")
        if "e" in text or len(text) - dot > 7:
            return _rounded(text)
        return text
    if kind is int:
        return str(raw) if -QUANTITY_LIMIT < raw < QUANTITY_LIMIT else None
    return None  # bool, string, null, object: not a reading


def _rounded(text: str) -> str | None:
    try:
        value = Decimal(text).quantize(SIX_PLACES)
    except InvalidOperation:
        return None
    return str(value) if abs(value) < QUANTITY_LIMIT else None


def to_quantity(raw: Any) -> Decimal | None:
    """``quantity_text`` as a Decimal."""
    text = quantity_text(raw)
    return None if text is None else Decimal(text)


def _values_of(ctx: HandlerContext, ev: StoredEvent) -> dict[str, str]:
    values = ev.data.get("values")
    if not isinstance(values, dict):
        ctx.count("readings_without_values")
        ctx.log.warning("meter.reading.no_values", device=ev.device, seq=ev.seq)
        return {}
    out: dict[str, str] = {}
    for name, raw in values.items():
        q = quantity_text(raw)
        if q is None or not name or len(name) > MAX_NAME:
            ctx.count("readings_skipped")
            continue
        out[name] = q
    return out


METERS = cast(Table, Meter.__table__)
DEVICES = cast(Table, Device.__table__)
READING_COLUMNS = ("site_id", "device_id", "ts", "name", "value", "unit", "event_id",
                   "received_at")


async def insert_readings(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert (rows in ``READING_COLUMNS`` order) in the batch's transaction: COPY on
    PostgreSQL (readings outnumber events several times over, so this is the ingest path's
    hottest write), executemany elsewhere."""
    if dialect_name(session) == "postgresql":
        driver = await pg_driver(session)
        await driver.copy_to_table("readings", columns=READING_COLUMNS,
                                   source=io.BytesIO(_copy_text(rows)), format="text")
        return
    await session.execute(insert(cast(Table, Reading.__table__)),
                          [{**dict(zip(READING_COLUMNS, r, strict=True)), "value": Decimal(r[4])}
                           for r in rows])


_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: str | None) -> str:
    if value is None:
        return "\\N"
    return value.translate(_COPY_SPECIAL)


def _copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows as COPY text format; the value goes as its exact decimal text, which PostgreSQL
    parses into NUMERIC (cheaper than asyncpg's binary encoding of a Decimal per value)."""
    out: list[str] = []
    text: dict[Any, str] = {}  # timestamps, names and units repeat: format each once
    for site_id, device_id, ts, name, value, unit, event_id, received_at in rows:
        t = text.get(ts)
        if t is None:
            t = text[ts] = ts.isoformat()
        r = text.get(received_at)
        if r is None:
            r = text[received_at] = received_at.isoformat()
        n = text.get(name)
        if n is None:
            n = text[name] = _copy_field(name)
        u = text.get(unit)
        if u is None:
            u = text[unit] = _copy_field(unit)
        out.append(f"{site_id}\t{device_id}\t{t}\t{n}\t{value}\t{u}\t{event_id}\t{r}\n")
    return "".join(out).encode()


async def on_meter_reading(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    rows: list[tuple[Any, ...]] = []
    per_device: dict[int, list[tuple[StoredEvent, dict[str, str]]]] = defaultdict(list)
    site_id, now = ctx.site_id, ctx.now
    for ev in events:
        values = _values_of(ctx, ev)
        units = ev.data.get("units")
        units = units if isinstance(units, dict) else {}
        for name, q in values.items():
            unit = units.get(name)
            rows.append((site_id, ev.device_id, ev.ts, name, q,
                         unit[:MAX_UNIT] if isinstance(unit, str) else None, ev.id, now))
        per_device[ev.device_id].append((ev, values))
    if rows:
        await insert_readings(ctx.session, rows)
        ctx.count("readings_inserted", len(rows))
    await _update_meters(ctx, per_device)


def _meter_changes(
    per_device: dict[int, list[tuple[StoredEvent, dict[str, str]]]],
    current: dict[int, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """New meter state (only where a newer reading arrived) and device metadata, per device.

    ``current`` holds each meter's row (``last_values``, ``last_reading_at``, ``profile``,
    ``unit_ref``) before this batch.
    """
    meter_params: list[dict[str, Any]] = []
    device_params: list[dict[str, Any]] = []
    for device_id, items in per_device.items():
        cur = current[device_id]
        merged = dict(cur.last_values or {})
        newest = cur.last_reading_at
        profile, unit_ref = cur.profile, cur.unit_ref
        for ev, values in sorted(items, key=lambda x: (x[0].ts, x[0].seq)):
            if newest is not None and ev.ts < newest:
                continue  # a late arrival must not roll the meter back
            merged.update(values)
            newest = ev.ts
            p, u = ev.data.get("profile"), ev.data.get("unit")
            profile = p[:64] if isinstance(p, str) else profile
            unit_ref = u[:64] if isinstance(u, str) else unit_ref
        if newest is not None and newest != cur.last_reading_at:
            energy, water = merged.get(ENERGY_REGISTER), merged.get(WATER_REGISTER)
            meter_params.append({
                "b_dev": device_id, "b_values": merged, "b_at": newest, "b_profile": profile,
                "b_unit": unit_ref, "b_kwh": Decimal(energy) if energy is not None else None,
                "b_m3": Decimal(water) if water is not None else None,
            })
        device_params.append({"b_id": device_id, "b_profile": profile, "b_unit": unit_ref,
                              "b_seen": max(ev.ts for ev, _ in items)})
    return meter_params, device_params


async def _update_meters(
    ctx: HandlerContext,
    per_device: dict[int, list[tuple[StoredEvent, dict[str, str]]]],
) -> None:
    """Latest values per meter and device metadata, as two executemany UPDATEs (no ORM
    objects: a batch can touch hundreds of meters)."""
    ids = list(per_device)
    if not ids:
        return
    if dialect_name(ctx.session) == "postgresql":
        await _pg_update_meters(ctx, per_device)
        return
    await ctx.session.execute(
        dialect_insert(ctx.session, METERS)
        .values([{"device_id": i, "last_values": {}} for i in ids])
        .on_conflict_do_nothing(index_elements=["device_id"])
    )
    current = {r.device_id: r for r in (await ctx.session.execute(
        select(METERS.c.device_id, METERS.c.last_values, METERS.c.last_reading_at,
               METERS.c.unit_ref, METERS.c.profile)
        .where(METERS.c.device_id.in_(ids)))).all()}
    meter_params, device_params = _meter_changes(per_device, current)
    if meter_params:
        await ctx.session.execute(
            update(METERS).where(METERS.c.device_id == bindparam("b_dev")).values(
                last_values=bindparam("b_values", type_=METERS.c.last_values.type),
                last_reading_at=bindparam("b_at", type_=UTCDateTime()),
                profile=bindparam("b_profile", type_=String()),
                unit_ref=bindparam("b_unit", type_=String()),
                last_energy_kwh=func.coalesce(bindparam("b_kwh", type_=Quantity),
                                              METERS.c.last_energy_kwh),
                last_water_m3=func.coalesce(bindparam("b_m3", type_=Quantity),
                                            METERS.c.last_water_m3),
            ), meter_params)
    seen = bindparam("b_seen", type_=UTCDateTime())
    await ctx.session.execute(
        update(DEVICES).where(DEVICES.c.id == bindparam("b_id")).values(
            kind=func.coalesce(DEVICES.c.kind, "meter"),
            profile=bindparam("b_profile", type_=String()),
            unit_ref=bindparam("b_unit", type_=String()),
            last_seen_at=case((or_(DEVICES.c.last_seen_at.is_(None),
                                   DEVICES.c.last_seen_at < seen), seen),
                              else_=DEVICES.c.last_seen_at),
        ), device_params)


# -- PostgreSQL: the same three steps as array statements (one round trip each) -------------

_PG_ENSURE_METERS = (
    "INSERT INTO meters (device_id, last_values) SELECT d, '{}'::jsonb FROM unnest($1::int[]) AS d"
    " ON CONFLICT (device_id) DO NOTHING")
_PG_CURRENT_METERS = (
    "SELECT device_id, last_values::text AS last_values, last_reading_at, unit_ref, profile"
    " FROM meters WHERE device_id = ANY($1::int[])")
_PG_UPDATE_METERS = (
    "UPDATE meters AS m SET last_values = v.vals::jsonb, last_reading_at = v.at,"
    " profile = v.profile, unit_ref = v.unit,"
    " last_energy_kwh = COALESCE(v.kwh, m.last_energy_kwh),"
    " last_water_m3 = COALESCE(v.m3, m.last_water_m3)"
    " FROM unnest($1::int[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],"
    " $6::numeric[], $7::numeric[]) AS v(dev, vals, at, profile, unit, kwh, m3)"
    " WHERE m.device_id = v.dev")
_PG_UPDATE_DEVICES = (
    "UPDATE devices AS d SET kind = COALESCE(d.kind, 'meter'), profile = v.profile,"
    " unit_ref = v.unit, last_seen_at = CASE WHEN d.last_seen_at IS NULL"
    " OR d.last_seen_at < v.seen THEN v.seen ELSE d.last_seen_at END"
    " FROM unnest($1::int[], $2::text[], $3::text[], $4::timestamptz[])"
    " AS v(id, profile, unit, seen) WHERE d.id = v.id")


class _Row:
    __slots__ = ("last_reading_at", "last_values", "profile", "unit_ref")

    def __init__(self, values: Any, at: Any, unit_ref: Any, profile: Any) -> None:
        self.last_values = json.loads(values) if isinstance(values, str) else values
        self.last_reading_at = at
        self.unit_ref = unit_ref
        self.profile = profile


async def _pg_update_meters(
    ctx: HandlerContext,
    per_device: dict[int, list[tuple[StoredEvent, dict[str, str]]]],
) -> None:
    driver = await pg_driver(ctx.session)
    ids = sorted(per_device)
    await driver.execute(_PG_ENSURE_METERS, ids)
    current = {int(r[0]): _Row(r[1], r[2], r[3], r[4])
               for r in await driver.fetch(_PG_CURRENT_METERS, ids)}
    meter_params, device_params = _meter_changes(per_device, current)
    if meter_params:
        await driver.execute(
            _PG_UPDATE_METERS, [p["b_dev"] for p in meter_params],
            [json.dumps(p["b_values"], separators=(",", ":")) for p in meter_params],
            [p["b_at"] for p in meter_params], [p["b_profile"] for p in meter_params],
            [p["b_unit"] for p in meter_params], [p["b_kwh"] for p in meter_params],
            [p["b_m3"] for p in meter_params])
    await driver.execute(
        _PG_UPDATE_DEVICES, [p["b_id"] for p in device_params],
        [p["b_profile"] for p in device_params], [p["b_unit"] for p in device_params],
        [p["b_seen"] for p in device_params])
