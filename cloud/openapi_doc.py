"""The OpenAPI 3.1 description of the console's HTTP API, kept beside the routes.

Written by hand rather than generated so descriptions say what integrators need (cursor rules,
time zones, decimals as strings); a test checks every registered route appears here, so the
document cannot silently fall behind the code. Each feature's ``openapi`` module adds its schemas
and paths when the feature's ``setup`` runs (``cloud.features.install``).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from cloud.auth.guard import PUBLIC, permission_of, requires
from cloud.web.openapi import API_VERSION, PATHS, SCHEMAS
from cloud.web.respond import json_ok

#: Who may call what: a token (``Authorization: Bearer cy_…``) or the console's session cookie
#: (browsers, with ``X-CSRF-Token`` on unsafe methods); the edge's dataset pull uses HTTP Basic
#: with the site secret. Public operations say ``security: []``.
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "API 令牌（courtyard cloud token create）/ an API token "
                                  "(cy_…, from courtyard cloud token create)"},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "courtyard_session",
                   "description": "POST /api/login 设置的会话 Cookie；非 GET 请求须带 "
                                  "X-CSRF-Token / the session cookie from POST /api/login; "
                                  "unsafe methods also need X-CSRF-Token (GET /api/me)"},
    "siteBasic": {"type": "http", "scheme": "basic",
                  "description": "小区标识 + 小区密码（仅边缘端拉取停车数据集）/ site slug + "
                                 "site secret (the edge's parking dataset pull only)"},
}


def document(app: web.Application | None = None) -> dict[str, Any]:
    """The document; with ``app``, each operation also says the permission it needs
    (``x-permission``) and public ones override the global security with ``[]``."""
    paths = copy.deepcopy(PATHS)
    if app is not None:
        _mark_permissions(app, paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Courtyard 智慧社区控制台 API / console API", "version": API_VERSION,
                 "description": "时间以 UTC 存储与传输，并附小区当地时间；"
                                "金额与读数为十进制字符串。 / Times are UTC with the site's local "
                                "time beside them; "
                                "meter values are decimal strings."},
        "paths": paths,
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def _mark_permissions(app: web.Application, paths: dict[str, Any]) -> None:
    for route in app.router.routes():
        op = paths.get(route.resource.canonical if route.resource else "", {}).get(
            route.method.lower())
        if op is None:
            continue
        permission = permission_of(route.handler)
        if permission == PUBLIC:
            op.setdefault("security", [])
        else:
            op["x-permission"] = permission or "staff.admin"


@requires(PUBLIC)
async def openapi_json(request: web.Request) -> web.Response:
    return json_ok(document(request.app))
