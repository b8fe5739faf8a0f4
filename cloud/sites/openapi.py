"""OpenAPI: the home page, health, sites, devices, events and readings."""

from __future__ import annotations

from cloud.sites.device_family import FAMILIES
from cloud.web.openapi import (
    _DEC,
    _LOCAL,
    _TIME,
    PATHS,
    SCHEMAS,
    _assets,
    _err,
    _ok,
    _p,
    _page,
    _q,
    _ref,
)

SCHEMAS |= {
    "Site": {
        "type": "object",
        "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"},
            "timezone": {"type": "string"}, "online": {"type": "boolean"},
            "last_seen": _TIME, "last_seen_local": _LOCAL,
            "backlog": {"type": "object", "properties": {
                "acked_seq": {"type": "integer",
                              "description": "每个 ≤ 此序号的事件都已入库 / every seq ≤ this "
                                             "is committed"},
                "last_batch_at": _TIME, "last_batch_at_local": _LOCAL}},
        },
    },
    "SiteList": {"type": "object", "properties": {
        "sites": {"type": "array", "items": _ref("Site")}}},
    "Device": {
        "type": "object",
        "properties": {
            "key": {"type": "string"}, "kind": {"type": ["string", "null"]},
            "family": {"enum": list(FAMILIES), "description": "设备页的分组（由设备类型得出，"
                       "未知为 other）/ the device page's group, from kind (other when unknown)"},
            "profile": {"type": ["string", "null"]}, "unit": {"type": ["string", "null"]},
            "online": {"type": "boolean"}, "offline_reason": {"type": ["string", "null"]},
            "last_seen": _TIME, "last_seen_local": _LOCAL,
            "meter": {"type": ["object", "null"], "properties": {
                "last_values": {"type": "object", "additionalProperties": _DEC},
                "last_energy_kwh": _DEC, "last_water_m3": _DEC,
                "last_reading_at": _TIME, "last_reading_at_local": _LOCAL}},
        },
    },
    "DeviceList": {"type": "object", "properties": {
        "site": {"type": "string"}, "timezone": {"type": "string"},
        "devices": {"type": "array", "items": _ref("Device")},
        "edge": {"oneOf": [_ref("EdgeHealth"), {"type": "null"}],
                 "description": "边缘网关最近一次健康报告（从未上报为 null）/ the edge's latest "
                                "health report (null when it never sent one)"}}},
    "EdgeHealth": {"type": "object", "properties": {
        "reported_at": _TIME, "reported_at_local": _LOCAL,
        "edge_ts": {**_TIME, "description": "边缘网关自己的时钟 / the edge's own clock"},
        "outbox_depth": {"type": "integer", "description": "尚未确认的事件数 / events not yet "
                                                          "acknowledged by the console"},
        "oldest_age_s": {"type": ["number", "null"], "description": "最早未确认事件的时长（秒）"
                                                                    " / age of the oldest"},
        "devices": {"type": "object", "description": "按类别的在线数 / online and total per "
                                                     "family", "additionalProperties": {
            "type": "object", "properties": {"online": {"type": "integer"},
                                             "total": {"type": "integer"}}}},
        "patrol_receivers": {"type": ["object", "null"], "properties": {
            "heard": {"type": "integer"}, "total": {"type": "integer"}}},
        "stale": {"type": "boolean", "description": "超过 60 秒未上报或网关离线 / older than 60 s "
                                                    "or the site is offline"}}},
    "Event": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer"},
            "epoch": {"type": "string", "description": "发出该序号的边缘发件箱纪元 / the edge "
                                                       "outbox epoch that gave the seq"},
            "id": {"type": "string"},
            "ts": _TIME, "ts_local": _LOCAL, "device": {"type": "string"},
            "kind": {"type": "string"}, "priority": {"type": "integer"},
            "data": {"type": "object"}, "received_at": _TIME, "received_at_local": _LOCAL,
        },
    },
    "EventPage": {"type": "object", "properties": {
        "site": {"type": "string"}, "timezone": {"type": "string"},
        "events": {"type": "array", "items": _ref("Event")},
        "next_after_seq": {"type": ["integer", "null"],
                           "description": "下一页的 after_seq；为 null 表示暂无更多 / pass as "
                                          "after_seq for the next page; null when none is left"}}},
    "DeviceEvents": {"type": "object", "properties": {
        "site": {"type": "string"}, "device": {"type": "string"},
        "timezone": {"type": "string"}, "family": {"enum": list(FAMILIES)},
        "events": {"type": "array", "items": _ref("Event")}}},
    "Reading": {"type": "object", "properties": {
        "ts": _TIME, "ts_local": _LOCAL, "name": {"type": "string"}, "value": _DEC,
        "unit": {"type": ["string", "null"]}}},
    "ReadingList": {"type": "object", "properties": {
        "site": {"type": "string"}, "device": {"type": "string"},
        "timezone": {"type": "string"}, "since": _TIME, "until": _TIME,
        "names": {"type": ["array", "null"], "items": {"type": "string"}},
        "readings": {"type": "array", "items": _ref("Reading")},
        "truncated": {"type": "boolean",
                      "description": "超过 limit 被截断 / more readings than limit"}}},
    "Health": {"type": "object", "required": ["status", "db"], "properties": {
        "status": {"enum": ["ok", "degraded"]}, "now": _TIME,
        "pid": {"type": "integer", "description": "回答的控制台进程 / the console process "
                                                  "that answered (serve --workers N)"},
        "db": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        "broker": {"type": "object"},
        "ingest": {"type": "object", "properties": {
            "ok": {"type": "boolean"}, "connected": {"type": "boolean"},
            "counters": {"type": "object", "additionalProperties": {"type": "integer"}}}}},
        "additionalProperties": True},
}

