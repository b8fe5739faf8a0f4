"""OpenAPI: Alarms and their live feed."""

from __future__ import annotations

from typing import Any

from cloud.web.openapi import (
    _LOCAL,
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

# --- alarms ------------------------------------------------------------------------------------

_SEVERITY = {"enum": ["critical", "major", "minor"]}
_ALARM_STATE = {"enum": ["open", "acknowledged", "in_progress", "resolved", "false_alarm"]}
_ALARM_ID_P = _p("id", "告警 id / alarm id")


def _alarm_schemas() -> dict[str, Any]:
    times = {name: _TIME for name in ("first_ts", "last_ts", "opened_at", "acknowledged_at",
                                      "resolved_at", "restored_at")}
    local = {f"{name}_local": _LOCAL for name in times}
    alarm = {"type": "object", "properties": {
        "id": {"type": "integer"}, "site": {"type": "string"},
        "incident": {"type": "integer", "description":
                     "所属事件的 id（其第一条告警的 id）：同一小区、同一设备、同类、"
                     "时间相连的告警为一个事件 / the incident's id (its first alarm's id): "
                     "alarms of one site, device and kind, each within 30 min of the latest "
                     "before it"},
        "kind": {"type": "string", "examples": ["fire.alarm", "elevator.trapped"]},
        "severity": _SEVERITY, "state": _ALARM_STATE,
        "title": {"type": "object", "properties": {"zh": {"type": "string"},
                                                   "en": {"type": "string"}}},
        "location": {"type": ["object", "null"], "description":
                     "{building, floor, area}（可缺项）/ the place, fields may be missing"},
        "location_text": {"type": "string"},
        "device": {"type": "string"},
        "count": {"type": "integer", "description": "同一状况合并的次数 / repeats folded in"},
        **times, **local,
        "acknowledged_by": {"type": ["string", "null"]},
        "resolved_by": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"], "description": "最近的处理说明 / latest note"},
        "escalated": {"type": "boolean"},
        "escalation_level": {"type": "integer", "description":
                             "已通知到升级链的第几级（0 为保安）/ how far up the chain of roles "
                             "(0 = guards)"},
        "event_uuid": {"type": "string", "description": "开启告警的事件 / the event that "
                                                        "opened it"},
        "evidence": {"type": "object", "description": "事件数据中的要点（描述、部件、楼层、抓拍"
                                                      "引用）/ event data a guard needs"}}}
    step = {"type": "object", "properties": {
        "action": {"enum": ["opened", "acknowledge", "start", "resolve", "false_alarm",
                            "escalated", "restored"]},
        "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
        "by": {"type": ["string", "null"]}, "at": _TIME, "at_local": _LOCAL,
        "note": {"type": ["string", "null"]},
        "role": {"type": ["string", "null"], "description": "升级通知的角色 / role notified"},
        "level": {"type": ["integer", "null"]}}}
    linkage = {"type": "object", "properties": {
        "kind": {"enum": ["linkage.triggered", "linkage.action"]},
        "device": {"type": "string"}, "ts": _TIME, "ts_local": _LOCAL,
        "action": {"type": ["string", "null"]}, "target": {"type": ["string", "null"]},
        "result": {"type": ["string", "null"], "examples": ["ok", "failed", "noop", "refused"]},
        "detail": {}, "cause_event": {"type": "string"}, "seq": {"type": "integer"}}}
    return {
        "Alarm": alarm,
        "AlarmList": {"type": "object", "properties": {
            "alarms": {"type": "array", "items": _ref("Alarm")},
            "next": {"type": ["string", "null"],
                     "description": "作为 after 取下一页；null 表示没有了 / pass as after for "
                                    "the next page; null: no more"}}},
        "AlarmStep": step,
        "AlarmLinkage": linkage,
        "AlarmDetail": {"allOf": [_ref("Alarm"), {"type": "object", "properties": {
            "history": {"type": "array", "items": _ref("AlarmStep")},
            "linkage": {"type": "array", "items": _ref("AlarmLinkage")}}}]},
        "AlarmAction": {"type": "object", "additionalProperties": False,
                        "description": "操作人即当前登录；请求中带 by 或 role 将被拒绝（400）/ "
                                       "who acts is the login; a body with by or role is "
                                       "refused (400)",
                        "properties": {
                            "note": {"type": "string", "maxLength": 2000,
                                     "description": "处理说明（误报必填）/ note (required to "
                                                    "mark a false alarm)"}}},
        "IncidentAction": {"type": "object", "additionalProperties": False, "properties": {
            "note": {"type": "string", "maxLength": 2000,
                     "description": "处理说明（误报必填）/ note (required for a false alarm)"},
            "alarms": {"type": "array", "items": {"type": "integer"}, "description":
                       "只处理这些成员（看板显示的）/ act on these members only (those the "
                       "board showed)"}}},
        "IncidentResult": {"type": "object", "properties": {
            "incident": {"type": "integer"}, "action": {"type": "string"},
            "acted": {"type": "array", "items": {"type": "integer"}},
            "skipped": {"type": "array", "items": {"type": "integer"}},
            "alarms": {"type": "array", "items": _ref("Alarm")}}},
        "LinkageState": {"type": "object", "properties": {"sites": {"type": "array", "items": {
            "type": "object", "properties": {
                "site": {"type": "string"}, "name": {"type": "string"},
                "timezone": {"type": "string"},
                "state": {"enum": ["none", "active", "reset"]},
                "incident": {"type": "string"}, "since": _TIME, "reported": _TIME,
                "reset": _TIME, "reset_by": {"type": ["string", "null"]},
                "actions": {"type": "array", "items": {"type": "object"}},
                "undone": {"type": "array", "items": {"type": "object"}}}}}}},
    }


def _alarm_paths() -> dict[str, Any]:
    bad = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
    missing = _err("告警不存在 / unknown alarm")
    conflict = _err("当前状态不允许此操作；error.state 为当前状态，error.allowed 为可执行的操作 "
                    "/ not allowed in the current state; error.state is the state, "
                    "error.allowed the actions allowed from it")
    out: dict[str, Any] = {
        "/api/alarms": {"get": {
            "summary": "告警列表（新开的在前）/ alarms, newest first",
            "description": _OPEN_NOTE,
            "parameters": [
                _q("state", {"type": "string"}, "状态，可逗号分隔或重复 / state(s), comma-"
                   "separated or repeated: open, acknowledged, in_progress, resolved, "
                   "false_alarm"),
                _q("site", {"type": "string"}, "小区标识 / site slug"),
                _q("since", {"type": "string", "format": "date-time"},
                   "此时间（含）后有新事件或有变化的告警，须带时区偏移 / alarms with an event or "
                   "a change at or after this time, with UTC offset"),
                _q("severity", {"type": "string"}, "级别，可逗号分隔 / severity(ies): "
                   "critical, major, minor"),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                             "default": 100}, "最多条数 / at most this many"),
                _q("after", {"type": "string"},
                   "翻页游标（上一页的 next）/ cursor: the previous page's next")],
            "responses": {"200": _ok("AlarmList", "告警 / alarms"), "400": bad}}},
        "/api/alarms/live": {"get": {
            "summary": "实时告警（WebSocket）/ live alarms (WebSocket)",
            "description": "先发送 {\"type\":\"snapshot\",\"alarms\":[全部未关闭告警]}，之后每次"
                           "新建或变化发送 {\"type\":\"alarm\",\"alarm\":{…}}，并定时发送 "
                           "{\"type\":\"ping\"}。处理过慢的连接以 1013 关闭，重连即可。/ First "
                           "{\"type\":\"snapshot\",\"alarms\":[every active alarm]}, then "
                           "{\"type\":\"alarm\",\"alarm\":{…}} on every create or change, and "
                           "{\"type\":\"ping\"} now and then. A client too slow to keep up is "
                           "closed with code 1013: reconnect.",
            "parameters": [_q("site", {"type": "string"},
                              "只接收该小区 / this site only")],
            "responses": {"101": {"description": "WebSocket"},
                          "400": bad}}},
        "/api/alarms/{id}": {"get": {
            "summary": "单个告警，含处理记录与联动 / one alarm with history and linkage",
            "parameters": [_ALARM_ID_P],
            "responses": {"200": _ok("AlarmDetail", "告警 / alarm"), "404": missing}}},
    }
    for segment, zh, en in (
            ("acknowledge", "确认", "acknowledge (open → acknowledged)"),
            ("start", "开始处理", "start (open or acknowledged → in_progress)"),
            ("resolve", "处理完毕", "resolve (open, acknowledged or in_progress → resolved)"),
            ("false-alarm", "误报", "false alarm (→ false_alarm; note required)")):
        out[f"/api/alarms/{{id}}/{segment}"] = {"post": {
            "summary": f"{zh} / {en}",
            "parameters": [_ALARM_ID_P], "requestBody": _body("AlarmAction"),
            "responses": {"200": _ok("Alarm", "操作后的告警 / the alarm after the action"),
                          "400": bad, "404": missing, "409": conflict}}}
        out[f"/api/incidents/{{id}}/{segment}"] = {"post": {
            "summary": f"{zh}（整个事件的每条告警）/ {en}, for every alarm of the incident",
            "parameters": [_p("id", "事件 id（告警的 incident）/ incident id (an alarm's "
                              "incident)")],
            "requestBody": _body("IncidentAction"),
            "responses": {"200": _ok("IncidentResult", "事件的全部告警 / the incident's alarms"),
                          "400": bad, "404": _err("事件不存在 / unknown incident"),
                          "409": conflict}}}
    out["/api/alarms/linkage"] = {"get": {
        "summary": "各小区边缘网关最近报告的消防联动状态 / what each site's edge last reported "
                   "about fire linkage",
        "parameters": [_q("site", {"type": "string"}, "小区标识 / site slug")],
        "responses": {"200": _ok("LinkageState", "联动状态 / linkage state"), "404": missing}}}
    return out


SCHEMAS["Error"]["properties"]["error"]["properties"] |= {
    "state": {"type": "string", "description": "告警当前状态（409）/ the alarm's state (409)"},
    "allowed": {"type": "array", "items": {"type": "string"},
                "description": "当前状态下可执行的操作（409）/ actions allowed now (409)"},
}
SCHEMAS |= _alarm_schemas()
PATHS |= _alarm_paths()

# --- pages ---------------------------------------------------------------------------------

PATHS |= {
    "/guard": _page("保安看板 / guard board (HTML; ?site=)"),
    "/guard/": _page("值班告警屏 / guard board (HTML)"),
    "/guard/static/{name}": _assets("告警屏的脚本与样式 / the guard board's scripts and styles"),
}
