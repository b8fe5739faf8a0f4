"""A scripted year of one flat and its neighbour at site ``north``, for the data-subject tests.

Flat 1-1-101: 李爱丽 (Alice) lived there from 2025-01-01 to 2026-06-30 with car 沪A11111 and card
1001; 王博 (Bob) moved in on 2026-07-01 with car 沪B22222 and card 1002. Flat 1-1-102: 陈可
(Carol), all along, car 沪C33333. Alice then rents 1-1-201 (same ID number: the same person).
Each of them has plate reads with images (through the real ingest path and blob store), door
events, a bill, a payment and a work order in their own time; staff viewed Alice's and Bob's
records through the API. The site ``south`` has its own resident, 赵南 (for scope attacks).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cloud.access.tables import AccessCard
from cloud.app import REGISTRY
from cloud.billing.tables import Bill, BillRun
from cloud.ingest import Ingestor
from cloud.payments.tables import Payment
from cloud.web.keys import BLOBS
from cloud.workorders.service import Source, open_or_fold
from contract import Batch, Envelope, encode_batch, priority_for, topics
from tests.support.epochs import TEST_EPOCH
from tests.support.two_sites import SITE_A, SITE_B, TwoSites

ALICE: dict[str, Any] = {
    "name": "李爱丽", "phone": "13900000001", "id_number": "310101199001011111",
    "email": "alice@example.com", "plate": "沪A11111", "card": 1001}
BOB: dict[str, Any] = {
    "name": "王博", "phone": "13900000002", "id_number": "310101199202022222",
    "email": "bob@example.com", "plate": "沪B22222", "card": 1002}
CAROL: dict[str, Any] = {
    "name": "陈可", "phone": "13900000003", "id_number": "310101199303033333",
    "email": "carol@example.com", "plate": "沪C33333", "card": 1003}
SOUTH: dict[str, Any] = {"name": "赵南", "phone": "13900000009", "plate": "沪D44444"}


def at(y: int, m: int, d: int, h: int = 2) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=UTC)


def jpeg(tag: str) -> bytes:
    return b"\xff\xd8\xff\xe0" + tag.encode() + b"\x00" * 64 + b"\xff\xd9"


@dataclass
class Scene:
    world: TwoSites
    ids: dict[str, int] = field(default_factory=dict)
    #: per person: event ids, bill ids, payment ids, work order ids, image refs
    events: dict[str, list[int]] = field(default_factory=dict)
    bills: dict[str, int] = field(default_factory=dict)
    payments: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    images: dict[str, list[str]] = field(default_factory=dict)
    site_id: int = 0
    seq: int = 0


async def _post(world: TwoSites, path: str, body: dict[str, Any]) -> Any:
    return await world.admin.call("POST", path, 201, body)


async def build(world: TwoSites) -> Scene:
    scene = Scene(world)
    a = world.admin
    for slug in (SITE_A, SITE_B):
        await _post(world, "/api/buildings", {"site": slug, "code": "1", "name": "1号楼"})
        for code in ("1-1-101", "1-1-102", "1-1-201"):
            await _post(world, "/api/units", {"site": slug, "code": code, "building": "1",
                                              "area": "88.00", "unit_type": "residential",
                                              "status": "occupied"})
    units = {u["code"]: u["id"] for u in (await a.call(
        "GET", f"/api/units?site={SITE_A}"))["units"]}
    people = (("alice", ALICE, "1-1-101", "2025-01-01", "2026-06-30"),
              ("bob", BOB, "1-1-101", "2026-07-01", None),
              ("carol", CAROL, "1-1-102", "2025-01-01", None),
              ("alice2", ALICE, "1-1-201", "2026-07-01", None))
    for key, p, unit, move_in, move_out in people:
        body = {"site": SITE_A, "unit": unit, "name": p["name"], "phone": p["phone"],
                "id_number": p["id_number"], "email": p["email"], "move_in": move_in}
        if move_out:
            body["move_out"] = move_out
        kind = "tenants" if key == "alice2" else "owners"
        if kind == "tenants":
            body |= {"lease_start": move_in, "lease_end": "2027-06-30"}
        scene.ids[key] = (await _post(world, f"/api/{kind}", body))["id"]
    scene.ids["south"] = (await _post(world, "/api/owners", {
        "site": SITE_B, "unit": "1-1-101", "name": SOUTH["name"], "phone": SOUTH["phone"],
        "move_in": "2025-01-01"}))["id"]
    for p, unit in ((ALICE, "1-1-101"), (BOB, "1-1-101"), (CAROL, "1-1-102")):
        await a.call("POST", f"/api/sites/{SITE_A}/parking/vehicles", 201,
                     {"plate": p["plate"], "holder": p["name"], "unit": unit,
                      "role": "owner"})
    await a.call("POST", f"/api/sites/{SITE_B}/parking/vehicles", 201,
                 {"plate": SOUTH["plate"], "holder": SOUTH["name"], "unit": "1-1-101"})
    async with world.sessions() as s, s.begin():
        from sqlalchemy import select

        from cloud.db.models import Site

        scene.site_id = (await s.scalars(select(Site.id).where(Site.slug == SITE_A))).one()
        for key, p, made, revoked in (("alice", ALICE, at(2025, 1, 1), at(2026, 6, 30, 16)),
                                      ("bob", BOB, at(2026, 7, 1), None),
                                      ("carol", CAROL, at(2025, 1, 1), None)):
            s.add(AccessCard(site_id=scene.site_id, number=p["card"],
                             holder=f"resident-{scene.ids[key]}", resident_id=scene.ids[key],
                             doors=["gate-east"], state="revoked" if revoked else "active",
                             revoked_at=revoked, revoked_reason="moved out" if revoked else None,
                             created_at=made))
    await _events(scene, units)
    await _money(scene, units)
    await _orders(scene)
    # Staff look at Alice's and Bob's records (one view row each, and one list view of both).
    cs = await world.staff("cs-north", "customer_service", [SITE_A], name="客服小周")
    await cs.call("GET", f"/api/owners/{scene.ids['alice']}")
    await cs.call("GET", f"/api/owners/{scene.ids['bob']}")
    await cs.call("GET", f"/api/owners?site={SITE_A}&unit=1-1-101")
    return scene


def _envelope(scene: Scene, kind: str, ts: datetime, device: str,
              data: dict[str, Any]) -> Envelope:
    scene.seq += 1
    return Envelope(seq=scene.seq, id=str(uuid.uuid4()), ts=ts, device=device, kind=kind,
                    data={"v": 1, **data}, priority=priority_for(kind))


async def _events(scene: Scene, units: dict[str, int]) -> None:
    world = scene.world
    app = world.server.app
    ingest = Ingestor(world.sessions, world.clock, app[REGISTRY], blobs=app[BLOBS])
    batch: list[Envelope] = []
    plan: list[tuple[str, str, datetime]] = [("alice", ALICE["plate"], at(2026, 3, 1)),
                                            ("alice", ALICE["plate"], at(2026, 9, 1)),
                                            ("bob", BOB["plate"], at(2026, 8, 1)),
                                            ("carol", CAROL["plate"], at(2026, 3, 1))]
    owners: list[str] = []
    for who, plate, ts in plan:
        read = _envelope(scene, "plate.read", ts, "cam-in", {
            "camera": "cam-in", "plate_raw": plate, "direction": "in",
            "evidence_jpeg_b64": base64.b64encode(jpeg(f"{who}-{ts}-scene")).decode()})
        later = _envelope(scene, "plate.evidence", ts, "cam-in", {
            "read": read.id, "camera": "cam-in",
            "crop_jpeg_b64": base64.b64encode(jpeg(f"{who}-{ts}-crop")).decode()})
        batch += [read, later]
        owners += [who, who]
    doors = [("alice", {"holder": f"resident-{scene.ids['alice']}", "credential": "1001"},
              at(2026, 3, 2)),
             ("bob", {"holder": f"resident-{scene.ids['bob']}", "credential": "1002"},
              at(2026, 8, 2)),
             ("carol", {"holder": f"resident-{scene.ids['carol']}", "credential": "1003"},
              at(2026, 3, 2)),
             # Alice's old card, shown after it was revoked: not hers any more.
             ("nobody", {"credential": "1001"}, at(2026, 9, 5))]
    for who, data, ts in doors:
        kind = "access.denied" if who == "nobody" else "access.granted"
        batch.append(_envelope(scene, kind, ts, "doors-1", {"door": "gate-east", **data}))
        owners.append(who)
    result = await ingest.handle(topics.up_events(SITE_A), encode_batch(
        Batch(epoch=TEST_EPOCH, site=SITE_A, events=batch)))
    assert result.ok, result
    from sqlalchemy import select

    from cloud.db.models import Event

    async with world.sessions() as s:
        rows = (await s.execute(select(Event.uuid, Event.id, Event.data).where(
            Event.site_id == scene.site_id))).all()
    by_uuid = {u: (i, d) for u, i, d in rows}
    for who, env in zip(owners, batch, strict=True):
        event_id, data = by_uuid[env.id]
        scene.events.setdefault(who, []).append(int(event_id))
        scene.images.setdefault(who, []).extend(
            v for k, v in data.items() if k.endswith("_blob") and isinstance(v, str))


async def _money(scene: Scene, units: dict[str, int]) -> None:
    now = scene.world.clock.now()
    async with scene.world.sessions() as s, s.begin():
        runs = {}
        for period, first, end in (("2026-03", date(2026, 3, 1), date(2026, 4, 1)),
                                   ("2026-08", date(2026, 8, 1), date(2026, 9, 1))):
            run = BillRun(site_id=scene.site_id, cycle="monthly", period=period,
                          period_start=first, period_end=end, state="done",
                          started_by="test", started_at=now)
            s.add(run)
            await s.flush()
            runs[period] = run.id
        for who, unit, period, total, paid_at in (
                ("alice", "1-1-101", "2026-03", "100.00", at(2026, 3, 10)),
                ("bob", "1-1-101", "2026-08", "120.00", at(2026, 8, 10)),
                ("carol", "1-1-102", "2026-03", "130.00", at(2026, 3, 11))):
            bill = Bill(site_id=scene.site_id, run_id=runs[period], unit_id=units[unit],
                        number=f"N-{period}-{unit}", cycle="monthly", period=period,
                        state="paid", total=Decimal(total), paid=Decimal(total),
                        due_date=date(2026, 12, 31), issued_at=now, created_at=now,
                        updated_at=now)
            payer = {"alice": ALICE, "bob": BOB, "carol": CAROL}[who]["name"]
            pay = Payment(site_id=scene.site_id, unit_id=units[unit], kind="payment",
                          method="cash", amount=Decimal(total), to_balance=Decimal(0),
                          payer=payer, idempotency_key=f"scene-{who}", taken_by="user:1",
                          taken_by_name="收银员", received_at=paid_at)
            s.add_all([bill, pay])
            await s.flush()
            scene.bills[who], scene.payments[who] = bill.id, pay.id


async def _orders(scene: Scene) -> None:
    async with scene.world.sessions() as s, s.begin():
        for who, p, unit, ts in (("alice", ALICE, "1-1-101", at(2026, 4, 1)),
                                 ("bob", BOB, "1-1-101", at(2026, 8, 5)),
                                 ("carol", CAROL, "1-1-102", at(2026, 4, 1))):
            order, _ = await open_or_fold(
                s, site_id=scene.site_id, fold_key=f"req:{who}", category="plumbing",
                priority="normal", sla_response_s=3600, sla_resolve_s=86400, skill=None,
                title=(f"{p['name']}家漏水", "leak"), cause_ts=ts,
                source=Source(kind="request", request_id=f"r-{who}",
                              requested_by=str(p["name"])), now=ts)
            order.unit = unit
            scene.orders[who] = order.id
