"""OpenAPI: Assets and preventive-maintenance plans."""

from __future__ import annotations

from typing import Any

from cloud.web.openapi import (
    _LOCAL,
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

# --- equipment ledger and PM plans ------------------------------------------------------------


def _maintenance_schemas() -> dict[str, Any]:
    day = {"type": "string", "format": "date"}
    asset = {"type": "object", "properties": {
        "id": {"type": "integer"}, "site": {"type": "string"},
        "code": {"type": "string", "maxLength": 64, "description": "小区内唯一的设备编号 / the "
                                                                  "site's own code, unique"},
        "kind": {"type": "string", "examples": ["elevator", "fire_system", "meter"]},
        "name": {"type": "string"}, "make": {"type": "string"}, "model": {"type": "string"},
        "serial": {"type": "string"}, "install_date": day,
        "warranty_until": {"type": ["string", "null"], "format": "date"},
        "contract": {"type": ["string", "null"]}, "building": {"type": ["string", "null"]},
        "device": {"type": ["string", "null"], "description": "边缘设备标识 / edge device key"},
        "active": {"type": "boolean", "default": True}}}
    tier = {"type": "object", "required": ["name", "zh", "en", "every", "checklist"],
            "additionalProperties": False, "properties": {
                "name": {"type": "string"}, "zh": {"type": "string"}, "en": {"type": "string"},
                "every": {"type": "string", "pattern": r"^(15d|[1-9][0-9]?m|[1-9]y)$"},
                "checklist": {"type": "array", "minItems": 1, "items": {"type": "string"}}}}
    definition = {"type": "object", "additionalProperties": False,
                  "description": "与 configs/maintenance/plans.yaml 中一个计划相同 / one plan "
                                 "of configs/maintenance/plans.yaml",
                  "required": ["id", "asset_kind", "skill", "category", "release_days_ahead",
                               "sla_resolve_s", "start", "tiers"],
                  "properties": {
                      "id": {"type": "string"}, "asset_kind": {"type": "string"},
                      "skill": {"type": "string"}, "category": {"type": "string"},
                      "release_days_ahead": {"type": "integer", "minimum": 0},
                      "sla_resolve_s": {"type": "integer", "minimum": 1}, "start": day,
                      "tiers": {"type": "array", "minItems": 1, "items": _ref("PlanTier")}}}
    visit = {"type": "object", "properties": {
        "pm_key": {"type": "string"}, "work_order_id": {"type": "integer"},
        "plan_id": {"type": "integer"}, "tier": {"type": "string"},
        "covers": {"type": "array", "items": {"type": "string"}}, "due_date": day}}
    stats = {"type": "object", "properties": {
        "since": _TIME, "since_local": _LOCAL, "until": _TIME, "until_local": _LOCAL,
        "faults": {"type": "integer", "description": "设备事件产生的工单 / orders from its "
                                                     "device's events"},
        "mtbf_minutes": {"type": ["number", "null"]}, "mttr_minutes": {"type": ["number", "null"]},
        "sla_compliance_pct": {"type": ["string", "null"], "pattern": r"^\d+\.\d{2}$"}}}
    return {
        "Asset": asset,
        "AssetList": {"type": "object", "properties": {
            "assets": {"type": "array", "items": _ref("Asset")}}},
        "AssetDetail": {"allOf": [_ref("Asset"), {"type": "object", "properties": {
            "visits": {"type": "array", "items": _ref("MaintenanceVisit")},
            "workorders": {"type": "array", "items": _ref("WorkOrder")},
            "stats": _ref("AssetStats")}}]},
        "AssetStats": stats,
        "MaintenanceVisit": visit,
        "PlanTier": tier,
        "PlanDefinition": definition,
        "MaintenancePlan": {"type": "object", "properties": {
            "id": {"type": "integer"}, "site": {"type": "string"},
            "plan": _ref("PlanDefinition"), "active": {"type": "boolean"}}},
        "MaintenancePlanRequest": {
            "type": "object", "required": ["site", "plan"], "additionalProperties": False,
            "properties": {"site": {"type": "string"}, "plan": _ref("PlanDefinition"),
                           "active": {"type": "boolean", "default": True}}},
        "MaintenancePlanList": {"type": "object", "properties": {
            "plans": {"type": "array", "items": _ref("MaintenancePlan")}}},
        "GeneratedOrders": {"type": "object", "properties": {
            "today": day, "created": {"type": "array", "items": {"type": "integer"}}}},
    }


def _maintenance_paths() -> dict[str, Any]:
    bad = _err("字段无效（error.field 指明，计划字段如 plan.tiers[1].every）/ invalid field, "
               "named in error.field (plan fields as plan.tiers[1].every)")
    no_site = _err("小区不存在 / unknown site")
    return {
        "/api/assets": {
            "get": {"summary": "设备台账 / the equipment ledger",
                    "parameters": [_q("site", {"type": "string"}, "小区标识 / site slug"),
                                   _q("kind", {"type": "string"}, "设备类型 / asset kind")],
                    "responses": {"200": _ok("AssetList", "设备 / assets"), "400": bad,
                                  "404": no_site}},
            "post": {"summary": "登记设备 / add an asset", "requestBody": _body("Asset"),
                     "responses": {"201": _ok("Asset", "设备 / asset"), "400": bad,
                                   "404": no_site,
                                   "409": _err("小区内编号重复 / code taken at the site")}}},
        "/api/assets/{id}": {"get": {
            "summary": "单个设备：保养记录、工单与统计 / one asset: PM visits, orders, figures",
            "parameters": [_p("id", "设备 id / asset id"),
                           _q("since", _TIME, "统计起点，默认一年前 / window start (default a "
                                              "year before until)"),
                           _q("until", _TIME, "统计终点，默认现在 / window end (default now)")],
            "responses": {"200": _ok("AssetDetail", "设备 / asset"), "400": bad,
                          "404": _err("设备不存在 / unknown asset")}}},
        "/api/maintenance-plans": {
            "get": {"summary": "维保计划 / PM plans",
                    "parameters": [_q("site", {"type": "string"}, "小区标识 / site slug")],
                    "responses": {"200": _ok("MaintenancePlanList", "计划 / plans"),
                                  "400": bad, "404": no_site}},
            "post": {"summary": "新增维保计划 / add a PM plan",
                     "requestBody": _body("MaintenancePlanRequest"),
                     "responses": {"201": _ok("MaintenancePlan", "计划 / plan"), "400": bad,
                                   "404": no_site,
                                   "409": _err("小区已有同 id 计划 / plan id taken")}}},
        "/api/maintenance-plans/generate": {"post": {
            "summary": "立即生成到期的保养工单 / make the due PM orders now",
            "description": "幂等：每次到期保养只生成一张工单 / idempotent: one order per visit",
            "parameters": [_q("today", {"type": "string", "format": "date"},
                              "按此日期计算（小区日历），默认今天，不能晚于明天 / the site date "
                              "to run for, default today, at most tomorrow"),
                           _q("site", {"type": "string"},
                              "只为此小区生成；不填则为当前登录负责的全部小区 / only this site; "
                              "default: every site your login serves")],
            "responses": {"200": _ok("GeneratedOrders", "新工单 id / new order ids"),
                          "400": bad}}},
    }


SCHEMAS |= _maintenance_schemas()
PATHS |= _maintenance_paths()
