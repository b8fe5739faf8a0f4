"""OpenAPI: the retention windows (``cloud.retention.routes``)."""

from __future__ import annotations

from cloud.retention.classes import NAMES
from cloud.web.openapi import PATHS

_TAG = ["retention"]
_ERRORS = {"400": {"description": "字段错误（days 低于该类别下限等）/ the field and why "
                                  "(days below the class's minimum, …)"},
           "403": {"description": "需要 retention.admin / needs retention.admin"},
           "404": {"description": "小区或类别不存在 / no such site or class"}}

PATHS.update({
    "/api/retention": {"get": {
        "tags": _TAG,
        "summary": "保存期限：公司默认值与各小区生效值（含默认值与原因）/ retention windows: the "
                   "company defaults and each site's effective window, with default and reason",
        "responses": {"200": {"description": "OK"}, "403": _ERRORS["403"]}}},
    "/api/retention/{site}/{class}": {"put": {
        "tags": _TAG,
        "summary": "设置某小区（或 _company 公司默认）某类数据的保存天数（审计）/ set a class's "
                   "window for a site, or the company default with _company (audited)",
        "parameters": [
            {"name": "site", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "小区标识，或 _company / a site slug, or _company"},
            {"name": "class", "in": "path", "required": True,
             "schema": {"enum": list(NAMES)}, "description": "数据类别 / data class"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["days"], "additionalProperties": False,
            "properties": {"days": {"type": "integer", "minimum": 1,
                                    "description": "不少于该类别的 min_days / at least the "
                                                   "class's min_days"}}}}}},
        "responses": {"200": {"description": "OK"}, **_ERRORS}}},
})
