"""Acceptance (issue 16): two console processes on one PostgreSQL and one Mosquitto, each with
its own ingest worker on the shared subscription, through a scripted day — every effect
exactly once, a site's events in order, and a console killed mid-bill-run whose run the other
finishes.

Real parts: two ``courtyard cloud serve`` processes (their own HTTP ports, so the test can
address and kill each), PostgreSQL, Mosquitto with per-site logins and the production ACL.
The site's edge is played by an MQTT client speaking the edge's batch format, publishing many
batches without waiting for acks (as the outbox does) and resending what is not acked.

1. The day's events: fire alarms from ten detectors, five forced-door events on each of ten
   doors (each door's third opens a work order under the repeat rule, the rest fold into it),
   and card swipes, in 300 batches (one controller per door: a work order folds per device).
   Both workers ingest; every event is stored once, in seq order (the insertion order of the
   site's rows is its seq order); 20 alarms, 10 orders.
2. Escalation (2 s acknowledgement window): every alarm climbs the chain once per level,
   whichever console's duty took the tick.
3. A bill run of 20,000 flats: the console holding its job is killed with SIGKILL after the
   first batch; the other takes the job over when the lease lapses and finishes it, each flat
   billed exactly once.
4. The killed console is back; the reminders schedule was missed for three days: one job,
   one overdue notice per unpaid bill.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import asyncpg
import pytest

from cloud.auth.audit import SYSTEM
from cloud.db.engine import make_engine
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Site
from cloud.sample_community import load_fee_items
from contract import Batch, Envelope, decode_ack, encode_batch, priority_for, topics
from tests.support import services
from tests.support.access_site import until
from tests.support.auth import token_headers
from tests.support.procs import Part, base_env

pytestmark = pytest.mark.slow

SITE = "twin"
SECRET = "twin-site-secret-000001"
CLOUD_USER, CLOUD_PASSWORD = "_courtyard-cloud", "console-broker-password-0002"
EPOCH = "twin-epoch-00000000000000000001"
UNITS = 20_000
BATCH_EVENTS = 10
DETECTORS, DOORS, FORCED_PER_DOOR, SWIPES = 10, 10, 5, 2_940
POLICY = """\
escalation:
  ack_timeout_s: {critical: 2, major: 2, minor: 2}
"""
NOW = datetime.now(UTC)


@pytest.fixture
def broker() -> Iterator[services.Mosquitto]:
    from cloud.mosquitto_acl import acl_text

    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, SITE: SECRET},
                                acl=acl_text([CLOUD_USER])) as m:
        yield m


async def seed(pg_url: str) -> None:
    """The site, 20 buildings of 1,000 flats (COPY) and its fee items, before any console."""
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        site_id = await conn.fetchval(
            "INSERT INTO sites (slug, name, timezone, online, acked_seq) "
            "VALUES ($1, '双实例小区', 'Asia/Shanghai', false, 0) RETURNING id", SITE)
        await conn.copy_records_to_table("buildings", columns=[
            "id", "site_id", "code", "name", "created_at", "updated_at"], records=[
            (b + 1, site_id, f"B{b + 1}", f"{b + 1}号楼", NOW, NOW) for b in range(20)])
        await conn.copy_records_to_table("units", columns=[
            "id", "site_id", "building_id", "code", "area", "unit_type", "status",
            "created_at", "updated_at"], records=[
            (i + 1, site_id, i // 1000 + 1, f"{i // 1000 + 1}-{i % 1000:04d}",
             Decimal(60 + i % 90) + Decimal("0.35"), "residential", "occupied", NOW, NOW)
            for i in range(UNITS)])
        for table in ("buildings", "units"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    engine = make_engine(pg_url)
    try:
        sessions = make_sessions(engine)
        from sqlalchemy import select

        async with sessions() as session, session.begin():
            site = (await session.execute(select(Site).where(Site.slug == SITE))).scalar_one()
            await load_fee_items(session, site, [
                {"code": "PF", "name": "物业费", "kind": "area", "due_days": 10,
                 "rule": {"rates": {"residential": "2.20"}}},
                {"code": "RUB", "name": "垃圾清运费", "kind": "fixed", "due_days": 10,
                 "rule": {"amount": "15.00"}}], SYSTEM, NOW)
    finally:
        await engine.dispose()


def day_events() -> list[Envelope]:
    """The scripted day, interleaved the way a site's morning is."""
    t0 = NOW - timedelta(hours=2)
    out: list[Envelope] = []

    def add(kind: str, device: str, data: dict[str, Any]) -> None:
        seq = len(out) + 1
        out.append(Envelope(seq=seq, id=str(uuid.uuid4()), ts=t0 + timedelta(seconds=seq),
                            device=device, kind=kind, data={"v": 1, **data},
                            priority=priority_for(kind)))

    forced = [d for _ in range(FORCED_PER_DOOR) for d in range(DOORS)]
    for i in range(SWIPES):
        add("access.granted", "doors-1", {"door": f"door-{i % DOORS}", "credential": str(1000 + i),
                                          "holder": f"resident-{i % 500 + 1}", "method": "card"})
        if i % 60 == 0 and i // 60 < DETECTORS:
            zone = 10 + i // 60
            add("fire.alarm", "uitd-1", {
                "uitd": "uitd-1", "serial": i, "scope": "component", "system_type": 1,
                "system_address": 1, "component_type": 42, "zone": zone, "position": 2,
                "component_address": zone * 65536 + 2, "status": 2, "states": ["fire"],
                "test_mode": False, "description": f"{zone}区烟感",
                "location": {"building": "1栋", "floor": "3层", "area": f"{zone}区走廊"}})
        if i % 50 == 25 and forced:
            door = forced.pop(0)
            add("door.forced", f"doors-{door}", {"door": f"door-{door}"})
    assert not forced
    return out


