"""OpenAPI: the cockpit's views (``/api/cockpit/…``, docs/cockpit.md). The live feed and the
kiosk add theirs in their own modules."""

from __future__ import annotations

from cloud.web.openapi import PATHS

_TAG = ["cockpit"]
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "小区标识 / site slug"}
_DENIED = {"401": {"description": "未登录 / not signed in"},
           "403": {"description": "无 cockpit.read 权限 / no cockpit.read permission"}}

PATHS.update({
    "/api/cockpit/company": {"get": {
        "tags": _TAG,
        "summary": "公司驾驶舱：可见小区按需关注程度排序（严重告警 100、重要 10、一般 1、"
                   "网关离线或健康报告过期 50、超期工单 5）/ the company view: the viewer's "
                   "sites ranked by attention",
        "responses": {"200": {"description": "{now, sites: [{slug, name, online, alarms_open, "
                                             "workorders_overdue, edge_stale, oldest_age_s, "
                                             "attention}], totals}"}, **_DENIED}}},
    "/api/cockpit/sites/{site}": {"get": {
        "tags": _TAG,
        "summary": "小区驾驶舱：按页面顺序的全部面板（各含 title_zh、title_en、empty）/ a "
                   "site's cockpit: every panel in page order",
        "parameters": [_SITE],
        "responses": {"200": {"description": "{site, now, day, order, panels}"}, **_DENIED,
                      "404": {"description": "小区不存在或不可见 / no such site (or not "
                                             "yours)"}}}},
})
