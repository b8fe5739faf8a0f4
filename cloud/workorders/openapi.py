"""OpenAPI: Work orders, technicians and photos."""

from __future__ import annotations

from typing import Any

from cloud.web.openapi import (
    _DEC,
    _LOCAL,
    _MONEY,
    _OPEN_NOTE,
    _TIME,
    PATHS,
    SCHEMAS,
    _assets,
    _body,
    _err,
    _ok,
    _p,
    _page,
    _q,
    _ref,
)
from cloud.workorders.categories import CATEGORIES
from cloud.workorders.present import TIME_FIELDS
from cloud.workorders.states import PRIORITIES, STATES, TRANSITIONS

# --- work orders -------------------------------------------------------------------------------

_WO_ID_P = _p("id", "工单 id / work order id")


def _workorder_schemas() -> dict[str, Any]:
    times = {name: _TIME for name in TIME_FIELDS}
    local = {f"{name}_local": _LOCAL for name in TIME_FIELDS}
    order = {"type": "object", "properties": {
        "id": {"type": "integer"}, "number": {"type": ["string", "null"]},
        "site": {"type": "string"}, "category": {"enum": list(CATEGORIES)},
        "priority": {"enum": list(PRIORITIES)}, "state": {"enum": list(STATES)},
        "title": {"type": "object", "properties": {"zh": {"type": "string"},
                                                   "en": {"type": "string"}}},
        "description": {"type": "string"},
        "unit": {"type": ["string", "null"], "description": "房号（住户报事报修）/ the unit "
                                                            "a resident's call is about"},
        "source": {"type": "object", "description": "来源：设备事件、报修或计划 / from a "
                                                     "device event, a request or a plan"},
        "count": {"type": "integer", "description": "同一故障合并的次数 / repeats folded in"},
        "skill": {"type": ["string", "null"]},
        "assignee_ids": {"type": "array", "items": {"type": "integer"}},
        "response_breached": {"type": "boolean"}, "resolve_breached": {"type": "boolean"},
        "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        "rating_note": {"type": ["string", "null"]},
        "return_visit_note": {"type": ["string", "null"]},
        **times, **local}}
    step = {"type": "object", "properties": {
        "action": {"type": "string", "examples": ["opened", "escalated", "rating_requested",
                                                  *TRANSITIONS]},
        "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
        "by": {"type": ["string", "null"]}, "at": _TIME, "at_local": _LOCAL,
        "note": {"type": ["string", "null"]}, "detail": {}}}
    line = {"type": "object", "properties": {
        "kind": {"enum": ["labour", "part"]}, "technician_id": {"type": ["integer", "null"]},
        "hours": _DEC, "part": {"type": ["string", "null"]}, "qty": _DEC,
        "unit_price": _MONEY, "cost": _MONEY, "by": {"type": "string"}, "at": _TIME}}
    tech = {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "phone": {"type": "string"},
        "skills": {"type": "array", "items": {"type": "string"}},
        "sites": {"type": "array", "items": {"type": "string"}},
        "on_duty": {"type": "boolean", "description": "手动上岗（排班之外）/ clocked in by "
                                                      "hand, besides the roster"},
        "active": {"type": "boolean"},
        "shifts": {"type": "array", "items": {"type": "object", "properties": {
            "weekday": {"type": "integer", "minimum": 0, "maximum": 6,
                        "description": "0 = 周一 / Monday"},
            "start": {"type": "string", "pattern": r"^\d\d:\d\d$"},
            "end": {"type": "string", "pattern": r"^\d\d:\d\d$",
                    "description": "早于开始时间表示跨午夜 / before start: past midnight"}}}}}}
    return {
        "WorkOrder": order,
        "WorkOrderList": {"type": "object", "properties": {
            "workorders": {"type": "array", "items": _ref("WorkOrder")}}},
        "WorkOrderStep": step,
        "WorkOrderLine": line,
        "WorkOrderDetail": {"allOf": [_ref("WorkOrder"), {"type": "object", "properties": {
            "history": {"type": "array", "items": _ref("WorkOrderStep")},
            "lines": {"type": "array", "items": _ref("WorkOrderLine")},
            "cost_total": _MONEY,
            "allowed": {"type": "array", "items": {"type": "string"}}}}]},
        "WorkOrderRequest": {
            "type": "object", "required": ["site", "category", "title"],
            "additionalProperties": False, "properties": {
                "site": {"type": "string"}, "category": {"enum": list(CATEGORIES)},
                "title": {"type": "string", "maxLength": 200},
                "description": {"type": "string", "maxLength": 2000},
                "priority": {"enum": list(PRIORITIES), "default": "normal"},
                "request_id": {"type": "string", "maxLength": 64, "description":
                               "客户端生成的请求号，重复提交返回 409 / client-made id; a "
                               "resubmission is a 409"},
                "requested_by": {"type": "string", "maxLength": 64,
                                 "description": "缺省为登录者 / defaults to the login"},
                "unit": {"type": "string", "maxLength": 64,
                         "description": "房号，须为本小区房屋 / a unit code of the site"}}},
        "WorkOrderAction": {
            "type": "object", "additionalProperties": False,
            "description": "操作人与角色由登录身份决定（by、role 字段会被拒绝）/ who acts and "
                           "in which role come from the login (a by or role field is refused)",
            "properties": {
                "note": {"type": "string", "maxLength": 2000},
                "assignee_ids": {"type": "array", "items": {"type": "integer"},
                                 "description": "assign / transfer"},
                "technician_id": {"type": "integer", "description": "grab, log_work"},
                "rating": {"type": "integer", "minimum": 1, "maximum": 5,
                           "description": "rate"},
                "hours": _DEC, "rate": _DEC, "part": {"type": "string"}, "qty": _DEC,
                "unit_price": _DEC}},
        "Technician": tech,
        "TechnicianList": {"type": "object", "properties": {
            "technicians": {"type": "array", "items": _ref("Technician")}}},
    }


