"""OpenAPI: the property register (companies, buildings, units, owners, tenants, vehicles,
spaces, billing meters), its history, imports and exports.

Generated from the same resource descriptions the handlers use (``cloud.records.kinds``), so
a field documented here is exactly a field the API accepts.
"""

from __future__ import annotations

from typing import Any

from cloud.records.fields import MAX_INT, Field
from cloud.records.import_kinds import IMPORT_KINDS
from cloud.records.kinds import KINDS, METERS, Kind
from cloud.records.service import REPLACE_FIELDS
from cloud.web.openapi import (
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

_DECIMAL_IN = {"type": ["string", "number"], "description": "十进制数（建议用字符串）/ a "
               "decimal number (a string keeps it exact)"}
_DECIMAL_OUT = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"}
_ID_P = _p("id", "记录 id / record id")
_PAGING = [
    _q("after_id", {"type": "integer", "minimum": 0, "maximum": MAX_INT, "default": 0},
       "只返回 id 更大的记录（上一页的 next_after_id）/ records with a greater id (the "
       "previous page's next_after_id)"),
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
       "每页条数 / page size"),
]
_ACCESS = ("权限：读 {read}，写 {write}；只显示可见小区的记录，其他小区的记录为 404。/ "
           "Permissions: read {read}, write {write}; only records of the actor's sites, "
           "another site's record is a 404.")
_PEOPLE = (" 姓名、电话、证件号、邮箱（车辆的车主）对没有 people.read 的角色打码（如 "
           "138****5678）；有此权限时每个响应写一条 view 审计记录。/ Names, phones, ID numbers "
           "and e-mails (vehicle holders) are masked for roles without people.read (e.g. "
           "138****5678); with it, each response writes one view audit row.")
_PARKING = (" 车辆与车位即边缘端判定所用的停车记录：每次修改使小区停车数据集版本加一并下发。/ "
            "Vehicles and spaces are the parking records the edge decides from: each change "
            "bumps the site's parking dataset version and announces it.")


