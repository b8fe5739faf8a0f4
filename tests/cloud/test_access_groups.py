"""Time profile listing and access groups through the console API, on real SQLite and
PostgreSQL: a group's create/update with its audit rows and version bumps, refusals naming
the field, a card issued with a group getting the group's doors in the edge's dataset, and an
edited group moving the card's doors at the next version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloud.auth.tables import AuditEntry
from edge.access.credentials import CredentialStore
from tests.cloud.test_access_api import PULL, Console, P, console
from tests.support.auth import token_headers


async def _doc(c: Console) -> Any:
    resp = await c.client.get(f"{P}/dataset", headers=PULL)
    assert resp.status == 200
    return await resp.json()


async def test_profiles_are_listed_by_name(db_url: str) -> None:
    async with console(db_url) as c:
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        tech = await token_headers(c.sessions, "technician", ["demo"])
        empty = await c.call("GET", f"{P}/profiles", cs, 200)
        assert empty == {"site": "demo", "version": 0, "profiles": []}
        night = [{"days": [6, 7], "from": "22:00", "to": "06:00"}]
        day = [{"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "22:00"}]
        await c.call("PUT", f"{P}/profiles/night", cs, 200, {"windows": night})
        await c.call("PUT", f"{P}/profiles/day", cs, 200, {"windows": day})
        listed = await c.call("GET", f"{P}/profiles", tech, 200)  # records.read is enough
        assert listed == {"site": "demo", "version": 2, "profiles": [
            {"name": "day", "windows": day}, {"name": "night", "windows": night}]}
        guard = await token_headers(c.sessions, "guard", ["demo"])
        await c.call("GET", f"{P}/profiles", guard, 403)


async def test_groups_create_update_refusals_and_permissions(db_url: str) -> None:
    async with console(db_url) as c:
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        made = await c.call("PUT", f"{P}/groups/b1", cs, 200,
                            {"doors": ["gate-east", "b1-lobby", "b1-lobby"], "zh": "1 栋"})
        assert made == {"name": "b1", "zh": "1 栋", "doors": ["b1-lobby", "gate-east"],
                        "version": 1}
        changed = await c.call("PUT", f"{P}/groups/b1", cs, 200, {"doors": ["b1-garage"]})
        assert (changed["doors"], changed["zh"], changed["version"]) == (["b1-garage"], None, 2)
        cases: list[tuple[str, Any, str]] = [
            ("b1", {"doors": []}, "doors"), ("b1", {}, "doors"), ("b1", {"doors": "x"}, "doors"),
            ("B1", {"doors": ["a"]}, "name"), ("b1", {"doors": ["a"], "zh": ""}, "zh"),
            ("b1", {"doors": ["a"], "by": "x"}, "by")]
        for name, body, field in cases:
            err = await c.call("PUT", f"{P}/groups/{name}", cs, 400, body)
            assert err["error"]["field"] == field, (name, body, err)
        listed = await c.call("GET", f"{P}/groups", cs, 200)
        assert listed == {"site": "demo", "version": 2, "groups": [
            {"name": "b1", "zh": None, "doors": ["b1-garage"]}]}
        assert c.notices.sent == [("demo", "access", 1), ("demo", "access", 2)]
        for role, read, write in (("technician", 200, 403), ("guard", 403, 403)):
            who = await token_headers(c.sessions, role, ["demo"])
            await c.call("GET", f"{P}/groups", who, read)
            await c.call("PUT", f"{P}/groups/b2", who, write, {"doors": ["a"]})
        async with c.sessions() as session:
            audit = (await session.scalars(select(AuditEntry).where(
                AuditEntry.entity == "access_group").order_by(AuditEntry.id))).all()
        assert [a.action for a in audit] == ["create", "update"]
        assert audit[1].before == {"doors": ["b1-lobby", "gate-east"], "zh": "1 栋"}


async def test_a_card_follows_its_groups_into_the_dataset(db_url: str) -> None:
    async with console(db_url) as c:
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        await c.call("PUT", f"{P}/groups/b1", cs, 200, {"doors": ["b1-lobby", "gate-east"]})
        await c.call("PUT", f"{P}/groups/garage", cs, 200, {"doors": ["garage"]})
        only = await c.call("POST", f"{P}/cards", cs, 201, {
            "number": "100", "staff_name": "张三", "groups": ["b1"]})
        assert (only["doors"], only["groups"], only["version"]) == ([], ["b1"], 3)
        both = await c.call("POST", f"{P}/cards", cs, 201, {
            "number": "200", "staff_name": "李四", "groups": ["garage", "b1"],
            "doors": ["b2-lobby"]})
        assert (both["doors"], both["groups"]) == (["b2-lobby"], ["b1", "garage"])
        err = await c.call("POST", f"{P}/cards", cs, 400, {
            "number": "300", "staff_name": "王五", "groups": ["b1", "nope"]})
        assert err["error"]["field"] == "groups" and "nope" in err["error"]["message"]
        for bad in ("b1", ["B1"], [3]):
            err = await c.call("POST", f"{P}/cards", cs, 400, {
                "number": "300", "staff_name": "王五", "groups": bad})
            assert err["error"]["field"] == "groups"
        err = await c.call("POST", f"{P}/cards", cs, 400, {
            "number": "300", "staff_name": "王五", "groups": []})
        assert err["error"]["field"] == "doors"  # neither doors nor groups

        doc = await _doc(c)
        assert doc["version"] == 4
        assert doc["cards"]["100"]["doors"] == ["b1-lobby", "gate-east"]
        assert doc["cards"]["200"]["doors"] == ["b1-lobby", "b2-lobby", "garage", "gate-east"]
        await c.call("PUT", f"{P}/groups/b1", cs, 200, {"doors": ["b1-side"]})
        doc = await _doc(c)
        assert doc["version"] == 5
        assert doc["cards"]["100"]["doors"] == ["b1-side"]
        assert doc["cards"]["200"]["doors"] == ["b1-side", "b2-lobby", "garage"]
        store = CredentialStore.from_dataset(doc)  # the edge format is unchanged
        assert store.card("100") is not None
        await c.call("PUT", f"{P}/groups/garage", cs, 200, {"doors": ["*"]})
        assert (await _doc(c))["cards"]["200"]["doors"] == ["*"]
