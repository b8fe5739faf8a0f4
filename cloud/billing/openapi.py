"""OpenAPI paths and schemas: fee items, bill runs and bills."""

from __future__ import annotations

from typing import Any

from cloud.billing.periods import CYCLE_MONTHS
from cloud.billing.tables import BILL_STATES, FEE_KINDS
from cloud.web.openapi import (
    _DEC,
    PATHS,
    SCHEMAS,
    _assets,
    _err,
    _ok,
    _p,
    _q,
    _ref,
)

_MONEY = {"type": ["string", "null"], "pattern": r"^-?\d+\.\d{2}$",
          "description": "金额（元），两位小数的字符串 / yuan as a string with two decimals"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_CYCLES = list(CYCLE_MONTHS)
_ID = _p("id", "记录 id / row id")
_BAD = _err("字段无效（error.field 指明，例如 rule.tiers[1].upto）/ invalid field, named in "
            "error.field (e.g. rule.tiers[1].upto)")
_MISSING = _err("不存在或不属于可见小区 / not found, or of a site you do not serve")
_DENIED = _err("无权限 / not allowed for your role")


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


_RULE = {"type": "object", "description": (
    "按 kind 校验 / validated per kind — area: {rates: {类型: 单价}, vacant_share?, "
    "prepay_discount?}; fixed: {amount, unit_types?, exclude_vacant?, prepay_discount?}; "
    "metered: {utility, tiers: [{upto, price}] | price, anomaly?: {spike_factor, "
    "spike_periods, spike_cap, stuck_periods, boundary_hours}}; shared: {utility, "
    "basis: area|usage, price, buildings?}; parking_pass: {price}; parking_temp: {}")}
_LATE = {"type": ["object", "null"], "additionalProperties": False, "properties": {
    "daily_rate": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
    "grace_days": {"type": "integer", "minimum": 0, "maximum": 365},
    "cap": {"type": ["string", "null"], "pattern": r"^\d+(\.\d+)?$"}},
    "required": ["daily_rate"]}
_FEE_PROPS: dict[str, Any] = {
    "code": {"type": "string", "minLength": 1, "maxLength": 32},
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "kind": {"enum": list(FEE_KINDS)}, "cycle": {"enum": _CYCLES, "default": "monthly"},
    "rule": _RULE, "late_fee": _LATE,
    "due_days": {"type": "integer", "minimum": 0, "maximum": 365, "default": 15},
    "active": {"type": "boolean", "default": True}}

SCHEMAS.update({
    "FeeItem": {"type": "object", "properties": {
        "id": {"type": "integer"}, "site": {"type": "string"}, **_FEE_PROPS,
        "created_at": _TIME, "updated_at": _TIME}},
    "FeeItemList": {"type": "object", "properties": {
        "fee_items": {"type": "array", "items": _ref("FeeItem")}}},
    "FeeItemCreate": {"type": "object", "additionalProperties": False,
                      "required": ["site", "code", "name", "kind", "rule"],
                      "properties": {"site": {"type": "string", "maxLength": 63},
                                     **_FEE_PROPS}},
    "FeeItemUpdate": {"type": "object", "additionalProperties": False,
                      "properties": {k: v for k, v in _FEE_PROPS.items() if k != "code"}},
    "BillRun": {"type": "object", "properties": {
        "id": {"type": "integer"}, "site": {"type": "string"}, "cycle": {"enum": _CYCLES},
        "period": {"type": "string"}, "period_start": {"type": "string", "format": "date"},
        "period_end": {"type": "string", "format": "date",
                       "description": "不含 / exclusive"},
        "state": {"enum": ["running", "done", "failed"]},
        "units_total": {"type": "integer"}, "units_done": {"type": "integer"},
        "bills": {"type": "integer"}, "held": {"type": "integer"}, "total": _MONEY,
        "error": {"type": ["string", "null"]}, "started_by": {"type": "string"},
        "started_at": _TIME, "finished_at": _TIME}},
    "BillRunList": {"type": "object", "properties": {
        "bill_runs": {"type": "array", "items": _ref("BillRun")}}},
    "BillRunStart": {"type": "object", "additionalProperties": False,
                     "required": ["site", "period"], "properties": {
                         "site": {"type": "string", "maxLength": 63},
                         "cycle": {"enum": _CYCLES, "default": "monthly"},
                         "period": {"type": "string", "maxLength": 16,
                                    "examples": ["2026-11", "2026-Q4", "2026"]}}},
    "Bill": {"type": "object", "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"}, "site": {"type": "string"},
        "unit": {"type": "string"}, "building": {"type": "string"},
        "run_id": {"type": "integer"}, "cycle": {"enum": _CYCLES},
        "period": {"type": "string"}, "state": {"enum": list(BILL_STATES)},
        "total": _MONEY, "paid": _MONEY, "due_date": {"type": "string", "format": "date"},
        "hold_reasons": {"type": ["array", "null"], "items": {"type": "object", "properties": {
            "meter": {"type": ["string", "null"]}, "fee": {"type": "string"},
            "reason": {"enum": ["negative", "spike", "stuck", "no_reading", "no_rate"]},
            "message": {"type": "string"}}}},
        "void_reason": {"type": ["string", "null"]}, "issued_at": _TIME,
        "created_at": _TIME, "updated_at": _TIME}},
    "BillLine": {"type": "object", "properties": {
        "id": {"type": "integer"},
        "kind": {"enum": ["charge", "discount", "late_fee", "adjustment"]},
        "fee_item_id": {"type": ["integer", "null"]}, "fee_code": {"type": "string"},
        "description": {"type": "string"}, "quantity": _DEC, "unit_price": _DEC,
        "amount": _MONEY,
        "source": {"type": "object",
                   "description": "金额来源：面积单价、读数、公摊基数、停车事件 / "
                                  "what the amount came from"}}},
    "BillDetail": {"allOf": [_ref("Bill"), {"type": "object", "properties": {
        "lines": {"type": "array", "items": _ref("BillLine")}}}]},
    "BillPage": {"type": "object", "properties": {
        "bills": {"type": "array", "items": _ref("Bill")},
        "next": {"type": ["string", "null"],
                 "description": "作为 after 取下一页；null 表示没有了 / pass as after for the "
                                "next page; null: no more"}}},
    "BillVoid": {"type": "object", "additionalProperties": False, "required": ["reason"],
                 "properties": {"reason": {"type": "string", "minLength": 1,
                                           "maxLength": 500}}},
    "BillAdjust": {"type": "object", "additionalProperties": False,
                   "required": ["amount", "reason"], "properties": {
                       "amount": {"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$",
                                  "description": "负数为红冲 / negative to reverse"},
                       "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                       "fee_code": {"type": "string", "maxLength": 32}}},
    "BillRelease": {"type": "object", "additionalProperties": False, "required": ["note"],
                    "properties": {
                        "note": {"type": "string", "minLength": 1, "maxLength": 500},
                        "corrections": {"type": "object", "description":
                                        "收费项目代码 → 更正后的用量 / fee code → corrected "
                                        "consumption",
                                        "additionalProperties": {
                                            "type": "string", "pattern": r"^\d+(\.\d+)?$"}}}},
})

_BILL_FILTERS = [
    _q("site", {"type": "string", "maxLength": 63}, "小区标识 / site slug"),
    _q("unit", {"type": "string", "maxLength": 64}, "房屋编号 / unit code"),
    _q("building", {"type": "string", "maxLength": 32}, "楼栋编号 / building code"),
    _q("period", {"type": "string", "maxLength": 16}, "账期 / period, e.g. 2026-11"),
    _q("cycle", {"enum": _CYCLES}, "周期 / cycle"),
    _q("state", {"type": "string"}, f"状态，可逗号分隔 / state(s): {', '.join(BILL_STATES)}"),
    _q("run", {"type": "integer", "minimum": 0}, "出账批次 id / bill run id"),
]

PATHS.update({
    "/api/fee-items": {
        "get": {"summary": "收费项目 / fee items",
                "parameters": [_q("site", {"type": "string", "maxLength": 63},
                                  "小区标识 / site slug")],
                "responses": {"200": _ok("FeeItemList", "收费项目 / fee items"),
                              "400": _BAD, "403": _DENIED, "404": _MISSING}},
        "post": {"summary": "新建收费项目 / create a fee item",
                 "requestBody": _body("FeeItemCreate"),
                 "responses": {"201": _ok("FeeItem", "已创建 / created"), "400": _BAD,
                               "403": _DENIED, "404": _MISSING,
                               "409": _err("代码已存在 / code exists")}}},
    "/api/fee-items/{id}": {
        "get": {"summary": "收费项目 / a fee item", "parameters": [_ID],
                "responses": {"200": _ok("FeeItem", "收费项目 / fee item"),
                              "403": _DENIED, "404": _MISSING}},
        "patch": {"summary": "修改收费项目（合并后整体校验）/ change a fee item (validated "
                             "as a whole)",
                  "parameters": [_ID], "requestBody": _body("FeeItemUpdate"),
                  "responses": {"200": _ok("FeeItem", "已修改 / changed"), "400": _BAD,
                                "403": _DENIED, "404": _MISSING}}},
    "/api/bill-runs": {
        "get": {"summary": "出账批次 / bill runs, newest first",
                "parameters": [_q("site", {"type": "string", "maxLength": 63},
                                  "小区标识 / site slug"),
                               _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                            "default": 100}, "条数 / at most")],
                "responses": {"200": _ok("BillRunList", "出账批次 / runs"), "400": _BAD,
                              "403": _DENIED, "404": _MISSING}},
        "post": {"summary": "开始或继续出账（后台执行）/ start or resume a bill run (in the "
                            "background)",
                 "description": "同一小区、周期、账期只出一次；已完成再提交返回 409。未完成的批次"
                                "从中断处继续；由任何一个控制台进程的任务执行器执行。"
                                "/ Once per site, cycle and period: a finished period is "
                                "a 409; an unfinished run continues where it stopped, run "
                                "as a job by whichever console process claims it.",
                 "requestBody": _body("BillRunStart"),
                 "responses": {"202": _ok("BillRun", "已开始 / started"), "400": _BAD,
                               "403": _DENIED, "404": _MISSING,
                               "409": _err("该账期已出账 / period already billed")}}},
    "/api/bill-runs/{id}": {"get": {
        "summary": "出账进度 / a run's progress", "parameters": [_ID],
        "responses": {"200": _ok("BillRun", "出账批次 / run"), "403": _DENIED,
                      "404": _MISSING}}},
    "/api/bills": {"get": {
        "summary": "账单 / bills",
        "parameters": [*_BILL_FILTERS,
                       _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                    "default": 100}, "每页条数 / page size"),
                       _q("after", {"type": "string"},
                          "翻页游标（上一页的 next）/ cursor: the previous page's next"),
                       _q("order", {"enum": ["asc", "desc"], "default": "asc"},
                          "按编号升序或降序（最新在前）/ by id, or newest first")],
        "responses": {"200": _ok("BillPage", "账单 / bills"), "400": _BAD,
                      "403": _DENIED}}},
    "/api/bills/export": {"get": {
        "summary": "导出账单 / export bills (CSV or xlsx)",
        "parameters": [_q("format", {"enum": ["csv", "xlsx"], "default": "csv"},
                          "文件格式 / file format"), *_BILL_FILTERS],
        "responses": {"200": {"description": "CSV (UTF-8 BOM) or xlsx", "content": {
            "text/csv": {}, "application/vnd.openxmlformats-officedocument"
                            ".spreadsheetml.sheet": {}}},
            "400": _BAD, "403": _DENIED}}},
    "/api/bills/{id}": {"get": {
        "summary": "账单明细（每行含来源）/ a bill with its lines and their sources",
        "parameters": [_ID],
        "responses": {"200": _ok("BillDetail", "账单 / bill"), "403": _DENIED,
                      "404": _MISSING}}},
    "/api/bills/{id}/void": {"post": {
        "summary": "作废账单（未收款时）/ void a bill (only when nothing is paid)",
        "parameters": [_ID], "requestBody": _body("BillVoid"),
        "responses": {"200": _ok("BillDetail", "已作废 / voided"), "400": _BAD,
                      "403": _DENIED, "404": _MISSING,
                      "409": _err("已作废或已收款 / void already, or paid")}}},
    "/api/bills/{id}/adjust": {"post": {
        "summary": "调整 / 红冲：加一行正负调整 / add an adjustment line (negative reverses)",
        "parameters": [_ID], "requestBody": _body("BillAdjust"),
        "responses": {"200": _ok("BillDetail", "已调整 / adjusted"), "400": _BAD,
                      "403": _DENIED, "404": _MISSING,
                      "409": _err("已作废，或调整后低于已收 / void, or below what is paid")}}},
    "/api/bills/{id}/release": {"post": {
        "summary": "复核通过暂扣账单 / pass a held bill after review",
        "parameters": [_ID], "requestBody": _body("BillRelease"),
        "responses": {"200": _ok("BillDetail", "已出账 / issued"), "400": _BAD,
                      "403": _DENIED, "404": _MISSING,
                      "409": _err("账单未被暂扣 / the bill is not held")}}},
    "/billing/runs": {"get": {
        "summary": "出账页面（小区由外壳选择）/ the bill-run page (HTML; the shell picks the site)",
        "responses": {"200": {"description": "HTML", "content": {"text/html": {}}},
                      "403": _DENIED}}},
    "/billing/fee-items": {"get": {
        "summary": "收费项目与停车收费标准页面 / the fee items and car-park tariffs page (HTML)",
        "responses": {"200": {"description": "HTML", "content": {"text/html": {}}},
                      "403": _DENIED}}},
    "/billing/static/{name}": _assets(
        "收费页面的脚本与样式 / the billing pages' scripts and styles"),
})
