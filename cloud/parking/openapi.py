"""OpenAPI: Parking records, sessions, charges and datasets."""

from __future__ import annotations

from typing import Any

from cloud.web.openapi import (
    _LOCAL,
    _MONEY,
    _OPEN_NOTE,
    _TIME,
    PATHS,
    SCHEMAS,
    _body,
    _err,
    _ok,
    _p,
    _q,
    _ref,
)

# --- parking -----------------------------------------------------------------------------------

_PLATE = {"type": "string", "maxLength": 16,
          "description": "车牌，按边缘端规则归一化（全角、分隔符、O→0、I→1）/ plate, normalised "
                         "the way the edge compares plates"}
_LOTS = {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
         "description": "可用车场 id；空列表表示全部车场 / lot ids; empty means every lot"}
_FORCE = {"type": "boolean", "default": False,
          "description": "登记格式校验不通过的车牌 / store a plate the format check refuses"}
_DAY = {"type": "string", "format": "date",
        "description": "小区当地日期，含当天 / site calendar date, inclusive"}
_STAMPS = {"created_at": _TIME, "created_at_local": _LOCAL,
           "updated_at": _TIME, "updated_at_local": _LOCAL}
_SITE_P = _p("site", "小区标识 / site slug")
_ID_P = _p("id", "记录 id / row id")
_LOT_P = _p("lot", "车场 id / lot id")
_WRITE_NOTE = ("每次修改在同一事务中把小区的停车数据集版本加一，提交后发布 down/sync。/ Every "
               "write adds one to the site's parking dataset version in its transaction and, "
               "after the commit, announces it on down/sync.")
# path segment, schema name, summary, input properties, required inputs
_PARKING_LISTS: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    ("vehicles", "ParkingVehicle", "登记车辆（业主、租户、员工）/ registered vehicles", {
        "plate": _PLATE, "holder": {"type": "string", "maxLength": 100},
        "unit": {"type": ["string", "null"], "maxLength": 64, "examples": ["1-101"]},
        "role": {"enum": ["owner", "tenant", "staff"], "default": "owner"},
        "lots": _LOTS, "force": _FORCE}, ["plate", "holder"]),
    ("spaces", "ParkingSpace", "车位 / parking spaces", {
        "code": {"type": "string", "maxLength": 32}, "lot": {"type": "string"},
        "kind": {"enum": ["owned", "rented", "public"]},
        "unit": {"type": ["string", "null"], "maxLength": 64},
        "plate": {**_PLATE, "type": ["string", "null"]}, "force": _FORCE},
     ["code", "lot", "kind"]),
    ("passes", "MonthlyPass", "月卡 / monthly passes", {
        "plate": _PLATE, "holder": {"type": ["string", "null"], "maxLength": 100},
        "lots": _LOTS, "valid_from": _DAY, "valid_to": _DAY,
        "grace_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 0},
        "remind_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 7},
        "force": _FORCE}, ["plate", "valid_from", "valid_to"]),
    ("visitors", "VisitorPass", "访客车辆 / visitor passes", {
        "plate": _PLATE, "host_unit": {"type": ["string", "null"], "maxLength": 64},
        "start": {"type": "string", "format": "date-time",
                  "description": "须带时区偏移 / with UTC offset"},
        "end": {"type": "string", "format": "date-time",
                "description": "须晚于 start / after start"},
        "force": _FORCE}, ["plate", "start", "end"]),
    ("blacklist", "BlacklistEntry", "黑名单 / blacklist", {
        "plate": _PLATE, "reason": {"type": "string", "maxLength": 200}, "force": _FORCE},
     ["plate", "reason"]),
]


