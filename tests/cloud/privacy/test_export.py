"""A resident's export holds every record about them and nothing about anyone else: the
neighbour who moved into the same flat after them, and the family next door, are in the same
tables, the same events, the same bill run and the same list views."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud.privacy.scene import ALICE, BOB, CAROL, SOUTH, Scene, build
from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites


@pytest.fixture
async def scene(db_url: str, tmp_path: Any) -> AsyncIterator[Scene]:
    async with two_sites(db_url, data_dir=str(tmp_path / "data")) as world:
        yield await build(world)


async def export(world: TwoSites, caller: Any, resident_id: int) -> tuple[dict[str, Any], str]:
    async with caller.http.get(f"/api/people/{resident_id}/export",
                               headers=caller.headers) as resp:
        assert resp.status == 200, await resp.text()
        disposition = resp.headers["Content-Disposition"]
        return json.loads(await resp.read()), disposition


def _ids(doc: dict[str, Any], section: str, key: str = "id") -> list[int]:
    return sorted(item[key] for item in doc[section])


async def test_the_export_holds_everything_about_alice_and_nothing_about_others(
        scene: Scene) -> None:
    world = scene.world
    cs = await world.staff("cs-export", "customer_service", [SITE_A], name="客服小李")
    doc, disposition = await export(world, cs, scene.ids["alice"])
    assert disposition == f'attachment; filename="people-{scene.ids["alice"]}-2026-11-23.json"'

    # Both rows of the one person (same ID number), each with its flat and period.
    assert sorted(r["id"] for r in doc["residents"]) == sorted(
        [scene.ids["alice"], scene.ids["alice2"]])
    by_id = {r["id"]: r for r in doc["residents"]}
    first = by_id[scene.ids["alice"]]
    assert (first["name"], first["phone"], first["id_number"]) == (
        ALICE["name"], ALICE["phone"], ALICE["id_number"])
    assert first["unit"]["code"] == "1-1-101" and first["move_out"] == "2026-06-30"
    assert [v["plate"] for v in doc["vehicles"]] == [ALICE["plate"]]
    assert [c["number"] for c in doc["cards"]] == [ALICE["card"]]
    # Her plate reads and their images' events (refs, never bytes), her door event.
    assert sorted(r["event_id"] for r in doc["plate_reads"] + doc["access_events"]) == sorted(
        scene.events["alice"])
    refs = sorted(ref for r in doc["plate_reads"] for ref in r["images"])
    assert refs == sorted(scene.images["alice"]) and len(refs) == 4
    assert all(r["lane"] == "cam-in" for r in doc["plate_reads"])
    assert [b["id"] for b in doc["bills"]] == [scene.bills["alice"]]
    assert [p["id"] for p in doc["payments"]] == [scene.payments["alice"]]
    assert [o["id"] for o in doc["work_orders"]] == [scene.orders["alice"]]
    # Views of her record: the single view and the list view of the flat (her id only).
    views = [a for a in doc["audit"] if a["action"] == "view"]
    assert len(views) == 2 and all(a["detail"]["ids"] == [scene.ids["alice"]] for a in views)
    assert {a["by"] for a in views} == {"客服小周"}
    assert any(a["action"] == "create" for a in doc["audit"])

    text = json.dumps(doc, ensure_ascii=False)
    for other in (BOB, CAROL):
        for key in ("name", "phone", "id_number", "email", "plate"):
            assert str(other[key]) not in text, (key, other[key])
    assert SOUTH["name"] not in text
    for who in ("bob", "carol", "nobody"):
        mine = {r["event_id"] for r in doc["plate_reads"] + doc["access_events"]}
        assert not mine & set(scene.events[who])
        assert not set(scene.images.get(who, [])) & set(refs)
    for who in ("bob", "carol"):
        assert scene.bills[who] not in _ids(doc, "bills")
        assert scene.payments[who] not in _ids(doc, "payments")
        assert scene.orders[who] not in _ids(doc, "work_orders")

    # The export is recorded and audited, under the staff member who asked.
    listed = await cs.call("GET", f"/api/people/{scene.ids['alice']}/requests")
    assert [(r["kind"], r["requested_by"]) for r in listed["requests"]] == [
        ("export", "客服小李")]
    assert listed["requests"][0]["detail"]["plate_reads"] == 4
    exports = [a for a in await world.audit("resident") if a.action == "export"]
    assert [(a.entity_id, a.actor_name) for a in exports] == [
        (str(scene.ids["alice"]), "客服小李")]


async def test_bobs_export_has_his_time_in_the_flat_only(scene: Scene) -> None:
    doc, _ = await export(scene.world, scene.world.admin, scene.ids["bob"])
    assert [r["id"] for r in doc["residents"]] == [scene.ids["bob"]]
    assert sorted(r["event_id"] for r in doc["plate_reads"] + doc["access_events"]) == sorted(
        scene.events["bob"])
    assert [b["id"] for b in doc["bills"]] == [scene.bills["bob"]]
    assert [p["id"] for p in doc["payments"]] == [scene.payments["bob"]]
    text = json.dumps(doc, ensure_ascii=False)
    for key in ("name", "phone", "id_number", "plate"):
        assert str(ALICE[key]) not in text and str(CAROL[key]) not in text


async def test_who_may_export_and_erase(scene: Scene) -> None:
    world = scene.world
    alice = scene.ids["alice"]
    guard = await world.staff("guard-north", "guard", [SITE_A])
    installer = await world.staff("installer-north", "installer", [SITE_A])
    cs = await world.staff("cs-north-2", "customer_service", [SITE_A])
    for caller in (guard, installer):
        await caller.call("GET", f"/api/people/{alice}/export", 403)
        await caller.call("POST", f"/api/people/{alice}/erasure", 403, {"reason": "x"})
        await caller.call("GET", f"/api/people/{alice}/requests", 403)
    # Customer service exports but may not erase (irreversible: administrators only).
    await cs.call("POST", f"/api/people/{alice}/erasure", 403, {"reason": "x"})
    # Site B's administrator: a resident of site A is not there for them.
    south_admin = await world.token("admin", [SITE_B])
    await south_admin.call("GET", f"/api/people/{alice}/export", 404)
    await south_admin.call("POST", f"/api/people/{alice}/erasure", 404, {"reason": "x"})
    await south_admin.call("POST", f"/api/people/{alice}/consents", 404,
                           {"purpose": "face_access"})
    await south_admin.call("GET", f"/api/people/{scene.ids['south']}/export", 200)
    # Nothing was erased or recorded by the refused attempts.
    listed = await world.admin.call("GET", f"/api/people/{alice}/requests")
    assert listed["requests"] == []
    owner = await world.admin.call("GET", f"/api/owners/{alice}")
    assert owner["name"] == ALICE["name"]
