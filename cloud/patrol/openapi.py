"""OpenAPI: patrol (``/api/sites/{site}/patrol/…``): checkpoints, routes, plans, tags,
rounds and the edge's dataset pull. Reports, stickers and scans add theirs in their own
modules."""

from __future__ import annotations

from cloud.web.openapi import PATHS

_TAG = ["patrol"]
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}
_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_DATE = {"name": "date", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "小区当地日期 YYYY-MM-DD（默认今天）/ site-local date (default today)"}
_P = "/api/sites/{site}/patrol"


def _op(summary: str, ok: str = "200", params: tuple[dict[str, object], ...] = ()
        ) -> dict[str, object]:
    return {"tags": _TAG, "summary": summary, "parameters": [_SITE, *params],
            "responses": {ok: {"description": "OK"},
                          "400": {"description": "字段错误 / the field and why"}}}


PATHS.update({
    f"{_P}/checkpoints": {
        "get": _op("巡更点列表 / list checkpoints"),
        "post": _op("新建巡更点（code, name, building, floor, area, receiver, qr）/ create a "
                    "checkpoint", "201")},
    f"{_P}/checkpoints/{{code}}": {
        "patch": _op("修改巡更点（active: false 停用）/ change a checkpoint", params=(_CODE,))},
    f"{_P}/routes": {
        "get": _op("巡更路线列表 / list routes"),
        "post": _op("新建路线（ordered, points: [{checkpoint, offset_s}]）/ create a route",
                    "201")},
    f"{_P}/routes/{{code}}": {
        "patch": _op("修改路线 / change a route", params=(_CODE,))},
    f"{_P}/plans": {
        "get": _op("巡更计划列表 / list plans"),
        "post": _op("新建计划（route, days, start, end, every_s, start_window_s, tolerance_s, "
                    "late_s, tolerances, escalate_s；时间均为秒）/ create a plan (seconds)",
                    "201")},
    f"{_P}/plans/{{code}}": {
        "patch": _op("修改计划 / change a plan", params=(_CODE,))},
    f"{_P}/tags": {
        "get": _op("巡更标签列表（?state=active|retired）/ list guards' tags"),
        "post": _op("发放标签给保安（tag, guard 登录名, label）/ issue a tag to a guard", "201")},
    f"{_P}/guards": {
        "get": _op("可发放标签的员工（登录名、姓名、角色）/ who may be issued a tag here")},
    f"{_P}/tags/{{id}}/handover": {
        "post": _op("标签交接给另一保安（guard, note）/ hand a tag over", params=(_ID,))},
    f"{_P}/tags/{{id}}/history": {
        "get": _op("标签持有记录 / who held the tag when", params=(_ID,))},
    f"{_P}/tags/{{id}}/retire": {
        "post": _op("停用标签 / retire a tag", params=(_ID,))},
    f"{_P}/rounds": {
        "get": _op("某日的巡更轮次（含未开始的计划轮次与各巡更点状态）/ a day's rounds with "
                   "each checkpoint's state", params=(_DATE,))},
    f"{_P}/rounds/live": {
        "get": _op("进行中的巡更轮次（保安看板）/ rounds in progress (guard board)")},
    f"{_P}/dataset": {
        "get": _op("巡更数据集（边缘网关用站点凭据拉取，ETag）/ the patrol dataset for the "
                   "edge (site credential, ETag)")},
})