class Edge:
    """The site's uplink: publishes every batch at once (QoS 1), follows the acks, resends
    what stays unacked, as the edge's outbox does."""

    def __init__(self, port: int, events: list[Envelope]) -> None:
        self.port = port
        self.events = events
        self.acked = 0

    def batches(self, after: int) -> list[bytes]:
        todo = [e for e in self.events if e.seq > after]
        return [encode_batch(Batch(epoch=EPOCH, site=SITE, events=todo[i:i + BATCH_EVENTS]))
                for i in range(0, len(todo), BATCH_EVENTS)]

    async def deliver(self, within_s: float = 120.0) -> None:
        last = self.events[-1].seq
        async with aiomqtt.Client("127.0.0.1", self.port, username=SITE, password=SECRET,
                                  identifier="twin-edge", clean_session=True,
                                  protocol=aiomqtt.ProtocolVersion.V311) as client:
            await client.subscribe(topics.down_ack(SITE), qos=1)
            deadline = time.monotonic() + within_s
            while self.acked < last:
                for payload in self.batches(self.acked):
                    await client.publish(topics.up_events(SITE), payload, qos=1)
                before = self.acked
                try:
                    async with asyncio.timeout(10):  # the outbox's ack timeout
                        async for msg in client.messages:
                            ack = decode_ack(bytes(msg.payload))  # type: ignore[arg-type]
                            if ack.epoch == EPOCH:
                                self.acked = max(self.acked, ack.upto)
                            if self.acked >= last:
                                break
                except TimeoutError:
                    pass
                assert time.monotonic() < deadline, f"acked {self.acked} of {last}"
                assert self.acked >= before


def kill_if_alive(part: Part) -> None:
    if part.alive() and part.proc is not None:
        part.proc.kill()


async def fetch(conn: asyncpg.Connection, sql: str, *args: Any) -> list[asyncpg.Record]:
    return list(await conn.fetch(sql, *args))


