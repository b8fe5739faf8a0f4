"""OpenAPI paths and schemas: schedules and jobs."""

from __future__ import annotations

from typing import Any

from cloud.jobs.tables import JOB_STATES, SCHEDULE_KINDS
from cloud.web.openapi import PATHS, SCHEMAS, _assets, _err, _ok, _p, _q, _ref

_TIME = {"type": ["string", "null"], "format": "date-time"}
_BAD = _err("字段无效（error.field 指明，例如 spec.time）/ invalid field, named in error.field "
            "(e.g. spec.time)")
_MISSING = _err("不存在或不属于可见小区 / not found, or of a site you do not serve")
_DENIED = _err("无权限（清理计划仅管理员）/ not allowed for your role (purge: administrators "
               "only)")
_SITE = _q("site", {"type": "string", "maxLength": 63}, "小区标识 / site slug")
_SPEC = {"type": "object", "description": (
    "小区当地时间 / in the site's time zone — {time: \"HH:MM\"}; bill_run 另有 / also "
    "day_of_month (1–28) 与 cycle (monthly|quarterly|yearly)"),
    "properties": {"time": {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$"},
                   "day_of_month": {"type": "integer", "minimum": 1, "maximum": 28},
                   "cycle": {"enum": ["monthly", "quarterly", "yearly"]}}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


SCHEMAS.update({
    "Schedule": {"type": "object", "properties": {
        "id": {"type": "integer"}, "site": {"type": "string"},
        "kind": {"enum": list(SCHEDULE_KINDS)}, "enabled": {"type": "boolean"},
        "spec": _SPEC, "timezone": {"type": "string"}, "next_due": _TIME,
        "next_due_local": {"type": ["string", "null"]}, "last_slot": _TIME,
        "updated_by": {"type": "string"}, "updated_at": _TIME}},
    "ScheduleList": {"type": "object", "properties": {
        "schedules": {"type": "array", "items": _ref("Schedule")}}},
    "ScheduleCreate": {"type": "object", "required": ["site", "kind"],
                       "additionalProperties": False, "properties": {
                           "site": {"type": "string"}, "kind": {"enum": list(SCHEDULE_KINDS)},
                           "enabled": {"type": "boolean", "default": True}, "spec": _SPEC}},
    "ScheduleUpdate": {"type": "object", "additionalProperties": False, "properties": {
        "enabled": {"type": "boolean"}, "spec": _SPEC}},
    "Job": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"},
        "site": {"type": ["string", "null"]}, "key": {"type": "string"},
        "state": {"enum": list(JOB_STATES)}, "attempts": {"type": "integer"},
        "progress": {"type": ["object", "null"]}, "error": {"type": ["string", "null"]},
        "created_at": _TIME, "started_at": _TIME, "finished_at": _TIME}},
    "JobList": {"type": "object", "properties": {"jobs": {"type": "array",
                                                          "items": _ref("Job")}}},
})

PATHS.update({
    "/api/schedules": {
        "get": {"summary": "计划任务 / schedules of your sites", "parameters": [_SITE],
                "responses": {"200": _ok("ScheduleList", "计划任务 / schedules"),
                              "400": _BAD, "403": _DENIED, "404": _MISSING}},
        "post": {"summary": "新建计划任务 / create a site's schedule",
                 "requestBody": _body("ScheduleCreate"),
                 "responses": {"201": _ok("Schedule", "已创建 / created"), "400": _BAD,
                               "403": _DENIED, "404": _MISSING}}},
    "/api/schedules/{id}": {"put": {
        "summary": "修改计划任务（启用、时间）/ change a schedule (enabled, time)",
        "description": "下次执行时间从现在起按新设置计算 / the next slot is computed from now "
                       "with the new spec",
        "parameters": [_p("id", "计划 id / schedule id")], "requestBody": _body("ScheduleUpdate"),
        "responses": {"200": _ok("Schedule", "已保存 / saved"), "400": _BAD, "403": _DENIED,
                      "404": _MISSING}}},
    "/api/jobs": {"get": {
        "summary": "最近的后台任务（状态、进度、错误）/ recent jobs (state, progress, error)",
        "parameters": [_SITE, _q("kind", {"type": "string", "maxLength": 32}, "类型 / kind"),
                       _q("state", {"enum": list(JOB_STATES)}, "状态 / state"),
                       _q("limit", {"type": "integer", "minimum": 1, "maximum": 500,
                                    "default": 50}, "条数 / at most")],
        "responses": {"200": _ok("JobList", "任务 / jobs"), "400": _BAD, "403": _DENIED,
                      "404": _MISSING}}},
    "/schedules": {"get": {
        "summary": "计划任务页面 / the schedules page (HTML)",
        "responses": {"200": {"description": "HTML", "content": {"text/html": {}}},
                      "403": _DENIED}}},
    "/schedules/static/{name}": _assets("计划任务页面的脚本与样式 / the schedules page's "
                                        "scripts and styles"),
})
