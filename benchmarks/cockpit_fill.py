"""The cockpit benchmark's data (issue 15): a fresh PostgreSQL database filled with ``sites`` ×
``devices`` (meters, cameras, gates, doors, elevators), records (buildings, units, billing
meters), the edges' latest health, some open alarms and work orders, and ``days`` of hourly
rollups — and the event mix the edges then send (``EdgeLoad``).

The rollups are **bulk-inserted straight into ``cockpit_hourly``** (``INSERT … SELECT`` over
``generate_series`` in the database), not computed by ingesting 30 days of raw events: what is
measured is reading them under load, not building them. Device rows add up to their building
and the building rows to the site, as ingest would have booked them.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
from sqlalchemy import Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.tables import Alarm
from cloud.auth.tokens import create_token
from cloud.db.models import Device, Meter, Site
from cloud.records.tables import BillingMeter, Building, Unit
from cloud.sites.edge_health import EdgeHealthRow
from cloud.workorders.tables import Technician, WorkOrder
from contract import Batch, Envelope, encode_batch, new_epoch, priority_for, topics

TZ = "Asia/Shanghai"
LOTS = ("P1", "P2")


@dataclass(frozen=True, slots=True)
class Layout:
    """How many of each device a site has (``devices`` in all) and how its keys are named."""

    sites: int
    devices: int

    @property
    def buildings(self) -> int:
        return max(1, self.devices // 10)

    def _share(self, percent: int) -> int:
        return max(1, self.devices * percent // 100)

    @property
    def energy_meters(self) -> int:
        return self._share(40)

    @property
    def water_meters(self) -> int:
        return self._share(20)

    @property
    def cameras(self) -> int:
        return self._share(10)

    @property
    def gates(self) -> int:
        return self._share(10)

    @property
    def doors(self) -> int:
        return self._share(15)

    @property
    def elevators(self) -> int:
        return max(1, self.devices - self.energy_meters - self.water_meters - self.cameras
                   - self.gates - self.doors)

    def slug(self, i: int) -> str:
        return f"bench-{i:02d}"

    def slugs(self) -> list[str]:
        return [self.slug(i) for i in range(self.sites)]

    def building_of(self, n: int) -> str:
        return str(n % self.buildings + 1)

    def devices_of(self) -> Iterator[tuple[str, str, str | None]]:
        """(key, device kind, unit ref or building) of every device of a site."""
        for n in range(self.energy_meters):
            yield f"em-{n:03d}", "meter", f"{self.building_of(n)}-{n + 101}"
        for n in range(self.water_meters):
            yield f"wm-{n:03d}", "meter", f"{self.building_of(n)}-{n + 101}"
        for n in range(self.cameras):
            yield f"cam-{n:02d}", "camera", None
        for n in range(self.gates):
            yield f"gate-{n:02d}", "gate", None
        for n in range(self.doors):
            yield f"door-{n:02d}", "door", None
        for n in range(self.elevators):
            yield f"lift-{n:02d}", "elevator", self.building_of(n)


@asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of ``admin_url`` (dropped afterwards); its
    SQLAlchemy asyncpg URL."""
    u = urlparse(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    name = f"cy_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(urlunparse(u._replace(scheme="postgresql")), timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunparse(u._replace(scheme="postgresql+asyncpg", path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(urlunparse(u._replace(scheme="postgresql")), timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _ids(s: AsyncSession, q: Select[str, int]) -> dict[str, int]:
    return {k: v for k, v in (await s.execute(q)).all()}


async def fill_records(s: AsyncSession, layout: Layout, now: datetime) -> dict[str, int]:
    """Sites, buildings, units, devices, meters, edge health, alarms and work orders; returns
    ``{slug: site id}``."""
    rng = random.Random(15)
    ids: dict[str, int] = {}
    techs = [Technician(name=f"技工{t:02d}", skills=["electrical", "plumbing"], on_duty=True)
             for t in range(10)]
    s.add_all(techs)
    for i, slug in enumerate(layout.slugs()):
        site = Site(slug=slug, name=f"压测小区{i:02d}", timezone=TZ, online=i % 17 != 5,
                    last_seen_at=now, status_changed_at=now - timedelta(days=3))
        s.add(site)
        await s.flush()
        ids[slug] = site.id
        await s.execute(insert(Building), [
            {"site_id": site.id, "code": str(b + 1), "name": f"{b + 1}栋", "floors": 18,
             "created_at": now, "updated_at": now} for b in range(layout.buildings)])
        bids = await _ids(s, select(Building.code, Building.id).where(
            Building.site_id == site.id))
        devices = list(layout.devices_of())
        refs = sorted({ref for _, kind, ref in devices if kind == "meter" and ref})
        await s.execute(insert(Unit), [
            {"site_id": site.id, "building_id": bids[ref.split("-")[0]], "code": ref,
             "floor": 1, "area": Decimal("89.50"), "inner_area": Decimal("72.10"),
             "unit_type": "residential", "status": "occupied", "created_at": now,
             "updated_at": now} for ref in refs])
        uids = await _ids(s, select(Unit.code, Unit.id).where(Unit.site_id == site.id))
        await s.execute(insert(Device), [
            {"site_id": site.id, "key": key, "kind": kind, "online": rng.random() > 0.03,
             "unit_ref": ref if kind == "meter" else None,
             "profile": ("eastron_sdm120" if key.startswith("em-") else
                         "xintai_water" if key.startswith("wm-") else None),
             "last_seen_at": now, "last_event_at": now} for key, kind, ref in devices])
        dids = await _ids(s, select(Device.key, Device.id).where(Device.site_id == site.id))
        meters = [(k, ref) for k, kind, ref in devices if kind == "meter" and ref]
        await s.execute(insert(Meter), [
            {"device_id": dids[k], "unit_ref": ref,
             "profile": "eastron_sdm120" if k.startswith("em-") else "xintai_water",
             "last_values": {}} for k, ref in meters])
        await s.execute(insert(BillingMeter), [
            {"site_id": site.id, "code": f"{slug}-{k}",
             "utility": "electricity" if k.startswith("em-") else "water", "scope": "unit",
             "unit_id": uids[ref], "device_key": k,
             "register": "energy_import_kwh" if k.startswith("em-") else "water_forward_m3",
             "multiplier": Decimal(1), "installed_at": now - timedelta(days=400),
             "initial_reading": Decimal(0), "created_at": now, "updated_at": now}
            for k, ref in meters])
        fam = {"meter": layout.energy_meters + layout.water_meters, "camera": layout.cameras,
               "gate": layout.gates, "access": layout.doors, "elevator": layout.elevators}
        s.add(EdgeHealthRow(site_id=site.id, reported_at=now, edge_ts=now,
                            outbox_depth=rng.randrange(0, 40),
                            oldest_age_s=rng.random() * 5 if i % 3 else None,
                            devices={f: {"online": n - (1 if i % 5 == 0 else 0), "total": n}
                                     for f, n in fam.items()},
                            patrol_receivers=None))
        _alarms(s, site.id, i, layout, now)
        _orders(s, site.id, i, now)
    await s.flush()
    for t in techs:
        t.site_ids = sorted(ids.values())
    return ids


def _alarms(s: AsyncSession, site_id: int, i: int, layout: Layout, now: datetime) -> None:
    """A few open alarms per site, a different mix on each (so the company ranking varies)."""
    specs = ([("door.forced", "major", "门被强行打开", "Door forced open")] * (i % 4)
             + [("door.held_open", "minor", "门长时间未关", "Door held open")] * (i % 3)
             + [("elevator.trapped", "critical", "电梯困人", "Passengers trapped")] * (i % 7 == 0))
    for n, (kind, sev, zh, en) in enumerate(specs):
        device = f"door-{n % layout.doors:02d}" if kind.startswith("door") else "lift-00"
        at = now - timedelta(minutes=7 * n + i)
        s.add(Alarm(site_id=site_id, kind=kind, severity=sev, state="open",
                    fold_key=f"{kind}|{device}|seed{n}", source_key=f"{device}|seed{n}",
                    device=device, title_zh=zh, title_en=en, location_text=device, count=1,
                    first_ts=at, last_ts=at, opened_at=at, event_id=0,
                    event_uuid=str(uuid.uuid4()), evidence={}, updated_at=at))


def _orders(s: AsyncSession, site_id: int, i: int, now: datetime) -> None:
    """Open work orders, some overdue, some resolved today (for the SLA figure)."""
    for n in range(6):
        opened = now - timedelta(hours=3 * n + 1)
        resolved = n % 3 == 2
        s.add(WorkOrder(
            site_id=site_id, category="electrical", priority="normal",
            state="closed" if resolved else ("assigned" if n % 2 else "pool"),
            title_zh=f"维修{n}", title_en=f"Repair {n}", source_kind="request",
            request_id=f"bench-{site_id}-{n}", fold_key=f"bench|{site_id}|{n}",
            last_event_ts=opened, opened_at=opened, cause_ts=opened,
            response_due=opened + timedelta(minutes=30),
            resolve_due=opened + timedelta(hours=4 if n % 2 else 8 + i % 3),
            resolved_at=opened + timedelta(hours=2) if resolved else None,
            closed_at=opened + timedelta(hours=2) if resolved else None,
            assignee_ids=[], updated_at=opened))


#: The load curve by site-local hour, as a SQL expression of ``h`` (the UTC hour): 0.2 at
#: 06:00, 1.0 at 18:00.
_CURVE = ("(0.6 - 0.4 * cos(pi() * (extract(hour from h AT TIME ZONE 'Asia/Shanghai'))"
          " / 12.0 - pi() / 2.0))")
#: Statement parameters: $1 the first and $2 the last UTC hour, $3 the site id.
_HOURS = "generate_series($1::timestamptz, $2::timestamptz, interval '1 hour') AS h"
_INSERT = "INSERT INTO cockpit_hourly (site_id, hour, subject_type, subject, metric, value) "
_METERS = ("FROM devices d JOIN units u ON u.site_id = d.site_id AND u.code = d.unit_ref"
           " JOIN buildings b ON b.id = u.building_id")

#: (what, SQL) of one site's bulk fill, in order: devices, then their sums.
ROLLUP_SQL: tuple[tuple[str, str], ...] = (
    ("energy per meter", _INSERT + "SELECT d.site_id, h, 'device', d.key, 'energy_kwh',"
     f" round(((0.3 + random() * 1.2) * {_CURVE})::numeric, 4) {_METERS}"
     f" CROSS JOIN {_HOURS} WHERE d.site_id = $3 AND d.key LIKE 'em-%'"),
    ("water per meter", _INSERT + "SELECT d.site_id, h, 'device', d.key, 'water_m3',"
     f" round(((0.02 + random() * 0.08) * {_CURVE})::numeric, 4) {_METERS}"
     f" CROSS JOIN {_HOURS} WHERE d.site_id = $3 AND d.key LIKE 'wm-%'"),
    ("parking per lot", _INSERT + "SELECT $3, h, 'lot', lot, m,"
     " floor(random() * (CASE m WHEN 'parking_income_fen' THEN 12000 ELSE 30 END)"
     f" * {_CURVE}) FROM {_HOURS} CROSS JOIN unnest(ARRAY['P1', 'P2']) AS lot"
     " CROSS JOIN unnest(ARRAY['parking_entries', 'parking_exits', 'parking_income_fen'])"
     " AS m"),
    ("gates per lane", _INSERT + "SELECT d.site_id, h, 'lane', 'lane-' || substr(d.key, 6),"
     f" 'gate_opened', floor(random() * 25 * {_CURVE}) FROM devices d CROSS JOIN {_HOURS}"
     " WHERE d.site_id = $3 AND d.key LIKE 'gate-%'"),
    ("doors per door", _INSERT + "SELECT d.site_id, h, 'door', d.key, 'door_events',"
     f" floor(random() * 20 * {_CURVE}) FROM devices d CROSS JOIN {_HOURS}"
     " WHERE d.site_id = $3 AND d.key LIKE 'door-%'"),
    ("forced / held doors", _INSERT + "SELECT d.site_id, h, 'door', d.key, m, 1"
     f" FROM devices d CROSS JOIN {_HOURS}"
     " CROSS JOIN unnest(ARRAY['door_forced', 'door_held']) AS m"
     " WHERE d.site_id = $3 AND d.key LIKE 'door-%' AND random() < 0.004"),
    ("alarm counts", _INSERT + f"SELECT $3, h, 'site', '', 'alarm_events', floor(random() * 4)"
     f" FROM {_HOURS}"),
    # (every statement takes the same three parameters, so this one names $1 and $2 too)
    ("zeros dropped", "DELETE FROM cockpit_hourly WHERE site_id = $3 AND value = 0"
     " AND $1::timestamptz <= $2::timestamptz"),
    ("meters per building", _INSERT + "SELECT c.site_id, c.hour, 'building', b.code,"
     f" c.metric, sum(c.value) FROM cockpit_hourly c JOIN ({_METERS.removeprefix('FROM ')}"
     ") ON d.site_id = c.site_id AND d.key = c.subject"
     " WHERE c.site_id = $3 AND c.subject_type = 'device' AND c.hour BETWEEN $1 AND $2"
     " GROUP BY c.site_id, c.hour, b.code, c.metric"),
    ("site sums", _INSERT + "SELECT site_id, hour, 'site', '', metric, sum(value)"
     " FROM cockpit_hourly WHERE site_id = $3 AND hour BETWEEN $1 AND $2"
     " AND subject_type IN ('building', 'lot', 'lane', 'door') GROUP BY site_id, hour, metric"),
)


async def fill_rollups(url: str, site_ids: list[int], now: datetime, days: int) -> int:
    """``days`` of hourly rollups up to the current hour for every site, one site at a time
    on a plain asyncpg connection (no statement timeout); the rows written."""
    last = now.replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(days=days) + timedelta(hours=1)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"),
                                 timeout=10)
    try:
        for site_id in site_ids:
            async with conn.transaction():
                for _, sql in ROLLUP_SQL:
                    await conn.execute(sql, first, last, site_id)
        await conn.execute("ANALYZE cockpit_hourly")
        return int(await conn.fetchval("SELECT count(*) FROM cockpit_hourly"))
    finally:
        await conn.close()


