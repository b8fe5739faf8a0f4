"""The label table knows every code the features store, and the menu offers each role only
pages it may open: staff never meet a raw code or a 403 from their own menu."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud.alarms.handlers import LINKAGE_RESULTS
from cloud.alarms.policy import ACTIVE_STATES, FINAL_STATES, SEVERITIES
from cloud.app import create_app
from cloud.auth.guard import PUBLIC, SIGNED_IN, permission_of
from cloud.auth.nav import NAV, nav_for
from cloud.auth.roles import PERMISSIONS, ROLE_HOME, ROLES, allows
from cloud.billing.tables import BILL_STATES, CYCLES, FEE_KINDS
from cloud.commands.states import STATES as COMMAND_STATES
from cloud.db.engine import make_engine, session_factory
from cloud.parking.records import SPACE_KINDS
from cloud.payments.tables import ALL_METHODS, PAYMENT_KINDS
from cloud.records.tables import METER_SCOPES, RESIDENT_ROLES, UNIT_STATUSES, UTILITIES
from cloud.settings import Settings
from cloud.sites.device_family import FAMILIES, KIND_BY_PREFIX
from cloud.web.labels import LABELS, bilingual, label, labels_script
from cloud.workorders.categories import CATEGORIES
from cloud.workorders.states import PRIORITIES, STATES
from contract.commands import CommandKind, DoorMode
from contract.kinds import KINDS

FEATURE_CODES: dict[str, tuple[str, ...]] = {
    "unit_status": UNIT_STATUSES,
    "resident_role": RESIDENT_ROLES,
    "utility": UTILITIES,
    "meter_scope": METER_SCOPES,
    "space_kind": SPACE_KINDS,
    "fee_kind": FEE_KINDS,
    "cycle": CYCLES,
    "bill_state": BILL_STATES,
    "payment_method": ALL_METHODS,
    "payment_kind": PAYMENT_KINDS,
    "workorder_state": tuple(STATES),
    "priority": PRIORITIES,
    "category": tuple(CATEGORIES),
    "skill": tuple({c.skill for c in CATEGORIES.values()}),
    "alarm_state": (*ACTIVE_STATES, *FINAL_STATES),
    "severity": SEVERITIES,
    "linkage_result": LINKAGE_RESULTS,
    "role": tuple(ROLES),
    "permission": PERMISSIONS,
    "command_state": COMMAND_STATES,
    "command_kind": tuple(str(k) for k in CommandKind),
    "event_kind": tuple(sorted(KINDS)),
    "device_kind": (*KIND_BY_PREFIX.values(), "meter"),
    "device_family": FAMILIES,
    "door_mode": tuple(str(m) for m in DoorMode),
}


@pytest.mark.parametrize("table", sorted(FEATURE_CODES))
def test_every_stored_code_has_a_chinese_and_an_english_label(table: str) -> None:
    known = LABELS[table]
    missing = [code for code in FEATURE_CODES[table] if code not in known]
    assert not missing, f"label table {table!r} lacks {missing}"
    for code, (zh, en) in known.items():
        assert zh.strip() and en.strip(), (table, code)
        assert zh != code, (table, code)  # a label, not the code again


def test_labels_read_in_the_asked_language_and_unknown_codes_pass_through() -> None:
    assert label("unit_type", "residential") == "住宅"
    assert label("unit_type", "residential", "en") == "Residential"
    assert bilingual("payment_method", "bank_transfer") == "银行转账 / Bank transfer"
    assert label("unit_type", "houseboat") == "houseboat"
    script = labels_script()
    doc = json.loads(script.split("window.CY_LABELS = ", 1)[1].rstrip().rstrip(";"))
    assert doc["bill_state"]["held"] == ["待复核", "Held for review"]


def test_the_menu_offers_each_role_its_home_and_only_pages_it_may_open(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url),
                     session_factory(make_engine(sqlite_url)))
    pages = {}
    for route in app.router.routes():
        info = route.get_info()
        path = info.get("path") or info.get("formatter")
        if route.method == "GET" and path:
            pages[path] = permission_of(route.handler)
    for item in NAV:
        assert item.path in pages, f"menu item {item.path} has no page"
        needed = pages[item.path]
        for role in item.roles:
            assert role in ROLES
            assert needed in (PUBLIC, SIGNED_IN) or allows(role, needed or "staff.admin"), \
                f"{role} is offered {item.path} but lacks {needed}"
    for role, home in ROLE_HOME.items():
        assert home in [i["path"] for i in nav_for(role)], f"{role}'s home is not in its menu"


async def test_unknown_pages_and_refused_pages_answer_with_a_page_that_says_what_to_do(
        sqlite_url: str) -> None:
    from cloud.db.engine import migrate
    from tests.support.auth import create_staff

    await migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    await create_staff(sessions, "kefu", "page-password", "customer_service")
    html = {"Accept": "text/html"}
    try:
        async with TestClient(TestServer(create_app(Settings(database_url=sqlite_url),
                                                    sessions))) as client:
            resp = await client.post("/api/login", json={"username": "kefu",
                                                         "password": "page-password"})
            assert resp.status == 200
            resp = await client.get("/no/such/page", headers=html)
            assert resp.status == 404
            assert "找不到这个页面" in await resp.text()
            resp = await client.get("/billing/runs", headers=html)  # needs billing.read: held
            resp = await client.get("/guard", headers=html)  # alarms.read: held; act is not
            resp = await client.get("/workorders/board", headers=html)
            assert resp.status == 200
            resp = await client.get("/records/import", headers=html)
            assert resp.status == 403
            text = await resp.text()
            assert "没有权限打开此页" in text and "批量导入" in text and "客服" in text
            assert f'href="{ROLE_HOME["customer_service"]}"' in text
            resp = await client.get("/", headers=html, allow_redirects=False)
            assert resp.status == 302
            assert resp.headers["Location"] == ROLE_HOME["customer_service"]
            resp = await client.get("/api/no/such", headers=html)
            assert resp.status == 404 and resp.content_type == "application/json"
    finally:
        await engine.dispose()