async def test_two_consoles_do_each_thing_once_and_finish_each_others_work(
        tmp_path: Path, pg_url: str, broker: services.Mosquitto) -> None:
    await seed(pg_url)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    ports = [services.free_port(), services.free_port()]
    consoles = []
    for index, port in enumerate(ports):
        env = base_env(COURTYARD_DATABASE_URL=pg_url, COURTYARD_MQTT_URL=broker.url,
                       COURTYARD_MQTT_USERNAME=CLOUD_USER, COURTYARD_MQTT_PASSWORD=CLOUD_PASSWORD,
                       COURTYARD_SITE_CREDENTIALS=f"{SITE}:{SECRET}",
                       COURTYARD_INGEST_SHARED="1", COURTYARD_ALARM_POLICY=str(policy),
                       COURTYARD_HTTP_PORT=str(port), COURTYARD_INSTANCE=f"c{index}",
                       COURTYARD_DATA_DIR=str(tmp_path / f"cloud-{index}"))
        # Two consoles on one host: each its own ingest session on the shared group.
        consoles.append(Part(f"cloud-{'ab'[index]}", ["cloud", "serve"], env, tmp_path))
    parts = tuple(consoles)
    engine = make_engine(pg_url)
    db = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        stack.push_async_callback(db.close)
        headers = await token_headers(make_sessions(engine), "admin", [SITE])
        http = await stack.enter_async_context(aiohttp.ClientSession(headers=headers))
        for part in consoles:
            part.start()
            stack.callback(kill_if_alive, part)

        async def health(port: int) -> dict[str, Any] | None:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    body: dict[str, Any] = await r.json()
                    return body if r.status == 200 else None
            except (aiohttp.ClientError, ValueError):
                return None

        async def both_up() -> bool:
            answers = [await health(p) for p in ports]
            return all(a and a.get("ingest", {}).get("connected") for a in answers)

        await until(both_up, "both consoles up with ingest connected", 90, parts, every=0.3)
        pids = {p.proc.pid: i for i, p in enumerate(consoles)}  # type: ignore[union-attr]

        # 1. The day's events through two ingest workers.
        events = day_events()
        started = time.monotonic()
        await Edge(broker.port, events).deliver()
        print(f"\n{len(events)} events in {len(events) // BATCH_EVENTS} batches acked in "
              f"{time.monotonic() - started:.1f} s")
        site_id = await db.fetchval("SELECT id FROM sites WHERE slug = $1", SITE)
        seqs = [r["seq"] for r in await fetch(
            db, "SELECT seq FROM events WHERE site_id = $1 ORDER BY id", site_id)]
        assert seqs == list(range(1, len(events) + 1)), "stored once each, in seq order"
        messages = []
        for port in ports:
            counters = ((await health(port)) or {}).get("ingest", {}).get("counters", {})
            messages.append(counters.get("ingest_worker_messages", 0))
        assert all(m > 0 for m in messages), f"both workers ingest: {messages}"
        alarms = await fetch(db, "SELECT kind, count(*) AS n FROM alarms WHERE site_id = $1 "
                                 "GROUP BY kind ORDER BY kind", site_id)
        assert {r["kind"]: r["n"] for r in alarms} == {"door.forced": DOORS,
                                                        "fire.alarm": DETECTORS}
        orders = await fetch(db, "SELECT fold_key FROM work_orders WHERE site_id = $1", site_id)
        assert len(orders) == DOORS and len({r["fold_key"] for r in orders}) == DOORS

        # 2. Escalation: each alarm climbs each level once, whoever ticks.
        async def all_escalated() -> bool:
            low = await db.fetchval("SELECT count(*) FROM alarms WHERE site_id = $1 "
                                    "AND escalation_level < 2", site_id)
            return int(low) == 0

        await until(all_escalated, "every alarm escalated to the top of the chain", 60,
                    parts, every=0.5)
        steps = await fetch(db, "SELECT alarm_id, level, count(*) AS n FROM alarm_actions "
                                "WHERE action = 'escalated' GROUP BY alarm_id, level")
        assert len(steps) == 2 * (DOORS + DETECTORS) and all(r["n"] == 1 for r in steps)

        # 3. A bill run; the console holding it dies after its first batch.
        async with http.post(f"http://127.0.0.1:{ports[0]}/api/bill-runs",
                             json={"site": SITE, "cycle": "monthly", "period": "2026-10"}) as r:
            assert r.status == 202, await r.text()
            run_id = (await r.json())["id"]
        holder: dict[str, int] = {}

        async def first_batch_done() -> bool:
            row = await db.fetchrow(
                "SELECT j.lease_owner, r.units_done, r.state FROM jobs j, bill_runs r "
                "WHERE j.kind = 'bill_run' AND r.id = $1 AND j.state = 'running'", run_id)
            if row is None or not row["lease_owner"] or row["units_done"] < 1:
                return False
            assert row["units_done"] < UNITS, "the run finished before it could be stopped"
            holder["pid"] = int(row["lease_owner"].split(":")[1])
            return True

        await until(first_batch_done, "the bill run's first batch", 120, parts, every=0.05)
        victim = pids[holder["pid"]]
        consoles[victim].kill9()
        print(f"killed console {'ab'[victim]} with the run at its first batches")

        async def run_done() -> bool:
            state = await db.fetchval("SELECT state FROM bill_runs WHERE id = $1", run_id)
            return state == "done"

        await until(run_done, "the other console finishing the run", 180,
                    (consoles[1 - victim],), every=0.5)
        counts = await db.fetchrow("SELECT count(*) AS bills, count(DISTINCT unit_id) AS units "
                                   "FROM bills WHERE run_id = $1", run_id)
        assert (counts["bills"], counts["units"]) == (UNITS, UNITS)
        job = await db.fetchrow("SELECT state, attempts, lease_owner FROM jobs "
                                "WHERE kind = 'bill_run'")
        assert job["state"] == "done" and job["attempts"] == 2, dict(job)

        # 4. The killed console is back; the reminders were missed for three days.
        consoles[victim].start()
        await until(both_up, "the restarted console", 90, parts, every=0.3)
        async with http.post(f"http://127.0.0.1:{ports[victim]}/api/schedules",
                             json={"site": SITE, "kind": "reminders",
                                   "spec": {"time": "09:00"}}) as r:
            assert r.status in (200, 201), await r.text()
            schedule_id = (await r.json())["id"]
        await db.execute("UPDATE schedules SET next_due = now() - interval '3 days' "
                         "WHERE id = $1", schedule_id)

        async def reminders_done() -> bool:
            rows = await fetch(db, "SELECT state FROM jobs WHERE kind = 'reminders'")
            return bool(rows) and all(r["state"] == "done" for r in rows)

        await until(reminders_done, "the missed reminders run", 120, parts, every=0.5)
        jobs = await fetch(db, "SELECT key FROM jobs WHERE kind = 'reminders'")
        assert len(jobs) == 1, jobs
        notices = await fetch(db, "SELECT template, count(*) AS n, count(DISTINCT bill_id) AS b "
                                  "FROM notifications WHERE site_id = $1 GROUP BY template",
                              site_id)
        assert [(r["template"], r["n"], r["b"]) for r in notices] == [
            ("bill_overdue", UNITS, UNITS)]