def _field_schema(f: Field, *, input_: bool) -> dict[str, Any]:
    desc = f"{f.zh} / {f.en}" + (f"（{f.note}）" if f.note else "")
    k = f.kind
    schema: dict[str, Any]
    if k in ("text", "phone", "email", "lot"):
        schema = {"type": "string", "maxLength": f.max_len}
    elif k == "plate":
        schema = {"type": "string", "maxLength": 16}
    elif k == "int":
        schema = {"type": "integer", "minimum": int(f.lo) if f.lo is not None else -MAX_INT,
                  "maximum": MAX_INT}
    elif k in ("area", "quantity"):
        schema = dict(_DECIMAL_IN) if input_ else dict(_DECIMAL_OUT)
    elif k == "date":
        schema = {"type": "string", "format": "date"}
    elif k == "moment":
        schema = {"type": "string", "description": "ISO 8601 时间或日期（小区时区零点）/ an "
                  "ISO 8601 time, or a date (midnight in the site's time zone)"} if input_ \
            else {"type": "string", "format": "date-time"}
    elif k == "choice":
        schema = {"type": "string", "enum": list(f.choices) + (
            list(f.choices.values()) if input_ else [])}
    elif k == "lots":
        schema = {"type": "array", "items": {"type": "string"}, "maxItems": 32}
    else:  # pragma: no cover - every kind is listed
        raise AssertionError(k)
    if not f.required or not input_:
        if isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
        elif isinstance(schema.get("type"), list):
            schema["type"] = [*schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    schema.setdefault("description", desc)
    if f.example and input_:
        schema["examples"] = [f.example]
    return schema


def _title(kind: Kind) -> str:
    """``RecordUnit`` …: prefixed, so no other module's schema of the same name clashes."""
    return "Record" + ("Company" if kind.name == "companies" else kind.name[:-1].capitalize())


def _schemas(kind: Kind) -> dict[str, Any]:
    t = _title(kind)
    props_in = {f.key: _field_schema(f, input_=True) for f in kind.fields}
    props_out: dict[str, Any] = {"id": {"type": "integer"}}
    if kind.site_scoped:
        props_in = {"site": {"type": "string", "description": "小区标识 / site slug"},
                    **props_in}
        props_out["site"] = {"type": "string"}
    props_out |= {f.key: _field_schema(f, input_=False) for f in kind.fields}
    for f in kind.fields:
        if f.kind == "moment":
            props_out[f"{f.key}_local"] = _LOCAL
    for name in kind.fixed:
        props_out[name] = {"type": "string"}
    if kind is METERS:
        props_out |= {"removed_at": _TIME, "removed_at_local": _LOCAL,
                      "final_reading": _DECIMAL_OUT,
                      "replaces_id": {"type": ["integer", "null"]},
                      "active": {"type": "boolean"}}
    if kind.parking:
        props_out["version"] = {"type": ["integer", "null"],
                                "description": "写入后停车数据集版本 / parking dataset "
                                               "version after a write"}
    if kind.name == "companies":
        props_out["sites"] = {"type": "array", "items": {"type": "string"}}
    props_out |= {"created_at": _TIME, "created_at_local": _LOCAL,
                  "updated_at": _TIME, "updated_at_local": _LOCAL}
    required = (["site"] if kind.site_scoped else []) + [f.key for f in kind.fields
                                                         if f.required]
    return {
        t: {"type": "object", "properties": props_out},
        f"{t}Input": {"type": "object", "additionalProperties": False,
                      "required": required, "properties": props_in},
        f"{t}Patch": {"type": "object", "additionalProperties": False,
                      "properties": props_in},
        f"{t}Page": {"type": "object", "properties": {
            kind.name: {"type": "array", "items": _ref(t)},
            "next_after_id": {"type": ["integer", "null"],
                              "description": "下一页的 after_id；null 表示没有更多 / pass as "
                                             "after_id for the next page; null when done"}}},
    }


_FILTERS: dict[str, list[dict[str, Any]]] = {
    "units": [
        _q("building", {"type": "string", "maxLength": 32}, "楼栋编码 / building code"),
        _q("status", {"type": "string", "enum": ["unsold", "occupied", "rented", "vacant"]},
           "状态 / status"),
        _q("type", {"type": "string", "maxLength": 32}, "类型 / unit type"),
        _q("q", {"type": "string", "maxLength": 100}, "房号包含 / unit code contains")],
    "owners": [
        _q("unit", {"type": "string", "maxLength": 64}, "房号 / unit code"),
        _q("current", {"type": "string", "enum": ["0", "1", "true", "false"]},
           "1：未迁出 / 1: not moved out; 0: moved out"),
        _q("q", {"type": "string", "maxLength": 100},
           "房号包含；有 people.read 时也按姓名、电话 / unit code contains; with people.read "
           "also name or phone")],
    "vehicles": [
        _q("unit", {"type": "string", "maxLength": 64}, "房号 / unit code"),
        _q("q", {"type": "string", "maxLength": 100}, "车牌或房号包含 / plate or unit contains")],
    "spaces": [
        _q("unit", {"type": "string", "maxLength": 64}, "房号 / unit code"),
        _q("lot", {"type": "string", "maxLength": 64}, "车场 / lot"),
        _q("kind", {"type": "string", "enum": ["owned", "rented", "public"]}, "类别 / kind"),
        _q("q", {"type": "string", "maxLength": 100}, "车位号、车牌或房号包含 / code, plate "
           "or unit contains")],
    "meters": [
        _q("unit", {"type": "string", "maxLength": 64}, "房号 / unit code"),
        _q("building", {"type": "string", "maxLength": 32}, "楼栋编码 / building code"),
        _q("utility", {"type": "string", "enum": ["electricity", "water", "gas"]},
           "类型 / utility"),
        _q("device", {"type": "string", "maxLength": 128}, "采集设备 / edge device key"),
        _q("active", {"type": "string", "enum": ["0", "1", "true", "false"]},
           "1：在用；0：已拆除 / 1: in service; 0: removed"),
        _q("q", {"type": "string", "maxLength": 100}, "表号或设备包含 / code or device "
           "contains")],
    "buildings": [_q("q", {"type": "string", "maxLength": 100}, "编码或名称包含 / code or "
                     "name contains")],
    "companies": [_q("q", {"type": "string", "maxLength": 100}, "编码或名称包含 / code or "
                     "name contains")],
}
_FILTERS["tenants"] = _FILTERS["owners"]


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _paths(kind: Kind) -> dict[str, Any]:
    t = _title(kind)
    note = _ACCESS.format(read=kind.read_perm(), write=kind.write_perm())
    note += _PEOPLE if kind.personal else ""
    note += _PARKING if kind.parking else ""
    bad = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
    missing = _err(f"{kind.zh}不存在或不可见 / unknown or hidden {kind.en}")
    site_q = _q("site", {"type": "string", "maxLength": 63}, "小区标识 / site slug")
    base = f"/api/{kind.name}"
    item: dict[str, Any] = {
        "get": {"summary": f"{kind.zh} / one {kind.en}", "description": note,
                "parameters": [_ID_P],
                "responses": {"200": _ok(t, kind.en), "404": missing}},
        "patch": {"summary": f"修改{kind.zh}（只改给出的字段）/ change some fields of a "
                             f"{kind.en}", "description": note + " 每次修改写审计记录（修改前后）"
                  "。/ Each change writes an audit row with before and after.",
                  "parameters": [_ID_P], "requestBody": _body(f"{t}Patch"),
                  "responses": {"200": _ok(t, kind.en), "400": bad, "404": missing,
                                "409": _err("与已有记录重复 / duplicate natural key")}},
    }
    if kind.name in ("companies", "buildings", "units", "vehicles", "spaces"):
        item["delete"] = {
            "summary": f"删除{kind.zh} / delete a {kind.en}", "description": note,
            "parameters": [_ID_P],
            "responses": {"200": {"description": "已删除 / deleted", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "deleted": {"type": "integer"},
                    "version": {"type": ["integer", "null"]}}}}}},
                "404": missing,
                "409": _err("仍被引用，error.dependants 列出引用它的记录数 / still referred "
                            "to; error.dependants counts what refers to it")}}
    paths: dict[str, Any] = {
        base: {
            "get": {"summary": f"{kind.zh}列表 / {kind.en} records, in id order",
                    "description": note,
                    "parameters": [site_q, *_FILTERS.get(kind.name, []), *_PAGING],
                    "responses": {"200": _ok(f"{t}Page", kind.en), "400": bad,
                                  "404": _err("小区不存在 / unknown site")}},
            "post": {"summary": f"新建{kind.zh} / create a {kind.en}", "description": note,
                     "requestBody": _body(f"{t}Input"),
                     "responses": {"201": _ok(t, kind.en), "400": bad,
                                   "404": _err("小区不存在 / unknown site"),
                                   "409": _err("与已有记录重复，error.existing_id / duplicate; "
                                               "error.existing_id names it")}}},
        f"{base}/{{id}}": item,
        f"{base}/{{id}}/history": {"get": {
            "summary": f"{kind.zh}修改历史（审计记录，旧的在前）/ a {kind.en}'s history from "
                       "the audit log, oldest first",
            "description": note,
            "parameters": [_ID_P, _q("after_id", {"type": "integer", "minimum": 0},
                                     "上一页的 next_after_id / the previous page's "
                                     "next_after_id"), _PAGING[1]],
            "responses": {"200": _ok("RecordHistory", "history"), "404": missing}}},
    }
    if kind.name in IMPORT_KINDS:
        paths[f"{base}/export"] = {"get": {
            "summary": f"导出{kind.zh}（与导入模板同列）/ export {kind.en} records in the "
                       "import template's columns",
            "description": note,
            "parameters": [_q("site", {"type": "string", "maxLength": 63},
                              "小区标识（必填）/ site slug (required)"),
                           _q("format", {"type": "string", "enum": ["csv", "xlsx"],
                                         "default": "csv"}, "文件格式 / file format")],
            "responses": {"200": {"description": "CSV (UTF-8 BOM) or .xlsx", "content": {
                "text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                "spreadsheetml.sheet": {}}},
                "400": bad, "404": _err("小区不存在 / unknown site")}}}
    return paths


def _common() -> None:
    SCHEMAS["RecordHistory"] = {"type": "object", "properties": {
        "entity": {"type": "string"}, "id": {"type": "integer"},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "at": _TIME, "at_local": _LOCAL,
            "actor": {"type": "string"}, "actor_name": {"type": "string"},
            "action": {"type": "string", "examples": ["create", "update", "delete",
                                                      "replace", "assign_site"]},
            "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
            "detail": {"type": ["object", "null"]}}}},
        "next_after_id": {"type": ["integer", "null"]}}}
    SCHEMAS["ImportResult"] = {"type": "object", "properties": {
        "kind": {"type": "string"}, "site": {"type": "string"},
        "dry_run": {"type": "boolean"}, "applied": {"type": "boolean"},
        "rows_total": {"type": "integer"}, "created": {"type": "integer"},
        "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
        "buildings_created": {"type": "integer"}, "error_count": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "row": {"type": "integer", "description": "表格中的行号（表头为第 1 行）/ row "
                                                      "number in the sheet (header is row 1)"},
            "column": {"type": "string"}, "field": {"type": ["string", "null"]},
            "message": {"type": "string"}, "zh": {"type": "string"},
            "en": {"type": "string"}}}},
        "version": {"type": ["integer", "null"]}}}
    SCHEMAS["ImportJob"] = {"type": "object", "properties": {
        "id": {"type": "string"}, "kind": {"type": "string"}, "site": {"type": "string"},
        "dry_run": {"type": "boolean"},
        "state": {"type": "string", "enum": ["running", "done", "failed"]},
        "phase": {"type": "string", "enum": ["checking", "applying"]},
        "rows_done": {"type": "integer"}, "rows_total": {"type": "integer"},
        "result": {"oneOf": [_ref("ImportResult"), {"type": "null"}]},
        "error": {"type": ["string", "null"],
                  "description": "失败原因 / why it failed (e.g. its console process stopped)"}}}
    SCHEMAS["MeterReplacement"] = {
        "type": "object", "additionalProperties": False,
        "required": ["final_reading", "at", "code", "initial_reading"],
        "properties": {
            "final_reading": {**_DECIMAL_IN, "description": "旧表最终读数 / the old meter's "
                                                            "final reading"},
            "at": {"type": "string", "description": "更换时间（ISO 8601，或日期）/ when it was "
                                                    "swapped (ISO 8601, or a date)"},
            "code": {"type": "string", "maxLength": 64, "description": "新表号 / new code"},
            "initial_reading": {**_DECIMAL_IN, "description": "新表初始读数 / the new meter's "
                                                              "initial reading"},
            "device_key": {"type": ["string", "null"], "maxLength": 128},
            "register": {"type": ["string", "null"], "maxLength": 64},
            "multiplier": _DECIMAL_IN, "rollover_at": {**_DECIMAL_IN,
                                                       "type": ["string", "number", "null"]}}}
    assert set(SCHEMAS["MeterReplacement"]["properties"]) == set(REPLACE_FIELDS)
    SCHEMAS["MeterReplaced"] = {"type": "object", "properties": {
        "old": _ref("RecordMeter"), "new": _ref("RecordMeter")}}
    bad = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
    PATHS.update({
        "/api/companies/{id}/sites": {"post": {
            "summary": "把小区交给此公司管理 / make the company run a site",
            "parameters": [_ID_P],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["site"], "additionalProperties": False,
                "properties": {"site": {"type": "string"}}}}}},
            "responses": {"200": {"description": "已分配 / assigned", "content": {
                "application/json": {"schema": {"type": "object"}}}},
                "400": bad, "404": _err("公司或小区不存在 / unknown company or site")}}},
        "/api/companies/{id}/sites/{site}": {"delete": {
            "summary": "取消公司对小区的管理 / the company no longer runs the site",
            "parameters": [_ID_P, _p("site", "小区标识 / site slug")],
            "responses": {"200": {"description": "已取消 / unassigned", "content": {
                "application/json": {"schema": {"type": "object"}}}},
                "404": _err("公司、小区或关系不存在 / unknown company, site or link")}}},
        "/api/meters/{id}/replace": {"post": {
            "summary": "换表：旧表记最终读数并拆除，新表以初始读数启用（同一事务）/ replace a "
                       "meter: close it with its final reading and open the new one with its "
                       "initial reading, in one transaction",
            "description": "新表沿用旧表的房屋、类型、范围、采集设备与倍率，除非给出。/ The new "
                           "meter keeps the old one's unit, utility, scope, reader and "
                           "multiplier unless given. Permission records.write.",
            "parameters": [_ID_P], "requestBody": _body("MeterReplacement"),
            "responses": {"201": _ok("MeterReplaced", "old and new meter"), "400": bad,
                          "404": _err("表不存在 / unknown meter"),
                          "409": _err("已拆除或新表号重复 / already removed, or the new code "
                                      "is in use")}}},
    })


def _pages() -> None:
    PATHS.update({
        "/records": _page("房屋档案页（楼栋、房屋、业主、租户、车辆、表）/ the register page "
                          "(HTML)"),
        "/records/import": _page("导入页（模板、校验、导入进度）/ the import page (HTML)"),
        "/records/static/{name}": _assets(
            "档案页面的脚本与样式 / the register pages' scripts and styles",
            _p("name", "文件名 / file name")),
    })


for _kind in KINDS.values():
    SCHEMAS.update(_schemas(_kind))
    PATHS.update(_paths(_kind))
_common()
_pages()
