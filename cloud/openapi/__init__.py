"""The OpenAPI 3.1 description of the console's HTTP API, kept beside the routes.

Written by hand rather than generated so descriptions say what integrators need (cursor rules,
time zones, decimals as strings); a test checks every registered route appears here, so the
document cannot silently fall behind the code. One module per resource adds its schemas and
paths when imported; the order below is the order of the document.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cloud.api.respond import json_ok
from cloud.openapi import (  # noqa: F401
    alarms,
    auth,
    billing,
    maintenance,
    parking,
    payments,
    records,
    rules,
    workorders,
)
from cloud.openapi.common import API_VERSION, PATHS, SCHEMAS


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Courtyard 智慧社区控制台 API / console API", "version": API_VERSION,
                 "description": "时间以 UTC 存储与传输，并附站点当地时间；"
                                "金额与读数为十进制字符串。 / Times are UTC with the site's local "
                                "time beside them; "
                                "meter values are decimal strings."},
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {"siteBasic": {
            "type": "http", "scheme": "basic",
            "description": "站点标识 + 站点密码 / site slug + site secret"}}},
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_ok(document())
