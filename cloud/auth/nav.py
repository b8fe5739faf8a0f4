"""The console's menu: which pages each role is offered, in the order staff work in them.

One table, read by ``/api/me`` (the shell draws the left navigation from it) and by the tests
(every item must open for every role it is offered to). A role is offered the pages of its
day, not every page its permissions would open: a technician may read the guard board but
works from 我的工单.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class NavItem:
    path: str
    zh: str
    en: str
    roles: frozenset[str]


def _item(path: str, zh: str, en: str, *roles: str) -> NavItem:
    return NavItem(path, zh, en, frozenset(roles))


NAV: Final[tuple[NavItem, ...]] = (
    _item("/", "概览", "Overview", "admin", "operations_lead", "installer"),
    _item("/cockpit", "驾驶舱", "Cockpit", "admin", "operations_lead", "cockpit"),
    _item("/guard", "保安看板", "Guard board", "admin", "guard", "operations_lead"),
    _item("/guard/doors", "门禁状态", "Doors", "admin", "guard", "operations_lead"),
    _item("/patrol/today", "今日巡更", "Today's patrol", "admin", "guard", "operations_lead"),
    _item("/patrol", "巡更管理", "Patrol set-up", "admin", "operations_lead"),
    _item("/patrol/report", "巡更报表", "Patrol report", "admin", "guard", "operations_lead"),
    _item("/devices", "设备", "Devices", "admin", "operations_lead", "installer", "technician"),
    _item("/workorders/board", "工单看板", "Work-order board", "admin", "operations_lead"),
    _item("/workorders/tech", "我的工单", "My orders", "technician"),
    _item("/desk", "客服台", "Service desk", "admin", "customer_service"),
    _item("/access", "门禁", "Access", "admin", "customer_service", "operations_lead"),
    _item("/records", "房屋档案", "Register", "admin", "customer_service", "finance",
          "operations_lead", "installer"),
    _item("/records/import", "批量导入", "Imports", "admin", "installer", "finance"),
    _item("/finance", "收费台", "Cashier's desk", "admin", "finance"),
    _item("/billing/runs", "出账", "Bill runs", "admin", "finance"),
    _item("/billing/fee-items", "收费项目", "Fee items", "admin", "finance"),
    _item("/schedules", "计划任务", "Schedules", "admin", "finance", "operations_lead"),
)


def nav_for(role: str) -> list[dict[str, str]]:
    """The menu of ``role`` as ``/api/me`` gives it."""
    return [{"path": i.path, "zh": i.zh, "en": i.en} for i in NAV if role in i.roles]
