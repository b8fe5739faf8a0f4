"""The console's route table for the site-scope walk (``test_console_scope.py``): every route
(HEAD mirrors GET and is left out) with the request site-A staff make against site B, or why
the route names no site. A new route needs a line here, or the walk fails naming it."""

from __future__ import annotations

from typing import Any

from contract.patrol import Sticker, sign_sticker
from tests.support.two_sites import CREDENTIALS, SITE_B

#: Every route of the console (HEAD mirrors GET and is left out) → the request site-A staff of
#: the strongest role (an administrator's token limited to site A) make against site B, or
#: why the route names no site. Placeholders are the ids of site-B records (``_seed_b``).
#: A route added without a line here fails ``test_every_site_b_action_is_refused``.
Probe = tuple[str, Any]  # (path with placeholders, JSON body, image bytes or None)
#: The PNG signature and header of a 1×1 image: enough to pass the upload's type checks.
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
       b"\x08\x02\x00\x00\x00\x90wS\xde")
NO_SITE = "names no site and no site's record"
TABLE: dict[tuple[str, str], Probe | str] = {
    # the console's own pages, assets, health and documents
    ("GET", "/"): "the start page: the data it shows comes from the API routes below",
    ("GET", "/healthz"): "public health check",
    ("GET", "/api/openapi.json"): "public API description",
    ("GET", "/login"): "public login page",
    ("GET", "/login/static/{name}"): "public page asset",
    ("GET", "/ui/{name}"): "public shell asset (no data)",
    ("GET", "/ui/labels.js"): "public label table (no data)",
    ("GET", "/overview/static/{name}"): "public page asset",
    ("GET", "/devices"): "page shell (its data: /api/sites/{site}/devices…, …/commands)",
    ("GET", "/devices/static/{name}"): "public page asset",
    ("GET", "/guard"): "page shell (its data: /api/alarms…); ?site= is checked by the guard",
    ("GET", "/guard/"): "page shell",
    ("GET", "/guard/static/{name}"): "public page asset",
    ("GET", "/workorders/tech"): "page shell (its data: /api/workorders…)",
    ("GET", "/workorders/board"): "page shell (its data: /api/workorders…)",
    ("GET", "/workorders/static/{name}"): "public page asset",
    ("GET", "/records"): "page shell (its data: /api/units…)",
    ("GET", "/records/import"): "page shell (its data: /api/imports…)",
    ("GET", "/records/static/{name}"): "public page asset",
    ("GET", "/desk"): "page shell (its data: /api/search, /api/units…, /api/workorders…)",
    ("GET", "/desk/static/{name}"): "public page asset",
    ("GET", "/access"): "page shell (its data: /api/sites/{site}/access/…)",
    ("GET", "/access/static/{name}"): "public page asset",
    ("GET", "/guard/doors"): "page shell (its data: /api/sites/{site}/access/doors, commands)",
    ("GET", "/billing/runs"): "page shell (its data: /api/bill-runs…, /api/bills…)",
    ("GET", "/billing/fee-items"): "page shell (its data: /api/fee-items…, parking tariffs)",
    ("GET", "/billing/static/{name}"): "page asset",
    ("GET", "/schedules"): "page shell (its data: /api/schedules…, /api/jobs…)",
    ("GET", "/schedules/static/{name}"): "page asset",
    ("GET", "/finance"): "page shell (its data: /api/payments…)",
    ("GET", "/finance/receipts/{number}"): ("/finance/receipts/{receipt}", None),
    ("GET", "/finance/static/{name}"): "public page asset",
    # who is asking
    ("POST", "/api/login"): "public: logging in",
    ("POST", "/api/logout"): "the caller's own session",
    ("GET", "/api/me"): "the caller's own account",
    ("POST", "/api/me/password"): "the caller's own account",
    ("GET", "/api/staff"): ("/api/staff", None),
    ("POST", "/api/staff"): ("/api/staff", {"username": "b-admin", "password": "x" * 12,
                                            "role": "admin", "sites": ["{site}"]}),
    ("GET", "/api/staff/{id}"): ("/api/staff/1", None),
    ("PATCH", "/api/staff/{id}"): ("/api/staff/1", {"sites": ["{site}"]}),
    ("GET", "/api/tokens"): ("/api/tokens", None),
    ("POST", "/api/tokens"): ("/api/tokens", {"name": "b", "role": "admin",
                                              "sites": ["{site}"]}),
    ("DELETE", "/api/tokens/{id}"): ("/api/tokens/1", None),
    ("GET", "/api/audit"): ("/api/audit?site={site}", None),
    ("POST", "/api/sites/{site}/edge-token"): ("/api/sites/{site}/edge-token", {}),
    # sites, devices, readings
    ("GET", "/api/sites"): NO_SITE + " (lists the caller's sites only)",
    ("GET", "/api/sites/{site}/devices"): ("/api/sites/{site}/devices", None),
    ("GET", "/api/sites/{site}/events"): ("/api/sites/{site}/events", None),
    ("GET", "/api/sites/{site}/devices/{device}/events"): (
        "/api/sites/{site}/devices/{device}/events", None),
    # remote commands to the site's edge (cloud/commands)
    ("POST", "/api/sites/{site}/commands"): ("/api/sites/{site}/commands",
                                            {"kind": "linkage.reset"}),
    ("GET", "/api/sites/{site}/commands"): ("/api/sites/{site}/commands", None),
    ("GET", "/api/sites/{site}/commands/{id}"): ("/api/sites/{site}/commands/1", None),
    ("GET", "/api/devices/{device}/readings"): ("/api/devices/{device}/readings", None),
    # access credentials (cloud/access)
    ("GET", "/api/sites/{site}/access/cards"): ("/api/sites/{site}/access/cards", None),
    ("POST", "/api/sites/{site}/access/cards"): ("/api/sites/{site}/access/cards",
                                                {"number": "123456", "staff_name": "x",
                                                 "doors": ["*"]}),
    ("POST", "/api/sites/{site}/access/cards/{id}/revoke"): (
        "/api/sites/{site}/access/cards/1/revoke", {"reason": "x"}),
    ("GET", "/api/sites/{site}/access/profiles/{name}"): (
        "/api/sites/{site}/access/profiles/day", None),
    ("PUT", "/api/sites/{site}/access/profiles/{name}"): (
        "/api/sites/{site}/access/profiles/day",
        {"windows": [{"days": [1], "from": "07:00", "to": "22:00"}]}),
    ("GET", "/api/sites/{site}/access/profiles"): ("/api/sites/{site}/access/profiles", None),
    ("GET", "/api/sites/{site}/access/groups"): ("/api/sites/{site}/access/groups", None),
    ("PUT", "/api/sites/{site}/access/groups/{name}"): (
        "/api/sites/{site}/access/groups/lobby", {"doors": ["b1-lobby"]}),
    ("GET", "/api/sites/{site}/access/dataset"): "the edge's pull: HTTP Basic with the site's "
                                                  "own secret (tests/cloud/test_access_api.py)",
    ("GET", "/api/sites/{site}/access/log"): ("/api/sites/{site}/access/log", None),
    ("GET", "/api/sites/{site}/access/doors"): ("/api/sites/{site}/access/doors", None),
    ("GET", "/api/sites/{site}/access/passes"): ("/api/sites/{site}/access/passes", None),
    ("POST", "/api/sites/{site}/access/passes"): (
        "/api/sites/{site}/access/passes", {"visitor_name": "x", "unit": "{unit_code}",
                                            "valid_to": "2099-01-01", "doors": ["*"],
                                            "uses": 1}),
    ("GET", "/api/sites/{site}/access/passes/{id}/qr.svg"): (
        "/api/sites/{site}/access/passes/1/qr.svg", None),
    ("POST", "/api/sites/{site}/access/passes/{id}/revoke"): (
        "/api/sites/{site}/access/passes/1/revoke", {"reason": "x"}),
    # patrol (cloud/patrol): checkpoints, routes, plans, tags, rounds
    ("GET", "/api/sites/{site}/patrol/checkpoints"): ("/api/sites/{site}/patrol/checkpoints",
                                                     None),
    ("POST", "/api/sites/{site}/patrol/checkpoints"): (
        "/api/sites/{site}/patrol/checkpoints", {"code": "cp-x", "name": "x", "qr": True}),
    ("PATCH", "/api/sites/{site}/patrol/checkpoints/{code}"): (
        "/api/sites/{site}/patrol/checkpoints/cp-x", {"name": "x"}),
    ("GET", "/api/sites/{site}/patrol/routes"): ("/api/sites/{site}/patrol/routes", None),
    ("POST", "/api/sites/{site}/patrol/routes"): (
        "/api/sites/{site}/patrol/routes",
        {"code": "r-x", "name": "x", "points": [{"checkpoint": "cp-x", "offset_s": 0}]}),
    ("PATCH", "/api/sites/{site}/patrol/routes/{code}"): (
        "/api/sites/{site}/patrol/routes/r-x", {"name": "x"}),
    ("GET", "/api/sites/{site}/patrol/plans"): ("/api/sites/{site}/patrol/plans", None),
    ("POST", "/api/sites/{site}/patrol/plans"): (
        "/api/sites/{site}/patrol/plans",
        {"code": "p-x", "name": "x", "route": "r-x", "start": "22:00", "end": "06:00"}),
    ("PATCH", "/api/sites/{site}/patrol/plans/{code}"): (
        "/api/sites/{site}/patrol/plans/p-x", {"name": "x"}),
    ("GET", "/api/sites/{site}/patrol/tags"): ("/api/sites/{site}/patrol/tags", None),
    ("POST", "/api/sites/{site}/patrol/tags"): (
        "/api/sites/{site}/patrol/tags",
        {"tag": "426c7565-4368-6172-6d42-6561636f6e73 1 2", "guard": "x"}),
    ("POST", "/api/sites/{site}/patrol/tags/{id}/handover"): (
        "/api/sites/{site}/patrol/tags/1/handover", {"guard": "x"}),
    ("GET", "/api/sites/{site}/patrol/tags/{id}/history"): (
        "/api/sites/{site}/patrol/tags/1/history", None),
    ("POST", "/api/sites/{site}/patrol/tags/{id}/retire"): (
        "/api/sites/{site}/patrol/tags/1/retire", {}),
    ("GET", "/api/sites/{site}/patrol/guards"): ("/api/sites/{site}/patrol/guards", None),
    ("GET", "/api/sites/{site}/patrol/rounds"): ("/api/sites/{site}/patrol/rounds", None),
    ("GET", "/api/sites/{site}/patrol/rounds/live"): ("/api/sites/{site}/patrol/rounds/live",
                                                     None),
    ("GET", "/api/sites/{site}/patrol/dataset"): "the edge's pull: HTTP Basic with the site's "
                                                  "own secret (tests/cloud/patrol)",
    # patrol reports, QR stickers and phone scans (cloud/patrol report_routes, sticker,
    # scan_routes); the sticker probes use the checkpoint the lines above create
    ("GET", "/api/sites/{site}/patrol/report"): ("/api/sites/{site}/patrol/report", None),
    ("GET", "/api/sites/{site}/patrol/report.xlsx"): (
        "/api/sites/{site}/patrol/report.xlsx", None),
    ("GET", "/api/sites/{site}/patrol/checkpoints/{code}/sticker.svg"): (
        "/api/sites/{site}/patrol/checkpoints/cp-x/sticker.svg", None),
    ("POST", "/api/sites/{site}/patrol/checkpoints/{code}/sticker"): (
        "/api/sites/{site}/patrol/checkpoints/cp-x/sticker", {}),
    ("POST", "/api/sites/{site}/patrol/scans"): (
        "/api/sites/{site}/patrol/scans",
        {"token": sign_sticker(CREDENTIALS[SITE_B], Sticker(SITE_B, "cp-x", 1)),
         "phone_time": "2026-11-23T10:00:00+08:00"}),
    ("GET", "/api/sites/{site}/patrol/scans"): ("/api/sites/{site}/patrol/scans", None),
    ("GET", "/m/patrol"): "page shell (its data: /api/sites/{site}/patrol/scans)",
    ("GET", "/patrol"): "page shell (its data: /api/sites/{site}/patrol/…)",
    ("GET", "/patrol/today"): "page shell (its data: /api/sites/{site}/patrol/rounds)",
    ("GET", "/patrol/report"): "page shell (its data: /api/sites/{site}/patrol/report)",
    ("GET", "/patrol/static/{name}"): "public page asset",
    ("GET", "/m/patrol/static/{name}"): "public page asset",
    # the operations cockpit (cloud/cockpit/api.py)
    ("GET", "/api/cockpit/company"): NO_SITE + " (ranks the caller's sites only: "
                                               "tests/cloud/cockpit/test_api.py)",
    ("GET", "/api/cockpit/sites/{site}"): ("/api/cockpit/sites/{site}", None),
    # the cockpit's live feed and kiosk (cloud/cockpit/live.py, kiosk.py)
    ("GET", "/api/cockpit/ws"): ("/api/cockpit/ws?site={site}", None),
    ("POST", "/api/cockpit/kiosk"): NO_SITE + " (a cockpit token's own cookie: "
                                             "tests/security/test_cockpit_kiosk.py)",
    ("DELETE", "/api/cockpit/kiosk"): NO_SITE + " (clears the caller's cookie)",
    # the cockpit's pages (cloud/cockpit/pages.py)
    ("GET", "/cockpit"): "page shell (its data: /api/cockpit/company, /api/cockpit/ws)",
    ("GET", "/cockpit/sites/{site}"): ("/cockpit/sites/{site}", None),
    ("GET", "/cockpit/kiosk"): "public page (the wall screen's token stays in the fragment)",
    ("GET", "/cockpit/static/{name}"): "public page asset",
    ("GET", "/cockpit/vendor/echarts.min.js"): "public chart library (no data)",
    # retention windows (cloud/retention/routes.py)
    ("GET", "/api/retention"): NO_SITE + " (lists the caller's sites only: "
                                         "tests/cloud/retention/test_api.py)",
    ("PUT", "/api/retention/{site}/{class}"): ("/api/retention/{site}/access_log",
                                               {"days": 90}),
    # alarms
    ("GET", "/api/alarms"): ("/api/alarms?site={site}", None),
    ("GET", "/api/alarms/live"): ("/api/alarms/live?site={site}", None),
    ("GET", "/api/alarms/{id}"): ("/api/alarms/{alarm}", None),
    ("POST", "/api/alarms/{id}/acknowledge"): ("/api/alarms/{alarm}/acknowledge", {}),
    ("POST", "/api/alarms/{id}/start"): ("/api/alarms/{alarm}/start", {}),
    ("POST", "/api/alarms/{id}/resolve"): ("/api/alarms/{alarm}/resolve", {"note": "x"}),
    ("POST", "/api/alarms/{id}/false-alarm"): ("/api/alarms/{alarm}/false-alarm",
                                               {"note": "x"}),
    ("GET", "/api/alarms/linkage"): ("/api/alarms/linkage?site={site}", None),
    ("POST", "/api/incidents/{id}/acknowledge"): ("/api/incidents/{alarm}/acknowledge", {}),
    ("POST", "/api/incidents/{id}/start"): ("/api/incidents/{alarm}/start", {}),
    ("POST", "/api/incidents/{id}/resolve"): ("/api/incidents/{alarm}/resolve", {}),
    ("POST", "/api/incidents/{id}/false-alarm"): ("/api/incidents/{alarm}/false-alarm",
                                                  {"note": "x"}),
    # work orders, technicians, assets, maintenance, rules
    ("GET", "/api/workorders"): ("/api/workorders?site={site}", None),
    ("POST", "/api/workorders"): ("/api/workorders", {"site": "{site}", "category": "plumbing",
                                                      "title": "x"}),
    ("GET", "/api/workorders/{id}"): ("/api/workorders/{wo}", None),
    ("POST", "/api/workorders/{id}/{action}"): ("/api/workorders/{wo}/cancel", {"note": "x"}),
    ("POST", "/api/workorders/{id}/photos"): ("/api/workorders/{wo}/photos", PNG),
    ("GET", "/api/workorders/{id}/photos"): ("/api/workorders/{wo}/photos", None),
    ("GET", "/api/workorders/{id}/photos/{pid}"): ("/api/workorders/{wo}/photos/1", None),
    ("GET", "/api/technicians"): ("/api/technicians?site={site}", None),
    ("POST", "/api/technicians"): ("/api/technicians", {"name": "x", "skills": [],
                                                        "sites": ["{site}"]}),
    ("GET", "/api/assets"): ("/api/assets?site={site}", None),
    ("POST", "/api/assets"): ("/api/assets", {"site": "{site}", "code": "X", "kind": "elevator",
                                              "name": "x", "install_date": "2020-01-01"}),
    ("GET", "/api/assets/{id}"): ("/api/assets/{asset}", None),
    ("GET", "/api/maintenance-plans"): ("/api/maintenance-plans?site={site}", None),
    ("POST", "/api/maintenance-plans"): ("/api/maintenance-plans",
                                         {"site": "{site}", "plan": "{plan}"}),
    ("POST", "/api/maintenance-plans/generate"): ("/api/maintenance-plans/generate"
                                                  "?site={site}", None),
    ("GET", "/api/rules"): NO_SITE + " (the rules in force, read-only)",
    ("PUT", "/api/rules"): ("/api/rules", None),
    ("POST", "/api/rules/check"): NO_SITE + " (checks a text, stores nothing)",
    # parking
    ("GET", "/api/sites/{site}/parking/dataset"): "the edge's pull: HTTP Basic with the "
                                                  "site's own secret (test_parking_records)",
    # records
    ("GET", "/api/companies"): NO_SITE + " (lists companies running the caller's sites)",
    ("POST", "/api/companies"): NO_SITE + " (a company belongs to no site until assigned)",
    ("GET", "/api/companies/{id}"): ("/api/companies/{company}", None),
    ("PATCH", "/api/companies/{id}"): ("/api/companies/{company}", {"name": "x"}),
    ("DELETE", "/api/companies/{id}"): ("/api/companies/{company}", None),
    ("GET", "/api/companies/{id}/history"): ("/api/companies/{company}/history", None),
    ("POST", "/api/companies/{id}/sites"): ("/api/companies/{company}/sites",
                                            {"site": "{site}"}),
    ("DELETE", "/api/companies/{id}/sites/{site}"): ("/api/companies/{company}/sites/{site}",
                                                     None),
    ("POST", "/api/meters/{id}/replace"): ("/api/meters/{meter}/replace", {}),
    ("GET", "/api/imports/templates/{file}"): NO_SITE + " (an empty template)",
    ("GET", "/api/search"): ("/api/search?site={site}&q=1", None),
    # the data subject (cloud/privacy): a site-B resident's rows
    ("GET", "/api/people/{id}/export"): ("/api/people/{owner}/export", None),
    ("GET", "/api/people/{id}/requests"): ("/api/people/{owner}/requests", None),
    ("GET", "/api/people/{id}/faces"): ("/api/people/{owner}/faces", None),
    ("POST", "/api/people/{id}/consents"): ("/api/people/{owner}/consents",
                                            {"purpose": "face_access"}),
    ("DELETE", "/api/people/{id}/consents/{purpose}"): (
        "/api/people/{owner}/consents/face_access", None),
    ("POST", "/api/people/{id}/face"): ("/api/people/{owner}/face", PNG),
    ("POST", "/api/people/{id}/erasure"): ("/api/people/{tenant}/erasure", {"reason": "x"}),
    ("POST", "/api/imports/{kind}"): ("/api/imports/units?site={site}", None),
    ("GET", "/api/imports/jobs/{id}"): ("/api/imports/jobs/{job}", None),
    # billing and payments
    ("GET", "/api/fee-items"): ("/api/fee-items?site={site}", None),
    ("POST", "/api/fee-items"): ("/api/fee-items", {"site": "{site}", "code": "X", "name": "x",
                                                    "kind": "fixed", "cycle": "monthly",
                                                    "rule": {"amount": "1.00"}}),
    ("GET", "/api/fee-items/{id}"): ("/api/fee-items/{fee_item}", None),
    ("PATCH", "/api/fee-items/{id}"): ("/api/fee-items/{fee_item}", {"name": "x"}),
    ("GET", "/api/bill-runs"): ("/api/bill-runs?site={site}", None),
    ("POST", "/api/bill-runs"): ("/api/bill-runs", {"site": "{site}", "cycle": "monthly",
                                                    "period": "2026-12"}),
    ("GET", "/api/bill-runs/{id}"): ("/api/bill-runs/{bill_run}", None),
    ("GET", "/api/schedules"): ("/api/schedules?site={site}", None),
    ("POST", "/api/schedules"): ("/api/schedules", {"site": "{site}", "kind": "late_fees"}),
    ("PUT", "/api/schedules/{id}"): ("/api/schedules/{schedule}", {"enabled": False}),
    ("GET", "/api/jobs"): ("/api/jobs?site={site}", None),
    ("GET", "/api/bills"): ("/api/bills?site={site}", None),
    ("GET", "/api/bills/export"): ("/api/bills/export?site={site}", None),
    ("GET", "/api/bills/{id}"): ("/api/bills/{bill}", None),
    ("POST", "/api/bills/{id}/void"): ("/api/bills/{bill}/void", {"reason": "x"}),
    ("POST", "/api/bills/{id}/adjust"): ("/api/bills/{bill}/adjust",
                                         {"amount": "-1.00", "reason": "x"}),
    ("POST", "/api/bills/{id}/release"): ("/api/bills/{bill}/release", {"note": "x"}),
    ("POST", "/api/payments"): ("/api/payments", {"site": "{site}", "unit": "{unit_code}",
                                                  "amount": "1.00", "method": "cash",
                                                  "idempotency_key": "walk-1"}),
    ("GET", "/api/payments"): ("/api/payments?site={site}", None),
    ("GET", "/api/payments/export"): ("/api/payments/export?site={site}", None),
    ("GET", "/api/payments/{id}"): ("/api/payments/{payment}", None),
    ("POST", "/api/payments/{id}/reverse"): ("/api/payments/{payment}/reverse",
                                             {"reason": "x"}),
    ("GET", "/api/balances"): ("/api/balances?site={site}", None),
    ("GET", "/api/receipts/{number}"): ("/api/receipts/{receipt}", None),
    ("POST", "/api/late-fees/assess"): ("/api/late-fees/assess", {"site": "{site}"}),
    ("POST", "/api/reminders/run"): ("/api/reminders/run", {"site": "{site}"}),
    ("GET", "/api/arrears"): ("/api/arrears?site={site}", None),
    ("GET", "/api/arrears/export"): ("/api/arrears/export?site={site}", None),
    ("GET", "/api/stats/collection"): ("/api/stats/collection?site={site}", None),
}