def _parking_schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, title, _, props, required in _PARKING_LISTS:
        shown = {k: v for k, v in props.items() if k != "force"}
        if name == "visitors":
            shown |= {"start_local": _LOCAL, "end_local": _LOCAL}
        out[f"{title}Input"] = {"type": "object", "required": required, "properties": props,
                                "additionalProperties": False}
        out[title] = {"type": "object", "properties": {
            "id": {"type": "integer"}, **shown,
            "plate_valid": {"type": "boolean",
                            "description": "车牌格式是否有效 / plate passes the format check"},
            **_STAMPS,
            "version": {"type": "integer",
                        "description": "修改后的数据集版本（仅写操作）/ dataset version after a "
                                       "write"}}}
        out[f"{title}List"] = {"type": "object", "properties": {
            "site": {"type": "string"}, "timezone": {"type": "string"},
            "version": {"type": "integer"}, name: {"type": "array", "items": _ref(title)},
            "next_after_id": {"type": ["integer", "null"],
                              "description": "下一页的 after_id / after_id of the next page"}}}
    out |= {
        "Deleted": {"type": "object", "properties": {
            "deleted": {"type": ["integer", "string"]}, "version": {"type": "integer"}}},
        "Tariff": {"type": "object", "description":
                   "收费标准，与 configs/tariffs/*.yaml 相同的结构；金额用字符串或整数 / a "
                   "tariff, as in configs/tariffs/*.yaml; money as strings or integers",
                   "additionalProperties": True},
        "LotTariff": {"type": "object", "properties": {
            "lot": {"type": "string"}, "tariff": _ref("Tariff"), **_STAMPS,
            "version": {"type": "integer"}}},
        "LotTariffList": {"type": "object", "properties": {
            "site": {"type": "string"}, "timezone": {"type": "string"},
            "version": {"type": "integer"},
            "tariffs": {"type": "array", "items": _ref("LotTariff")}}},
        "ParkingSession": {"type": "object", "properties": {
            "id": {"type": "integer"}, "session": {"type": "string"},
            "lot": {"type": "string"}, "plate": {"type": "string"},
            "category": {"type": "string"}, "state": {"enum": ["inside", "closed"]},
            "entry_ts": _TIME, "entry_ts_local": _LOCAL, "exit_ts": _TIME,
            "exit_ts_local": _LOCAL, "entry_lane": {"type": ["string", "null"]},
            "exit_lane": {"type": ["string", "null"]}, "minutes": {"type": ["integer", "null"]},
            "fee": _MONEY, "paid": _MONEY, "anomalies": {"type": "array"}}},
        "ParkingSessionPage": {"type": "object", "properties": {
            "site": {"type": "string"}, "timezone": {"type": "string"},
            "sessions": {"type": "array", "items": _ref("ParkingSession")},
            "next_before_id": {"type": ["integer", "null"]}}},
        "Charge": {"type": "object", "properties": {
            "id": {"type": "integer"}, "source": {"type": "string"},
            "session": {"type": "string"}, "event_id": {"type": "integer"},
            "plate": {"type": ["string", "null"]}, "amount": _MONEY, "paid": _MONEY,
            "recheck": {"type": ["object", "null"],
                        "description": "云端复算与边缘收费不一致时的说明 / set when the cloud's "
                                       "recomputation differs from the edge's fee"},
            "created_at": _TIME, "created_at_local": _LOCAL}},
        "ChargePage": {"type": "object", "properties": {
            "site": {"type": "string"}, "timezone": {"type": "string"},
            "charges": {"type": "array", "items": _ref("Charge")},
            "next_before_id": {"type": ["integer", "null"]}}},
        "PlateRead": {"type": "object", "properties": {
            "seq": {"type": "integer"}, "id": {"type": "string"}, "ts": _TIME,
            "ts_local": _LOCAL, "plate": {"type": ["string", "null"]},
            "plate_raw": {"type": ["string", "null"]},
            "direction": {"type": ["string", "null"]},
            "confidence": {"type": ["number", "null"]}, "colour": {"type": ["string", "null"]},
            "offline": {"type": "boolean"}, "vendor": {"type": ["string", "null"]},
            "evidence_url": {"type": ["string", "null"]},
            "crop_url": {"type": ["string", "null"]}}},
        "LaneView": {"type": "object", "properties": {
            "site": {"type": "string"}, "timezone": {"type": "string"},
            "lanes": {"type": "array", "items": {"type": "object", "properties": {
                "camera": {"type": "string"},
                "reads": {"type": "array", "items": _ref("PlateRead")}}}}}},
        "ParkingDataset": {"type": "object", "required": ["version"], "properties": {
            "version": {"type": "integer", "minimum": 0},
            "vehicles": {"type": "array"}, "passes": {"type": "array"},
            "visitors": {"type": "array"}, "blacklist": {"type": "array"},
            "spaces": {"type": "array"},
            "tariffs": {"type": "object", "additionalProperties": _ref("Tariff")}},
            "description": "edge.parking.datasets.parse_dataset 读取的文档 / the document "
                           "edge.parking.datasets.parse_dataset reads"},
    }
    return out


