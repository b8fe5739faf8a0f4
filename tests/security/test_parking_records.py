"""Parking records and the dataset pull.

- An edit of the parking lists through ``/api/sites/{site}/parking/*`` leaves the same audit
  trail as the same edit through ``/api/vehicles``: nobody can change who may drive in
  without it showing who did it, and what the row was before.
- The edge's dataset pull (HTTP Basic with the site secret, which is also the site's MQTT
  password) cannot be used to guess that secret at speed, nor to hammer the console.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import encode_basic_auth

from cloud.auth.site_pull import FAIL_DELAY, FAILS_PER_ADDRESS, PULL_BURST
from tests.support.two_sites import CREDENTIALS, SITE_A, SITE_B, TwoSites, two_sites

P = f"/api/sites/{SITE_A}/parking"


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[TwoSites]:
    async with two_sites(db_url) as w:
        yield w


async def test_every_parking_list_change_is_audited_like_the_vehicles_register(
        world: TwoSites) -> None:
    guard = await world.staff("guard-a", "guard", [SITE_A], name="门岗老刘")
    made = await guard.call("POST", f"{P}/vehicles", 201,
                            {"plate": "粤B12345", "holder": "张三", "unit": "1-1-101"})
    await guard.call("PUT", f"{P}/vehicles/{made['id']}", 200,
                     {"plate": "粤B12345", "holder": "张三丰", "unit": "1-1-101"})
    await guard.call("PUT", f"{P}/vehicles/{made['id']}", 200,  # unchanged: no entry
                     {"plate": "粤B12345", "holder": "张三丰", "unit": "1-1-101"})
    await guard.call("DELETE", f"{P}/vehicles/{made['id']}", 200)
    barred = await guard.call("POST", f"{P}/blacklist", 201,
                              {"plate": "粤B66666", "reason": "欠费逃逸"})
    await guard.call("DELETE", f"{P}/blacklist/{barred['id']}", 200)
    await guard.call("POST", f"{P}/passes", 201, {
        "plate": "粤B77777", "valid_from": "2026-11-01", "valid_to": "2026-11-30"})

    steps = await world.audit("vehicle")
    assert [e.action for e in steps] == ["create", "update", "delete"]
    assert all(e.actor.startswith("user:") and e.actor_name == "门岗老刘" for e in steps)
    create, update, delete = steps
    assert create.after is not None and create.after["holder"] == "张三"
    assert (update.before, update.after) == ({"holder": "张三"}, {"holder": "张三丰"})
    assert delete.before is not None and delete.before["plate"] == "粤B12345"
    assert {e.entity_id for e in steps} == {str(made["id"])}
    assert [e.action for e in await world.audit("blacklist_entry")] == ["create", "delete"]
    assert [e.action for e in await world.audit("monthly_pass")] == ["create"]

    # The register's path writes the same entry, field for field.
    await world.admin.call("POST", "/api/vehicles", 201, {
        "site": SITE_A, "plate": "粤B88888", "holder": "李四"})
    register = (await world.audit("vehicle"))[-1]
    assert register.action == "create" and register.after is not None
    assert set(register.after) == set(create.after)
    assert register.site_id == create.site_id


async def test_tariff_changes_are_audited(world: TwoSites) -> None:
    from tests.edge.parking.test_lanes import TARIFF

    installer = await world.token("installer", [SITE_A])
    await installer.call("PUT", f"{P}/tariffs/lot-main", 201, TARIFF)
    dearer = {**TARIFF, "free_minutes": 15}
    await installer.call("PUT", f"{P}/tariffs/lot-main", 200, dearer)
    await installer.call("DELETE", f"{P}/tariffs/lot-main", 200)
    entries = await world.audit("parking_tariff")
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert {e.entity_id for e in entries} == {"lot-main"}
    assert all(e.actor.startswith("token:") for e in entries)
    update = entries[1]
    assert update.before is not None and update.after is not None
    assert update.before["doc"]["free_minutes"] == 30
    assert update.after["doc"]["free_minutes"] == 15


def _basic(site: str, secret: str) -> dict[str, str]:
    return {"Authorization": encode_basic_auth(site, secret)}


async def test_the_dataset_pull_is_rate_limited_with_retry_after(world: TwoSites) -> None:
    good = _basic(SITE_A, CREDENTIALS[SITE_A])
    async with aiohttp.ClientSession(base_url=world.url()) as http:
        for _ in range(PULL_BURST):
            async with http.get(f"{P}/dataset", headers=good) as resp:
                assert resp.status == 200
        async with http.get(f"{P}/dataset", headers=good) as resp:
            assert resp.status == 429
            assert int(resp.headers["Retry-After"]) >= 1
            assert (await resp.json())["error"]["code"] == "too_many_requests"
        # Another site's edge is not held up by this one.
        async with http.get(f"/api/sites/{SITE_B}/parking/dataset",
                            headers=_basic(SITE_B, CREDENTIALS[SITE_B])) as resp:
            assert resp.status == 200
        world.clock.advance(2.5)
        async with http.get(f"{P}/dataset", headers=good) as resp:
            assert resp.status == 200


async def test_guessing_the_site_secret_is_slowed_then_refused(world: TwoSites) -> None:
    async with aiohttp.ClientSession(base_url=world.url()) as http:
        took = []
        for i in range(FAILS_PER_ADDRESS):
            started = time.perf_counter()
            async with http.get(f"{P}/dataset", headers=_basic(SITE_A, f"guess-{i}")) as resp:
                assert resp.status == 401
            took.append(time.perf_counter() - started)
            world.clock.advance(1)  # slower than the pull limit: only the guesses count
        assert min(took) >= FAIL_DELAY * 0.9  # each wrong guess costs the guesser time
        # Now even the right secret, from this address, waits: for this site and others, and
        # for every dataset (the access pull shares the counters: no ten more guesses there).
        for site in (SITE_A, SITE_B):
            for dataset in ("parking", "access"):
                async with http.get(f"/api/sites/{site}/{dataset}/dataset",
                                    headers=_basic(site, CREDENTIALS[site])) as resp:
                    assert resp.status == 429, (site, dataset)
                    assert int(resp.headers["Retry-After"]) > 60
        world.clock.advance(5 * 60)
        async with http.get(f"{P}/dataset", headers=_basic(SITE_A, CREDENTIALS[SITE_A])) as resp:
            assert resp.status == 200