def _workorder_paths() -> dict[str, Any]:
    bad = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
    missing = _err("工单不存在 / unknown work order")
    conflict = _err("当前状态不允许此操作；error.state 为当前状态，error.allowed 为可执行的操作 "
                    "/ not allowed in the current state; error.state is the state, "
                    "error.allowed the actions allowed from it")
    actions = "; ".join(f"{t.action}: {', '.join(t.sources)} → {t.target or '='}"
                        for t in TRANSITIONS.values())
    return {
        "/api/workorders": {
            "get": {
                "summary": "工单列表（新开的在前）/ work orders, newest first",
                "description": _OPEN_NOTE,
                "parameters": [
                    _q("state", {"type": "string"}, "状态，可逗号分隔 / state(s)"),
                    _q("site", {"type": "string"}, "小区标识 / site slug"),
                    _q("unit", {"type": "string", "maxLength": 64}, "房号 / unit code"),
                    _q("assignee", {"type": "integer"}, "技工 id / technician id"),
                    _q("overdue", {"type": "integer", "enum": [0, 1]},
                       "1：只看超时未响应或未完成的 / 1: only orders past a deadline"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                 "default": 100}, "最多条数 / at most this many")],
                "responses": {"200": _ok("WorkOrderList", "工单 / work orders"), "400": bad}},
            "post": {
                "summary": "报修（员工或业主）/ a repair request from staff or an owner",
                "requestBody": _body("WorkOrderRequest"),
                "responses": {"201": _ok("WorkOrderDetail", "新工单 / the new order"),
                              "400": bad, "404": _err("小区不存在 / unknown site"),
                              "409": _err("重复提交 / duplicate request_id")}}},
        "/api/workorders/{id}": {"get": {
            "summary": "单个工单，含处理记录、工时备件与费用 / one order with history, labour, "
                       "parts and cost",
            "parameters": [_WO_ID_P],
            "responses": {"200": _ok("WorkOrderDetail", "工单 / work order"),
                          "404": missing}}},
        "/api/workorders/{id}/{action}": {"post": {
            "summary": "对工单执行操作 / act on a work order",
            "description": f"操作与状态转换 / actions: {actions}",
            "parameters": [_WO_ID_P, _p("action", "操作名 / action name")],
            "requestBody": _body("WorkOrderAction"),
            "responses": {"200": _ok("WorkOrderDetail", "操作后的工单 / the order after"),
                          "400": bad, "403": _err(
                              "登录身份不能执行此操作（角色或与工单的关系不符）/ your login may "
                              "not do this action (its role or its relation to the order)"),
                          "404": missing, "409": conflict}}},
        "/api/technicians": {
            "get": {"summary": "技工 / technicians",
                    "responses": {"200": _ok("TechnicianList", "技工 / technicians")}},
            "post": {"summary": "新增技工 / add a technician",
                     "requestBody": _body("Technician"),
                     "responses": {"201": _ok("Technician", "技工 / technician"),
                                   "400": bad, "404": _err("小区不存在 / unknown site"),
                                   "409": _err("重名 / name taken")}}},
    }


SCHEMAS |= _workorder_schemas()
PATHS |= _workorder_paths()


# --- work order photos -------------------------------------------------------------------------