PATHS |= {
    "/": _page("概览 / overview: each site's devices and readings (HTML); a role without "
               "devices.read is sent to its own home"),
    "/overview/static/{name}": _assets("概览页的脚本与样式 / the overview's script and style",
                                       security=[]),
    "/healthz": {"get": {
        "summary": "健康检查 / health: database, broker and ingest",
        "responses": {"200": _ok("Health", "一切正常 / all parts working"),
                      "503": _ok("Health", "有部件不可用 / some part is down")}}},
    "/api/sites": {"get": {
        "summary": "小区列表 / sites with online state and ack backlog",
        "responses": {"200": _ok("SiteList", "小区 / sites")}}},
    "/api/sites/{site}/devices": {"get": {
        "summary": "小区设备 / a site's devices with online state and last readings",
        "parameters": [_p("site", "小区标识 / site slug")],
        "responses": {"200": _ok("DeviceList", "设备 / devices"),
                      "404": _err("小区不存在 / unknown site")}}},
    "/api/sites/{site}/devices/{device}/events": {"get": {
        "summary": "设备最近的事件（新的在前）/ a device's newest events, newest first",
        "parameters": [
            _p("site", "小区标识 / site slug"),
            _p("device", "小区文件中的设备标识 / device id from the site file"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
               "条数 / how many"),
        ],
        "responses": {"200": _ok("DeviceEvents", "事件 / events"),
                      "400": _err("参数无效 / invalid parameter (field named)"),
                      "404": _err("小区或设备不存在 / unknown site or device")}}},
    "/devices": _page("设备 / devices by family with their state; a device's events and the "
                      "commands the login may send (HTML)"),
    "/devices/static/{name}": _assets("设备页的脚本与样式 / the device page's script and style",
                                      security=[]),
    "/api/sites/{site}/events": {"get": {
        "summary": "小区事件（按序号分页）/ a site's events, paged by seq",
        "parameters": [
            _p("site", "小区标识 / site slug"),
            _q("after_seq", {"type": "integer", "minimum": 0, "default": 0},
               "只返回序号大于此值的事件 / only events with a greater seq"),
            _q("kind", {"type": "string", "maxLength": 64},
               "事件类型，例如 meter.reading / event kind, e.g. meter.reading"),
            _q("epoch", {"type": "string", "maxLength": 64},
               "只看一个边缘发件箱纪元的事件（换过网关的小区每台一个）/ only one edge outbox "
               "epoch (a site that replaced its box has one per box)"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
               "每页条数 / page size"),
        ],
        "responses": {"200": _ok("EventPage", "事件 / events in seq order"),
                      "400": _err("参数无效 / invalid parameter (field named)"),
                      "404": _err("小区不存在 / unknown site")}}},
    "/api/devices/{device}/readings": {"get": {
        "summary": "设备读数 / a device's readings in a time window",
        "parameters": [
            _p("device", "小区文件中的设备标识 / device id from the site file"),
            _q("site", {"type": "string"},
               "多个小区有同名设备时必填 / required when several sites have this device"),
            _q("since", {"type": "string", "format": "date-time"},
               "起始（含），须带时区偏移；默认 until 前 24 小时 / inclusive start with UTC "
               "offset; default 24 h before until"),
            _q("until", {"type": "string", "format": "date-time"},
               "结束（不含），须带时区偏移；默认现在 / exclusive end with UTC offset; "
               "default now"),
            _q("name", {"type": "string"},
               "寄存器名，可重复或逗号分隔 / register name(s), repeated or comma-separated"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
               "最多条数 / at most this many readings"),
        ],
        "responses": {"200": _ok("ReadingList", "读数，时间升序 / readings, oldest first"),
                      "400": _err("参数无效 / invalid parameter (field named)"),
                      "404": _err("设备或小区不存在 / unknown device or site"),
                      "409": _err("设备标识不唯一 / device id used by several sites")}}},
}