#: The parking lists and the register kinds follow one pattern each.
for _res, _key in (("vehicles", "pvehicle"), ("spaces", "pspace"), ("passes", "ppass"),
                   ("visitors", "pvisitor"), ("blacklist", "pblack")):
    _p = f"/api/sites/{{site}}/parking/{_res}"
    TABLE[("GET", _p)] = (_p, None)
    TABLE[("POST", _p)] = (_p, {"plate": "粤B00001", "holder": "x", "reason": "x"})
    TABLE[("GET", _p + "/{id}")] = (_p + f"/{{{_key}}}", None)
    TABLE[("PUT", _p + "/{id}")] = (_p + f"/{{{_key}}}", {"plate": "粤B00001", "holder": "x"})
    TABLE[("DELETE", _p + "/{id}")] = (_p + f"/{{{_key}}}", None)
for _m, _p in (("GET", "tariffs"), ("GET", "tariffs/{lot}"), ("PUT", "tariffs/{lot}"),
               ("DELETE", "tariffs/{lot}"), ("GET", "sessions"), ("GET", "charges"),
               ("GET", "lanes"), ("GET", "reads/{seq}/evidence.jpg"),
               ("GET", "reads/{seq}/crop.jpg")):
    _full = f"/api/sites/{{site}}/parking/{_p}"
    TABLE[(_m, _full)] = (_full.replace("{lot}", "lot-main").replace("{seq}", "1"),
                          {} if _m == "PUT" else None)