async def admin_token(s: AsyncSession, now: datetime) -> str:
    _, secret = await create_token(s, name="cockpit bench", role="admin", site_ids=None,
                                   created_by="bench", now=now)
    return secret


# -- the edges' events --------------------------------------------------------------------------

#: (kind, weight): meter readings mostly, then parking, gates and doors, some alarm raisers.
MIX: tuple[tuple[str, int], ...] = (
    ("meter.reading", 700), ("parking.entry", 50), ("parking.exit", 45),
    ("gate.opened", 50), ("access.granted", 80), ("door.opened", 40),
    ("elevator.state", 25), ("door.forced", 4), ("door.held_open", 4), ("elevator.fault", 2))


@dataclass
class _Site:
    slug: str
    epoch: str = field(default_factory=new_epoch)
    seq: int = 0
    kwh: list[float] = field(default_factory=list)
    m3: list[float] = field(default_factory=list)
    parked: deque[tuple[str, str, str, datetime]] = field(default_factory=deque)


class EdgeLoad:
    """The batches ``sites`` edges send: each site's own epoch and seqs, ~``batch`` events
    each, kinds drawn from ``MIX``; meters' counters only rise (a plausible hourly rise)."""

    def __init__(self, layout: Layout, seed: int = 15) -> None:
        self.layout = layout
        self.rng = random.Random(seed)
        self.sites = [_Site(slug, kwh=[1000.0 + n for n in range(layout.energy_meters)],
                            m3=[200.0 + n for n in range(layout.water_meters)])
                      for slug in layout.slugs()]
        kinds, weights = zip(*MIX, strict=True)
        self._kinds: list[str] = list(kinds)
        self._cum = [sum(weights[:i + 1]) for i in range(len(weights))]
        self.kinds: dict[str, int] = {k: 0 for k in kinds}
        self.plate_n = 0

    def batch(self, site_index: int, n: int, now: datetime) -> tuple[str, bytes]:
        """The topic and payload of the next ``n`` events of site ``site_index``."""
        st = self.sites[site_index]
        events: list[Envelope] = []
        for k in self.rng.choices(self._kinds, cum_weights=self._cum, k=n):
            device, data = self._event(st, k, now)
            self.kinds[k] += 1
            st.seq += 1
            events.append(Envelope(seq=st.seq, id=str(uuid.uuid4()), ts=now, device=device,
                                   kind=k, data=data, priority=priority_for(k)))
        return topics.up_events(st.slug), encode_batch(
            Batch(site=st.slug, events=events, epoch=st.epoch))

    def _event(self, st: _Site, kind: str, now: datetime) -> tuple[str, dict[str, Any]]:
        lay, rng = self.layout, self.rng
        if kind == "meter.reading":
            if rng.random() < 0.66:
                m = rng.randrange(lay.energy_meters)
                st.kwh[m] += rng.uniform(0.001, 0.02)
                return f"em-{m:03d}", {
                    "v": 1, "profile": "eastron_sdm120",
                    "unit": f"{lay.building_of(m)}-{m + 101}",
                    "values": {"voltage": round(rng.uniform(218, 232), 1),
                               "current": round(rng.uniform(0, 20), 3),
                               "power_w": round(rng.uniform(0, 4000), 1),
                               "energy_import_kwh": round(st.kwh[m], 3)},
                    "units": {"voltage": "V", "current": "A", "power_w": "W",
                              "energy_import_kwh": "kWh"}}
            m = rng.randrange(lay.water_meters)
            st.m3[m] += rng.uniform(0.0001, 0.002)
            return f"wm-{m:03d}", {"v": 1, "profile": "xintai_water",
                                   "unit": f"{lay.building_of(m)}-{m + 101}",
                                   "values": {"water_forward_m3": round(st.m3[m], 4)},
                                   "units": {"water_forward_m3": "m3"}}
        if kind in ("parking.entry", "parking.exit", "gate.opened"):
            return self._parking(st, kind, now)
        if kind.startswith(("door.", "access.")):
            door = f"door-{rng.randrange(lay.doors):02d}"
            data: dict[str, Any] = {"v": 1, "door": door, "message": f"{door} {kind}"}
            if kind == "access.granted":
                data["credential"] = f"card-{rng.randrange(100000):05d}"
            return door, data
        lift = rng.randrange(lay.elevators)
        base: dict[str, Any] = {"v": 1, "building": lay.building_of(lift),
                                "name": f"{lift + 1}号梯", "floor": rng.randrange(1, 19)}
        if kind == "elevator.fault":
            return f"lift-{lift:02d}", {**base, "code": "E21", "key": "door_lock",
                                        "name_zh": "门锁回路故障", "name_en": "Door lock fault",
                                        "severity": "major"}
        return f"lift-{lift:02d}", {**base, "mode": "normal", "door": "closed",
                                    "direction": rng.choice(("up", "down", "none"))}

    def _parking(self, st: _Site, kind: str, now: datetime) -> tuple[str, dict[str, Any]]:
        rng, gates = self.rng, self.layout.gates
        g = rng.randrange(gates)
        lane, lot = f"lane-{g:02d}", LOTS[g % len(LOTS)]
        if kind == "gate.opened":
            return f"gate-{g:02d}", {"v": 1, "gate": f"gate-{g:02d}", "lane": lane,
                                     "cause": "plate", "by": None, "reason": None,
                                     "plate": None, "session": None, "transport": "relay"}
        common = {"v": 1, "lane": lane, "lot": lot, "category": "temporary", "matched": None,
                  "match_rule": None, "trail": [], "anomalies": [], "offline": False}
        if kind == "parking.entry" or not st.parked:
            self.plate_n += 1
            plate = f"粤B{self.plate_n % 100000:05d}"
            sid = str(uuid.uuid4())
            st.parked.append((sid, plate, lot, now))
            return lane, {**common, "session": sid, "plate": plate, "plate_read": plate,
                          "replaced_session": None, "camera": f"cam-{g % self.layout.cameras:02d}"}
        sid, plate, lot, entry = st.parked.popleft()
        fee = Decimal(rng.choice((0, 5, 10, 15)))
        paid = f"{fee:.2f}"
        at = now.isoformat()
        return lane, {**common, "lot": lot, "session": sid, "plate": plate, "plate_read": plate,
                      "entry_ts": entry.isoformat(), "exit_ts": at,
                      "minutes": max(0, int((now - entry).total_seconds() // 60)),
                      "fee": paid, "paid": paid, "paid_at": at if fee else None, "due": "0.00",
                      "payments": ([{"id": str(uuid.uuid4()), "amount": paid,
                                     "method": "wechat", "operator": None, "at": at}]
                                   if fee else [])}


def utc_now() -> datetime:
    return datetime.now(UTC)
