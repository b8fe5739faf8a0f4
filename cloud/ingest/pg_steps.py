"""The ingest's steps on PostgreSQL: one statement per step with rows as arrays, no per-row
SQLAlchemy work (the SQLite path in ``ingestor`` does the same through SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cloud.ingest.handlers import StoredEvent
from contract import Envelope

_PG_SELECT_DEVICES = "SELECT key, id FROM devices WHERE site_id = $1 AND key = ANY($2::text[])"
_PG_INSERT_DEVICES = (
    "INSERT INTO devices (site_id, key, online) SELECT $1, k, true FROM unnest($2::text[]) AS k"
    " ON CONFLICT (site_id, key) DO NOTHING")
_PG_INSERT_EVENTS = (
    "INSERT INTO events (site_id, epoch, seq, uuid, ts, kind, device, device_id, priority,"
    " data, received_at)"
    " SELECT $1, $11, v.seq, v.uuid, v.ts, v.kind, v.device, v.device_id, v.priority,"
    " v.data::jsonb, $2"
    " FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],"
    " $8::int[], $9::smallint[], $10::text[])"
    " AS v(seq, uuid, ts, kind, device, device_id, priority, data)"
    " ON CONFLICT (site_id, epoch, seq) DO NOTHING RETURNING seq, id")
_PG_TOUCH_DEVICES = (
    "UPDATE devices AS d SET last_event_at = v.ts"
    " FROM unnest($1::int[], $2::timestamptz[]) AS v(id, ts)"
    " WHERE d.id = v.id AND (d.last_event_at IS NULL OR d.last_event_at < v.ts)")


async def pg_ensure_devices(driver: Any, site_id: int, keys: set[str]) -> dict[str, int]:
    if not keys:
        return {}
    wanted = sorted(keys)
    found = {r[0]: int(r[1]) for r in await driver.fetch(_PG_SELECT_DEVICES, site_id, wanted)}
    missing = [k for k in wanted if k not in found]
    if missing:
        await driver.execute(_PG_INSERT_DEVICES, site_id, missing)
        found.update((r[0], int(r[1]))
                     for r in await driver.fetch(_PG_SELECT_DEVICES, site_id, missing))
    return found


async def pg_insert_events(driver: Any, site_id: int, epoch: str,
                           events: Sequence[Envelope], data_json: Sequence[str],
                           device_ids: dict[str, int], now: datetime) -> dict[int, int]:
    """Insert what is new in one statement; return ``{seq: row id}`` of the inserted rows."""
    if not events:
        return {}
    rows = await driver.fetch(
        _PG_INSERT_EVENTS, site_id, now,
        [e.seq for e in events], [e.id for e in events], [e.ts for e in events],
        [e.kind for e in events], [e.device for e in events],
        [device_ids[e.device] for e in events], [int(e.priority) for e in events],
        list(data_json), epoch)
    return {int(r[0]): int(r[1]) for r in rows}


async def pg_touch_devices(driver: Any, new: Sequence[StoredEvent]) -> None:
    latest: dict[int, datetime] = {}
    for e in new:
        if e.device_id not in latest or e.ts > latest[e.device_id]:
            latest[e.device_id] = e.ts
    await driver.execute(_PG_TOUCH_DEVICES, list(latest), list(latest.values()))