_PHOTO = {"type": "object", "properties": {
    "id": {"type": "integer"}, "work_order_id": {"type": "integer"},
    "by": {"type": "string"}, "note": {"type": ["string", "null"]},
    "uploaded_at": _TIME, "uploaded_at_local": _LOCAL,
    "width": {"type": "integer", "maximum": 1600}, "height": {"type": "integer",
                                                               "maximum": 1600},
    "bytes": {"type": "integer", "description": "存储的 JPEG 大小 / stored JPEG size"},
    "sha256": {"type": "string", "description": "上传原文件的 SHA-256 / of the bytes uploaded"},
    "source_type": {"enum": ["image/jpeg", "image/png"]}, "source_bytes": {"type": "integer"},
    "url": {"type": "string"}, "thumb_url": {"type": "string"},
    "created": {"type": "boolean", "description": "仅上传响应：false 表示同一照片已存在 / upload "
                                                  "only: false when the same photo was there"}}}
SCHEMAS |= {"WorkOrderPhoto": _PHOTO,
            "WorkOrderPhotoList": {"type": "object", "properties": {
                "photos": {"type": "array", "items": _ref("WorkOrderPhoto")}}}}
_NO_ORDER = _err("工单不存在 / unknown work order")
PATHS |= {
    "/api/workorders/{id}/photos": {
        "get": {"summary": "工单照片（不含图片数据）/ an order's photos, metadata only",
                "parameters": [_WO_ID_P],
                "responses": {"200": _ok("WorkOrderPhotoList", "照片 / photos"),
                              "404": _NO_ORDER}},
        "post": {
            "summary": "上传现场照片 / add a photo to a work order",
            "description": "请求体为图片本身（JPEG 或 PNG，≤ 8 MB）；保存为最长边 "
                           "≤ 1600 px 的 JPEG 并生成 320 px 缩略图，记入工单处理记录"
                           "（action=photo）。同一工单重复上传同一文件返回 200 与已有照片（幂等）。"
                           "工单关闭或取消前均可上传。 / The "
                           "body is the image itself (JPEG or PNG, at most 8 MB); stored as a "
                           "JPEG at most 1600 px on its longest side plus a 320 px thumbnail, "
                           "and noted in the order's history (action=photo). The same file "
                           "sent again to the same order answers 200 with the stored photo "
                           "(idempotent). Photos are accepted until the order is closed or "
                           "cancelled.",
            "parameters": [_WO_ID_P,
                           _q("note", {"type": "string", "maxLength": 2000},
                              "说明 / a note")],
            "requestBody": {"required": True, "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "201": _ok("WorkOrderPhoto", "已保存 / stored"),
                "200": _ok("WorkOrderPhoto", "同一照片已存在 / already stored"),
                "400": _err("带了 by，或请求体不是可解码的 JPEG/PNG（field=body）/ a by was "
                            "sent, or the body is not a decodable JPEG/PNG (field=body)"),
                "404": _NO_ORDER,
                "409": _err("工单已关闭或取消 / the order is closed or cancelled"),
                "413": _err("图片超过 8 MB / the image is over 8 MB"),
                "415": _err("Content-Type 须为 image/jpeg 或 image/png / Content-Type must "
                            "be image/jpeg or image/png")}}},
    "/api/workorders/{id}/photos/{pid}": {"get": {
        "summary": "照片（JPEG）/ the photo as JPEG",
        "description": "照片内容不变，可长期缓存（ETag、Cache-Control: immutable）/ a photo "
                       "never changes: cache it (ETag, Cache-Control: immutable)",
        "parameters": [_WO_ID_P, _p("pid", "照片 id / photo id"),
                       _q("thumb", {"type": "integer", "enum": [0, 1], "default": 0},
                          "1：320 px 缩略图 / 1: the 320 px thumbnail")],
        "responses": {
            "200": {"description": "JPEG", "content": {"image/jpeg": {
                "schema": {"type": "string", "format": "binary"}}}},
            "304": {"description": "未修改 / not modified (If-None-Match)"},
            "400": _err("参数无效 / invalid parameter"),
            "404": _err("工单或照片不存在 / unknown order or photo")}}},
}

# --- pages ---------------------------------------------------------------------------------

PATHS |= {
    "/workorders/tech": _page("技工工单列表 / a technician's work orders (HTML; ?tech=<id>)"),
    "/workorders/board": _page("主管工单看板 / the supervisor's work-order board (HTML; ?site=)"),
    "/workorders/static/{name}": _assets(
        "工单页面的脚本与样式 / the work-order pages' scripts and styles"),
}
