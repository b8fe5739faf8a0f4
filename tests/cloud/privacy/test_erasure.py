"""An erasure leaves nothing personal of the person behind in what the API answers, keeps
every amount of money, and touches no one else: the next owner of the flat and the neighbour
keep their vehicles, reads, door events and images."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.billing.tables import Bill
from cloud.blobs.tables import Blob
from cloud.db.models import Event
from cloud.payments.tables import Payment
from cloud.web.keys import BLOBS
from tests.cloud.privacy.scene import ALICE, BOB, CAROL, Scene, build
from tests.cloud.privacy.test_export import export
from tests.cloud.privacy.test_faces import FACE
from tests.support.two_sites import SITE_A, two_sites

PERSONAL = ("name", "phone", "id_number", "email", "plate")


@pytest.fixture
async def scene(db_url: str, tmp_path: Any) -> AsyncIterator[Scene]:
    async with two_sites(db_url, data_dir=str(tmp_path / "data")) as world:
        yield await build(world)


async def _money(scene: Scene) -> tuple[Decimal, Decimal, Decimal]:
    async with scene.world.sessions() as s:
        bills = (await s.execute(select(func.sum(Bill.total), func.sum(Bill.paid)))).one()
        paid = (await s.execute(select(func.sum(Payment.amount)))).scalar_one()
    return Decimal(bills[0]), Decimal(bills[1]), Decimal(paid)


async def _event_ids(scene: Scene) -> set[int]:
    async with scene.world.sessions() as s:
        return set((await s.scalars(select(Event.id))).all())


async def _texts(scene: Scene) -> str:
    """What staff read about the site through the API, as one text."""
    a = scene.world.admin
    out = []
    for path in (f"/api/owners?site={SITE_A}", f"/api/tenants?site={SITE_A}",
                 f"/api/owners/{scene.ids['alice']}", f"/api/tenants/{scene.ids['alice2']}",
                 f"/api/owners/{scene.ids['alice']}/history",
                 f"/api/vehicles?site={SITE_A}", f"/api/sites/{SITE_A}/parking/vehicles",
                 f"/api/sites/{SITE_A}/parking/passes", f"/api/sites/{SITE_A}/parking/sessions",
                 f"/api/sites/{SITE_A}/parking/lanes", f"/api/sites/{SITE_A}/access/cards",
                 f"/api/sites/{SITE_A}/access/log", f"/api/payments?site={SITE_A}",
                 f"/api/search?site={SITE_A}&q=1-1-101",
                 f"/api/people/{scene.ids['alice']}/requests", f"/api/audit?site={SITE_A}",
                 "/api/audit?limit=500"):
        out.append(json.dumps(await a.call("GET", path), ensure_ascii=False))
    doc, _ = await export(scene.world, a, scene.ids["alice"])
    out.append(json.dumps(doc, ensure_ascii=False))
    return "\n".join(out)


async def test_after_erasure_the_api_shows_nothing_personal_and_money_is_unchanged(
        scene: Scene) -> None:
    world = scene.world
    before = await _texts(scene)
    for key in PERSONAL:
        assert str(ALICE[key]) in before, key  # the probe can see her before
    money = await _money(scene)
    events = await _event_ids(scene)
    store = world.server.app[BLOBS]
    assert all([await store.exists(ref) for ref in scene.images["alice"]])

    rid = scene.ids["alice"]
    await world.admin.call("POST", f"/api/people/{rid}/consents", 201, {"purpose": "face_access"})
    async with world.admin.http.post(f"/api/people/{rid}/face", data=FACE, headers={
            **world.admin.headers, "Content-Type": "image/jpeg"}) as resp:
        assert resp.status == 201
        face = (await resp.json())["image"]

    done = await world.admin.call("POST", f"/api/people/{scene.ids['alice']}/erasure", 201,
                                  {"reason": "本人申请删除 / asked by the resident"})
    counts = done["detail"]
    assert counts["residents"] == 2 and counts["vehicles"] == 1 and counts["cards"] == 1
    assert counts["plate_reads"] == 4 and counts["access_events"] == 1
    assert counts["blobs"] == 5 and counts["work_orders"] == 1 and counts["payers"] == 1
    assert counts["faces"] == 1 and not await store.exists(face)
    assert (await world.admin.call("GET", f"/api/people/{rid}/faces"))["faces"] == []

    after = await _texts(scene)
    for key in PERSONAL:
        assert str(ALICE[key]) not in after, key
    assert f"住户#{scene.ids['alice']}" in after
    # Money: every bill and payment is still there with its amount.
    assert await _money(scene) == money
    # Exactly her events went; Bob's and Carol's (and the stranger's swipe) stay.
    assert events - await _event_ids(scene) == set(scene.events["alice"])
    for ref in scene.images["alice"]:
        assert not await store.exists(ref)
    async with world.sessions() as s:
        indexed = set((await s.scalars(select(Blob.ref))).all())
    assert not indexed & set(scene.images["alice"])
    for who in ("bob", "carol"):
        assert set(scene.images[who]) <= indexed
        assert all([await store.exists(ref) for ref in scene.images[who]])
    for other in (BOB, CAROL):
        for key in PERSONAL:
            assert str(other[key]) in after, (key, other[key])

    # The request is recorded (counts only) and audited; the export now holds a pseudonym.
    listed = await world.admin.call("GET", f"/api/people/{scene.ids['alice']}/requests")
    assert [r["kind"] for r in listed["requests"]] == ["export", "erasure", "export"]
    assert listed["requests"][1]["reason"] == "本人申请删除 / asked by the resident"
    erased = [a for a in await world.audit("resident") if a.action == "erase"]
    assert len(erased) == 1 and erased[0].detail is not None
    assert erased[0].detail["counts"]["vehicles"] == 1


async def test_erasure_needs_a_reason(scene: Scene) -> None:
    err = await scene.world.admin.call("POST", f"/api/people/{scene.ids['alice']}/erasure",
                                       400, {})
    assert err["error"]["field"] == "reason"
