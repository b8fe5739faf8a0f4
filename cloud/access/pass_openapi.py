"""OpenAPI: visitor passes (``/api/sites/{site}/access/passes…``, ``cloud.access.pass_routes``)."""

from __future__ import annotations

from cloud.web.openapi import PATHS

_TAG = ["access"]
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_STATE = {"name": "state", "in": "query", "required": False,
          "description": "active | revoked | expired", "schema": {"type": "string"}}


def _op(summary: str, ok: str = "200", params: tuple[dict[str, object], ...] = (),
        body: dict[str, object] | None = None) -> dict[str, object]:
    op: dict[str, object] = {
        "tags": _TAG, "summary": summary, "parameters": [_SITE, *params],
        "responses": {ok: {"description": "OK"},
                      "400": {"description": "字段错误 / the field and why"},
                      "409": {"description": "小区未配置站点密钥 / the site has no secret"}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": body}}}
    return op


_ISSUE: dict[str, object] = {
          "type": "object", "required": ["visitor_name", "unit", "valid_to", "doors", "uses"],
          "properties": {
              "visitor_name": {"type": "string", "maxLength": 64},
              "unit": {"type": "string", "description": "被访房屋编号 / the host's unit code"},
              "valid_from": {"type": "string", "description": "ISO 8601 带时区或日期；缺省为现在"
                                                              " / with offset, or a date"},
              "valid_to": {"type": "string", "description": "晚于起，至多 7 天 / after "
                                                            "valid_from, 7 days at most"},
              "doors": {"type": "array", "items": {"type": "string"}},
              "uses": {"type": "integer", "minimum": 1, "maximum": 50}}}

PATHS.update({
    "/api/sites/{site}/access/passes": {
        "get": _op("访客通行证列表（新的在前）/ visitor passes, newest first", params=(_STATE,)),
        "post": _op("签发访客通行证（返回令牌、9 位数字码与二维码地址）/ issue a visitor pass "
                    "(token, 9-digit code, QR path)", "201", body=_ISSUE)},
    "/api/sites/{site}/access/passes/{id}/qr.svg": {
        "get": _op("通行证二维码（SVG）/ the pass's QR code (SVG)", params=(_ID,))},
    "/api/sites/{site}/access/passes/{id}/revoke": {
        "post": _op("作废访客通行证（须填原因）/ revoke a visitor pass (reason)", params=(_ID,),
                    body={"type": "object", "required": ["reason"],
                          "properties": {"reason": {"type": "string", "maxLength": 200}}})},
})
