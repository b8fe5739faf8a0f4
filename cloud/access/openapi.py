"""OpenAPI: access credentials (``/api/sites/{site}/access/…``)."""

from __future__ import annotations

from cloud.web.openapi import PATHS, _assets, _page

_TAG = ["access"]
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(summary: str, ok: str = "200", params: tuple[dict[str, object], ...] = ()
        ) -> dict[str, object]:
    return {"tags": _TAG, "summary": summary, "parameters": [_SITE, *params],
            "responses": {ok: {"description": "OK"},
                          "400": {"description": "字段错误 / the field and why"}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, what: str, kind: str = "string") -> dict[str, object]:
    return {"name": name, "in": "query", "required": False, "description": what,
            "schema": {"type": kind}}


_LOG_PARAMS = (
    _query("door", "门 / the door key"),
    _query("result", "granted（放行）| denied（拒绝）/ granted or denied"),
    _query("holder", "持卡人编号（resident-12、staff:姓名、visitor-3）；"
                     "有 people.read 时也可为住户姓名 / a holder id, or a resident's name "
                     "for a role with people.read"),
    _query("from", "起（含，ISO 8601 带时区）/ from (inclusive, ISO 8601 with offset)"),
    _query("to", "止（不含）/ to (exclusive)"),
    _query("before_id", "上一页的 next_before_id / the previous page's next_before_id", "integer"),
    _query("limit", "每页条数（1–200，默认 50）/ entries per page (1-200, default 50)", "integer"),
)

PATHS.update({
    "/api/sites/{site}/access/cards": {
        "get": _op("门禁卡列表 / list cards"),
        "post": _op("发卡（住户或员工）/ issue a card", "201")},
    "/api/sites/{site}/access/cards/{id}/revoke": {
        "post": _op("注销门禁卡（须填原因）/ revoke a card (reason)", params=(_ID,))},
    "/api/sites/{site}/access/profiles": {
        "get": _op("时段列表 / list the time profiles")},
    "/api/sites/{site}/access/groups": {
        "get": _op("门禁组列表（每组一组门）/ list the access groups (named sets of doors)")},
    "/api/sites/{site}/access/groups/{name}": {
        "put": _op("设置门禁组（doors，可选中文名 zh；组内各卡的门随之改变）/ set an access "
                   "group (doors, optional zh label); its cards follow", params=(_NAME,))},
    "/api/sites/{site}/access/profiles/{name}": {
        "get": _op("时段 / a time profile", params=(_NAME,)),
        "put": _op("设置时段（时段不得重叠）/ set a time profile", params=(_NAME,))},
    "/api/sites/{site}/access/log": {
        "get": _op("通行记录（放行与拒绝，新的在前，按 id 翻页；住户姓名无 people.read 时打码）"
                   "/ the access log: granted and denied, newest first, keyset paging; names "
                   "masked without people.read", params=_LOG_PARAMS)},
    "/api/sites/{site}/access/doors": {
        "get": _op("各门状态：最近状态、最近通行人、未处理报警数 / each door: its last state, "
                   "the last person through, open alarms")},
    "/access": _page("门禁页（门禁卡、访客通行证、通行记录）/ the access page: cards, visitor "
                     "passes, the access log (HTML)"),
    "/guard/doors": _page("保安门禁状态页（各门状态、开门、签发访客证）/ the guard's door view "
                          "(HTML)"),
    "/access/static/{name}": _assets("门禁页的脚本与样式 / the access pages' scripts and styles"),
    "/api/sites/{site}/access/dataset": {
        "get": _op("门禁数据集（边缘网关用站点凭据拉取，ETag）/ the access dataset for the "
                   "edge (site credential, ETag)")},
})