for _kind, _key, _body in (
        ("buildings", "building", {"code": "X", "name": "x"}),
        ("units", "unit", {"code": "X-1", "building": "B1", "area": "1.00",
                           "type": "residential"}),
        ("owners", "owner", {"unit": "{unit_code}", "name": "x"}),
        ("tenants", "tenant", {"unit": "{unit_code}", "name": "x"}),
        ("vehicles", "vehicle", {"plate": "粤B00002", "holder": "x"}),
        ("spaces", "space", {"lot": "lot-main", "code": "X", "kind": "public"}),
        ("meters", "meter", {"code": "X", "utility": "water", "unit": "{unit_code}"})):
    TABLE[("GET", f"/api/{_kind}")] = (f"/api/{_kind}?site={{site}}", None)
    TABLE[("POST", f"/api/{_kind}")] = (f"/api/{_kind}", {"site": "{site}", **_body})
    TABLE[("GET", f"/api/{_kind}/{{id}}")] = (f"/api/{_kind}/{{{_key}}}", None)
    TABLE[("PATCH", f"/api/{_kind}/{{id}}")] = (f"/api/{_kind}/{{{_key}}}", {"note": "x"}
                                                 if _kind in ("owners", "tenants")
                                                 else {"name": "x"})
    TABLE[("GET", f"/api/{_kind}/{{id}}/history")] = (f"/api/{_kind}/{{{_key}}}/history",
                                                       None)
    TABLE[("GET", f"/api/{_kind}/export")] = (f"/api/{_kind}/export?site={{site}}", None)
    if _kind not in ("owners", "tenants", "meters"):
        TABLE[("DELETE", f"/api/{_kind}/{{id}}")] = (f"/api/{_kind}/{{{_key}}}", None)