def _parking_paths() -> dict[str, Any]:
    base = "/api/sites/{site}/parking"
    bad = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
    no_site = _err("小区不存在 / unknown site")
    out: dict[str, Any] = {}
    for name, title, zh, _, _ in _PARKING_LISTS:
        missing = _err("小区或记录不存在 / unknown site or row")
        dup = _err("车牌（或车位编号）已存在，error.existing_id 为已有记录 / duplicate plate "
                   "(or space code); error.existing_id is the existing row")
        out[f"{base}/{name}"] = {
            "get": {"summary": f"{zh}：列表 / list", "description": _OPEN_NOTE,
                    "parameters": [
                        _SITE_P, _q("plate", {"type": "string"}, "按车牌过滤 / only this plate"),
                        _q("after_id", {"type": "integer", "minimum": 0, "default": 0},
                           "只返回 id 大于此值的记录 / rows with a greater id"),
                        _q("limit", {"type": "integer", "minimum": 1, "maximum": 10000,
                                     "default": 1000}, "每页条数 / page size")],
                    "responses": {"200": _ok(f"{title}List", zh), "400": bad,
                                  "404": no_site}},
            "post": {"summary": f"{zh}：新增 / create", "description": _WRITE_NOTE,
                     "parameters": [_SITE_P], "requestBody": _body(f"{title}Input"),
                     "responses": {"201": _ok(title, "已创建 / created"), "400": bad,
                                   "404": no_site, "409": dup}},
        }
        out[f"{base}/{name}/{{id}}"] = {
            "get": {"summary": f"{zh}：单条 / one row", "parameters": [_SITE_P, _ID_P],
                    "responses": {"200": _ok(title, zh), "404": missing}},
            "put": {"summary": f"{zh}：整条替换 / replace", "description": _WRITE_NOTE,
                    "parameters": [_SITE_P, _ID_P], "requestBody": _body(f"{title}Input"),
                    "responses": {"200": _ok(title, "已更新 / updated"), "400": bad,
                                  "404": missing, "409": dup}},
            "delete": {"summary": f"{zh}：删除 / delete", "description": _WRITE_NOTE,
                       "parameters": [_SITE_P, _ID_P],
                       "responses": {"200": _ok("Deleted", "已删除 / deleted"),
                                     "404": missing}},
        }
    tariff_bad = _err("收费标准有误：error.problems 列出每一处（field、message、fix）/ invalid "
                      "tariff: error.problems lists each (field, message, fix)")
    out[f"{base}/tariffs"] = {"get": {
        "summary": "各车场收费标准 / every lot's tariff", "parameters": [_SITE_P],
        "responses": {"200": _ok("LotTariffList", "收费标准 / tariffs"), "404": no_site}}}
    out[f"{base}/tariffs/{{lot}}"] = {
        "get": {"summary": "车场收费标准 / a lot's tariff", "parameters": [_SITE_P, _LOT_P],
                "responses": {"200": _ok("LotTariff", "收费标准 / tariff"),
                              "404": _err("没有该车场的收费标准 / no tariff for this lot")}},
        "put": {"summary": "设置车场收费标准 / set a lot's tariff",
                "description": "用边缘端同一套代码校验，按 Tariff.to_dict() 保存；带小数的 JSON "
                               "数字按精确十进制读取。/ Checked by the edge's own code and "
                               "stored as Tariff.to_dict(); JSON numbers with a fraction are "
                               "read as exact decimals. " + _WRITE_NOTE,
                "parameters": [_SITE_P, _LOT_P], "requestBody": _body("Tariff"),
                "responses": {"200": _ok("LotTariff", "已更新 / replaced"),
                              "201": _ok("LotTariff", "已创建 / created"), "400": tariff_bad,
                              "404": no_site}},
        "delete": {"summary": "删除车场收费标准 / remove a lot's tariff",
                   "description": _WRITE_NOTE, "parameters": [_SITE_P, _LOT_P],
                   "responses": {"200": _ok("Deleted", "已删除 / deleted"),
                                 "404": _err("没有该车场的收费标准 / no tariff for this lot")}},
    }
    since = _q("since", {"type": "string", "format": "date-time"},
               "须带时区偏移 / with UTC offset")
    page = [_q("before_id", {"type": "integer", "minimum": 1},
               "只返回 id 小于此值的记录（翻页）/ rows with a smaller id (next page)"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
               "每页条数 / page size")]
    out[f"{base}/sessions"] = {"get": {
        "summary": "停车记录（新的在前）/ parking stays, newest first",
        "parameters": [_SITE_P, _q("state", {"enum": ["inside", "closed"]},
                                   "在场或已离场 / inside or closed"),
                       _q("plate", {"type": "string"}, "车牌 / plate"),
                       {**since, "description": "此时间后入场或离场 / entered or left since; "
                                                "with UTC offset"}, *page],
        "responses": {"200": _ok("ParkingSessionPage", "停车记录 / stays"), "400": bad,
                      "404": no_site}}}
    out[f"{base}/charges"] = {"get": {
        "summary": "停车收费（新的在前）/ parking charges, newest first",
        "parameters": [_SITE_P, _q("plate", {"type": "string"}, "车牌 / plate"),
                       {**since, "description": "此时间后记账 / recorded since; with UTC "
                                                "offset"}, *page],
        "responses": {"200": _ok("ChargePage", "收费 / charges"), "400": bad,
                      "404": no_site}}}
    out[f"{base}/lanes"] = {"get": {
        "summary": "车道：每个相机最近的车牌识别 / lanes: each camera's last plate reads",
        "parameters": [_SITE_P,
                       _q("limit", {"type": "integer", "minimum": 1, "maximum": 50,
                                    "default": 5}, "每个相机条数 / reads per camera"),
                       _q("camera", {"type": "string"},
                          "相机设备 id，可重复或逗号分隔 / camera id(s), repeated or "
                          "comma-separated")],
        "responses": {"200": _ok("LaneView", "车道 / lanes"), "400": bad, "404": no_site}}}
    jpeg = {"description": "JPEG", "content": {"image/jpeg": {}}}
    for which, zh in (("evidence", "证据图 / evidence snapshot"),
                      ("crop", "车牌小图 / plate crop")):
        out[f"{base}/reads/{{seq}}/{which}.jpg"] = {"get": {
            "summary": f"车牌识别的{zh}",
            "parameters": [_SITE_P, _p("seq", "plate.read 事件的序号（见 lanes）/ the seq of "
                                              "the plate.read event (see lanes)"),
                           {"name": "epoch", "in": "query", "required": False,
                            "schema": {"type": "string", "maxLength": 64},
                            "description": "该序号所属的边缘发件箱纪元（lanes 给出的链接已带上；"
                                           "缺省取最新的）/ the edge outbox epoch of the seq "
                                           "(lanes links carry it; default: the newest)"}],
            "responses": {"200": jpeg, "400": bad,
                          "404": _err("没有该识别记录或没有图片 / no such read, or no image")}}}
    out[f"{base}/dataset"] = {"get": {
        "summary": "边缘端拉取的停车数据集 / the parking dataset the edge pulls",
        "description": "HTTP Basic：用户名为小区标识，密码为 COURTYARD_SITE_CREDENTIALS 中的小区"
                       "密码（与 MQTT 相同）。ETag 为 \"parking-<version>\"；If-None-Match "
                       "相同则返回 304。/ HTTP Basic with the site slug and its site secret "
                       "from COURTYARD_SITE_CREDENTIALS (the MQTT credential). ETag is "
                       "\"parking-<version>\"; a matching If-None-Match gets 304.",
        "security": [{"siteBasic": []}],
        "parameters": [_SITE_P,
                       {"name": "If-None-Match", "in": "header", "required": False,
                        "schema": {"type": "string"},
                        "description": "已有版本的 ETag / the ETag of the version held"}],
        "responses": {"200": _ok("ParkingDataset", "数据集 / the dataset"),
                      "304": {"description": "未变化 / unchanged"},
                      "401": _err("凭据缺失或错误（带 WWW-Authenticate）/ missing or wrong "
                                  "credential (with WWW-Authenticate)"),
                      "403": _err("小区未配置凭据：COURTYARD_SITE_CREDENTIALS 须包含它 / the "
                                  "site has no credential: COURTYARD_SITE_CREDENTIALS must "
                                  "name it")}}}
    return out


SCHEMAS |= _parking_schemas()
PATHS |= _parking_paths()
