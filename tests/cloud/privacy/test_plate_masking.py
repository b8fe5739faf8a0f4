"""Plates in full only for roles holding ``plates.read``: a guard sees 沪A·***11 in the lane
view and the parking lists (enough to match the car at the barrier), a technician likewise in
the register; parking staff and administrators see the plate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cloud.auth.plates import mask_plate
from cloud.auth.roles import allows
from tests.cloud.privacy.scene import ALICE, BOB, Scene, build
from tests.support.two_sites import SITE_A, two_sites


def test_the_mask_keeps_the_region_and_the_last_two() -> None:
    assert mask_plate("沪A11123") == "沪A·***23"
    assert mask_plate("沪AD12345") == "沪A·***45"  # new-energy plates have eight
    assert mask_plate("沪A·11123") == "沪A·***23"
    assert mask_plate("WJ1") == "***"
    assert mask_plate("") == "" and mask_plate(None) is None
    assert not allows("guard", "plates.read") and allows("customer_service", "plates.read")


@pytest.fixture
async def scene(db_url: str, tmp_path: Any) -> AsyncIterator[Scene]:
    async with two_sites(db_url, data_dir=str(tmp_path / "data")) as world:
        yield await build(world)


async def test_a_guard_sees_masked_plates_and_parking_staff_full_ones(scene: Scene) -> None:
    world = scene.world
    guard = await world.staff("guard-plates", "guard", [SITE_A])
    tech = await world.staff("tech-plates", "technician", [SITE_A])
    cs = await world.staff("cs-plates", "customer_service", [SITE_A])
    paths = [f"/api/sites/{SITE_A}/parking/vehicles", f"/api/sites/{SITE_A}/parking/lanes"]
    for path in paths:
        seen = json.dumps(await guard.call("GET", path), ensure_ascii=False)
        full = json.dumps(await cs.call("GET", path), ensure_ascii=False)
        for plate in (ALICE["plate"], BOB["plate"]):
            assert plate not in seen and mask_plate(plate) in seen, (path, plate)
            assert plate in full, (path, plate)
    vehicles = (await guard.call("GET", f"/api/sites/{SITE_A}/parking/vehicles"))["vehicles"]
    assert {v["plate"] for v in vehicles} == {"沪A·***11", "沪B·***22", "沪C·***33"}
    lane = (await guard.call("GET", f"/api/sites/{SITE_A}/parking/lanes"))["lanes"][0]
    assert all(r["plate_raw"] == r["plate"] and "***" in r["plate"] for r in lane["reads"])
    # The register: a technician (records.read, no plates.read) sees masked plates too.
    seen = json.dumps(await tech.call("GET", f"/api/vehicles?site={SITE_A}"), ensure_ascii=False)
    assert ALICE["plate"] not in seen and "沪A·***11" in seen
    for caller, sees in ((tech, False), (cs, True)):
        async with caller.http.get(f"/api/vehicles/export?site={SITE_A}&format=csv",
                                   headers=caller.headers) as resp:
            assert resp.status == 200
            sheet = (await resp.read()).decode("utf-8-sig")
        assert (ALICE["plate"] in sheet) is sees and ("沪A·***11" in sheet) is not sees
    # The guard still looks a car up by the plate in front of them.
    found = await guard.call("GET", f"/api/sites/{SITE_A}/parking/vehicles?plate={BOB['plate']}")
    assert [v["plate"] for v in found["vehicles"]] == ["沪B·***22"]
