"""OpenAPI: access credentials (``/api/sites/{site}/access/…``)."""

from __future__ import annotations

from cloud.web.openapi import PATHS

_TAG = ["access"]
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(summary: str, ok: str = "200", params: tuple[dict[str, object], ...] = ()
        ) -> dict[str, object]:
    return {"tags": _TAG, "summary": summary, "parameters": [_SITE, *params],
            "responses": {ok: {"description": "OK"},
                          "400": {"description": "字段错误 / the field and why"}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}

PATHS.update({
    "/api/sites/{site}/access/cards": {
        "get": _op("门禁卡列表 / list cards"),
        "post": _op("发卡（住户或员工）/ issue a card", "201")},
    "/api/sites/{site}/access/cards/{id}/revoke": {
        "post": _op("注销门禁卡（须填原因）/ revoke a card (reason)", params=(_ID,))},
    "/api/sites/{site}/access/profiles/{name}": {
        "get": _op("时段 / a time profile", params=(_NAME,)),
        "put": _op("设置时段（时段不得重叠）/ set a time profile", params=(_NAME,))},
    "/api/sites/{site}/access/dataset": {
        "get": _op("门禁数据集（边缘网关用站点凭据拉取，ETag）/ the access dataset for the "
                   "edge (site credential, ETag)")},
})
