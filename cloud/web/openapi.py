"""Shared pieces of the OpenAPI document: helpers, the error schema, the registry.

Each feature adds its own schemas and paths in its ``openapi`` module (``cloud.parking.openapi``
…), imported by the feature's ``setup``.
"""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema)}}}


def _err(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _p(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "description": description}


_TIME = {"type": ["string", "null"], "format": "date-time"}
_LOCAL = {"type": ["string", "null"],
          "description": "同一时刻的小区当地时间 / the same instant in the site's time zone"}
_DEC = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$",
        "description": "精确十进制字符串 / exact decimal as a string"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "field", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_parameter", "not_found",
                                                         "ambiguous_device"]},
                "field": {"type": ["string", "null"],
                          "description": "出错的参数 / the offending parameter"},
                "message": {"type": "string", "description": "中文 / English"},
                "sites": {"type": "array", "items": {"type": "string"}},
            }}},
    },
}

PATHS: dict[str, Any] = {
    "/api/openapi.json": {"get": {
        "summary": "本文档 / this document",
        "responses": {"200": {"description": "OpenAPI 3.1",
                              "content": {"application/json": {}}}}}},
}

# --- shared by several resources ------------------------------------------------------------

_MONEY = {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{2}$",
          "description": "金额（元），两位小数的字符串 / yuan as a string with two decimals"}
_OPEN_NOTE = ("暂无员工账号，此接口与其它控制台接口一样不鉴权，仅限物业内网访问。/ No staff "
              "accounts yet: like the rest of the console API this endpoint is not "
              "authenticated; keep the console on the property's own network.")


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}



SCHEMAS["Error"]["properties"]["error"]["properties"] |= {
    "existing_id": {"type": "integer", "description": "重复时已有记录的 id / the existing row "
                                                      "of a duplicate"},
    "problems": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": ["string", "null"]}, "message": {"type": "string"},
        "fix": {"type": "string"}}}},
}
SCHEMAS["Error"]["properties"]["error"]["properties"]["problems"]["items"]["properties"] |= {
    "file": {"type": "string"}, "line": {"type": "integer", "description": "1 起；0 表示整个文件 "
                                                                          "/ 1-based; 0: the file"},
    "col": {"type": "integer"}}

# --- staff pages (cloud.web.pages) -----------------------------------------------------------

#: A page's answer: HTML.
_HTML_OK: dict[str, Any] = {"200": {"description": "HTML", "content": {"text/html": {}}}}
#: The asset name of a page set's ``static/{name}`` route.
_ASSET_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


def _page(summary: str, **extra: Any) -> dict[str, Any]:
    """A staff page (``GET``, HTML)."""
    return {"get": {"summary": summary, "responses": copy.deepcopy(_HTML_OK), **extra}}


def _assets(summary: str, name: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A page set's scripts and style sheets (``GET …/static/{name}``)."""
    return {"get": {"summary": summary, **extra,
                    "parameters": [copy.deepcopy(name or _ASSET_NAME)],
                    "responses": {"200": {"description": "JavaScript or CSS"},
                                  "404": {"description": "不存在 / no such asset"}}}}