for _kind, _key in (("companies", "company"), ("buildings", "building")):
    TABLE.pop(("GET", f"/api/{_kind}/export"), None)

#: Probes that site B's own (one-site) administrator is refused as well, and why: the
#: route is for administrators of every site, or the probe names a thing that is not there
#: for anyone (the refusal of the attacker is then checked by the site lookup before it).
_ALL_SITES = "for a login serving every site only"
_NOT_THERE = "no such record for anyone; the attacker's probe is refused on the site first"
ALSO_REFUSED: dict[tuple[str, str], str] = {
    ("GET", "/api/staff"): _ALL_SITES, ("POST", "/api/staff"): _ALL_SITES,
    ("GET", "/api/staff/{id}"): _ALL_SITES, ("PATCH", "/api/staff/{id}"): _ALL_SITES,
    ("GET", "/api/tokens"): _ALL_SITES, ("POST", "/api/tokens"): _ALL_SITES,
    ("DELETE", "/api/tokens/{id}"): _ALL_SITES, ("PUT", "/api/rules"): _ALL_SITES,
    ("GET", "/api/workorders/{id}/photos/{pid}"): _NOT_THERE,
    ("GET", "/api/imports/jobs/{id}"): _NOT_THERE,
    ("GET", "/api/sites/{site}/commands/{id}"): _NOT_THERE,
    ("POST", "/api/sites/{site}/access/cards/{id}/revoke"): _NOT_THERE,
    ("GET", "/api/sites/{site}/access/profiles/{name}"): _NOT_THERE,
    ("GET", "/api/sites/{site}/access/passes/{id}/qr.svg"): _NOT_THERE,
    ("POST", "/api/sites/{site}/access/passes/{id}/revoke"): _NOT_THERE,
    ("PATCH", "/api/sites/{site}/patrol/checkpoints/{code}"): _NOT_THERE,
    ("PATCH", "/api/sites/{site}/patrol/routes/{code}"): _NOT_THERE,
    ("PATCH", "/api/sites/{site}/patrol/plans/{code}"): _NOT_THERE,
    ("POST", "/api/sites/{site}/patrol/tags/{id}/handover"): _NOT_THERE,
    ("GET", "/api/sites/{site}/patrol/tags/{id}/history"): _NOT_THERE,
    ("POST", "/api/sites/{site}/patrol/tags/{id}/retire"): _NOT_THERE,
    ("GET", "/api/sites/{site}/parking/reads/{seq}/evidence.jpg"): _NOT_THERE,
    ("GET", "/api/sites/{site}/parking/reads/{seq}/crop.jpg"): _NOT_THERE,
}
