"""Roles and what they may do: one table that the request guard, the pages and the docs read.

A permission is ``area.verb``. ``people.read`` is personal data (owners' and tenants' names,
phones, ID numbers): a role without it sees records with those fields masked, and every view
with it is written to the audit log.
"""

from __future__ import annotations

from typing import Final

PERMISSIONS: Final = (
    "devices.read",      # sites, devices, events, readings
    "records.read",      # companies, buildings, units, meters, vehicles, spaces (no personal data)
    "records.write",
    "people.read",       # residents' personal data (audited)
    "people.write",
    "people.export",     # a resident's data-subject export (everything held about them)
    "people.erase",      # a resident's erasure request (irreversible; admin only)
    "plates.read",       # full licence plates (others see 沪A·***23)
    "faces.read",        # face credentials (enrolment photos)
    "imports.run",       # import templates, dry runs and imports
    "billing.read",      # fee items, bills, payments, receipts, arrears, statistics
    "billing.write",     # fee items, bill runs, payments, voids, reversals
    "parking.read",
    "parking.write",
    "alarms.read",
    "alarms.act",
    "workorders.read",
    "workorders.act",
    "workorders.admin",  # rules, technicians, assets, maintenance plans
    "audit.read",
    "access.passes",     # visitor passes: issue, list, QR image, revoke
    "patrol.read",       # patrol checkpoints, routes, plans, tags, rounds, reports
    "patrol.write",      # patrol checkpoints, routes, plans, tags and their handover
    "patrol.scan",       # a guard's phone scanning a checkpoint's QR sticker
    "cockpit.read",      # the operations cockpit (company and site big screens), read-only
    "retention.admin",   # retention windows per data class and site (admin only)
    "staff.admin",       # staff accounts, roles, API tokens
)

_ALL: Final = frozenset(PERMISSIONS)

#: role → permissions. Labels are zh-CN first for pages.
ROLES: Final[dict[str, frozenset[str]]] = {
    "admin": _ALL,
    "finance": frozenset({
        "devices.read", "records.read", "people.read", "imports.run", "plates.read",
        "billing.read", "billing.write", "parking.read",
        "parking.write"}),  # parking prices (tariffs) and monthly passes are money
    "customer_service": frozenset({
        "records.read", "records.write", "people.read", "people.write", "people.export",
        "plates.read", "billing.read",
        "parking.read", "parking.write", "alarms.read", "workorders.read", "workorders.act",
        "access.passes"}),
    "guard": frozenset({
        "devices.read", "parking.read", "parking.write", "alarms.read", "alarms.act",
        "workorders.read", "access.passes", "patrol.read", "patrol.scan"}),
    "operations_lead": frozenset({
        "devices.read", "records.read", "billing.read", "parking.read", "alarms.read",
        "alarms.act", "workorders.read", "workorders.act", "workorders.admin", "audit.read",
        "patrol.read", "patrol.write", "patrol.scan", "cockpit.read"}),
    "technician": frozenset({
        "devices.read", "records.read", "alarms.read", "workorders.read", "workorders.act"}),
    "installer": frozenset({
        "devices.read", "records.read", "records.write", "imports.run", "parking.read",
        "parking.write", "plates.read", "workorders.read"}),
    # A wall screen's token (kiosk): the cockpit of its sites and nothing else.
    "cockpit": frozenset({"cockpit.read"}),
}

ROLE_LABELS: Final[dict[str, str]] = {
    "admin": "管理员 / Administrator",
    "finance": "财务 / Finance",
    "customer_service": "客服 / Customer service",
    "guard": "保安 / Guard",
    "operations_lead": "运营主管 / Operations lead",
    "technician": "维修技师 / Technician",
    "installer": "实施工程师 / Installer",
    "cockpit": "大屏 / Wall screen",
}


#: Where each role lands after logging in (unless the login was asked for another page): the
#: page that role works in all day.
ROLE_HOME: Final[dict[str, str]] = {
    "admin": "/",
    "finance": "/finance",
    "customer_service": "/desk",
    "guard": "/guard",
    "operations_lead": "/workorders/board",
    "technician": "/workorders/tech",
    "installer": "/records/import",
    "cockpit": "/cockpit",
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown roles hold nothing)."""
    if permission not in _ALL:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLES.get(role, frozenset())
