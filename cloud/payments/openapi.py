"""OpenAPI: payments, prepaid balances, receipts, late fees, reminders, arrears, statistics."""

from __future__ import annotations

from typing import Any

from cloud.payments.tables import ALL_METHODS, PAYMENT_METHODS
from cloud.web.openapi import (
    _HTML_OK,
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

_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$",
          "description": "金额（元），两位小数的字符串 / yuan as a string with two decimals"}
_RATE = {"type": ["string", "null"], "pattern": r"^\d+\.\d{4}$",
         "description": "收缴率，四位小数；无应收时为 null / rate to four places; null when "
                        "nothing was billed"}
_DATE = {"type": "string", "format": "date"}
_SITE_Q = {**_q("site", {"type": "string", "maxLength": 63}, "小区标识 / site slug"),
           "required": True}
_UNIT_Q = _q("unit", {"type": "string", "maxLength": 64}, "房屋编号 / unit code, e.g. 1-1-101")
_FMT_Q = _q("format", {"enum": ["csv", "xlsx"], "default": "csv"}, "文件格式 / file format")
_FROM_Q = _q("from", _DATE, "起始日期（小区当地，含）/ first site-local day, inclusive")
_TO_Q = _q("to", _DATE, "截止日期（小区当地，含）/ last site-local day, inclusive")
_BAD = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
_NF = _err("不存在或无权查看 / not found or not visible to you")
_DENY = _err("无权限 / not permitted")
_WRITE = "需要 billing.write 权限 / needs billing.write."
_READ = "需要 billing.read 权限 / needs billing.read."


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _file(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"summary": summary, "description": _READ, "parameters": params,
                    "x-permission": "billing.read",
                    "responses": {"200": {"description": "CSV (UTF-8 BOM) or xlsx", "content": {
                        "text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                    "spreadsheetml.sheet": {}}},
                                  "400": _BAD, "403": _DENY, "404": _NF}}}


SCHEMAS.update({
    "PaymentRequest": {
        "type": "object", "required": ["site", "unit", "amount", "method", "idempotency_key"],
        "additionalProperties": False, "properties": {
            "site": {"type": "string", "maxLength": 63},
            "unit": {"type": "string", "maxLength": 64, "description": "房屋编号 / unit code"},
            "amount": {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$",
                       "description": "收款金额（元）/ amount received, yuan"},
            "method": {"enum": list(PAYMENT_METHODS)},
            "reference": {"type": "string", "maxLength": 64,
                          "description": "交易号、刷卡凭证或转账流水号 / transaction number"},
            "payer": {"type": "string", "maxLength": 100},
            "bills": {"type": "array", "minItems": 1, "maxItems": 200, "uniqueItems": True,
                      "items": {"type": "integer", "minimum": 1, "maximum": 2147483647},
                      "description": "只付这些账单；缺省为该房屋全部未缴账单，最早到期先付 / pay "
                                     "only these bills; default: the unit's open bills, oldest "
                                     "due first"},
            "prepay": {"type": "boolean", "default": False,
                       "description": "超过欠款的部分存入预存款；否则超额返回 422 / keep the "
                                      "surplus as a prepaid balance; otherwise a payment over "
                                      "the debt is a 422 on amount"},
            "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 64,
                                "description": "同一小区内重复提交返回第一次的收款 / resending "
                                               "returns the first payment"}}},
    "Allocation": {"type": "object", "properties": {
        "bill_id": {"type": "integer"}, "bill": {"type": "string"},
        "period": {"type": "string"}, "amount": _MONEY, "principal": _MONEY,
        "late_fee": _MONEY, "fees": {"type": "object", "additionalProperties": {
            "type": "string"}, "description": "按收费项目 / per fee item code"},
        "bill_state": {"type": "string"}, "bill_paid": _MONEY, "bill_total": _MONEY}},
    "Payment": {"type": "object", "properties": {
        "id": {"type": "integer"}, "site": {"type": "string"}, "unit": {"type": "string"},
        "kind": {"enum": ["payment", "reversal"]}, "method": {"enum": list(ALL_METHODS)},
        "amount": _MONEY, "to_balance": _MONEY, "reference": {"type": ["string", "null"]},
        "payer": {"type": ["string", "null"]}, "idempotency_key": {"type": "string"},
        "reverses_id": {"type": ["integer", "null"]}, "reason": {"type": ["string", "null"]},
        "receipt": {"type": ["string", "null"], "examples": ["DEMO-2026-000123"]},
        "taken_by": {"type": "string"}, "received_at": _TIME, "received_date": _DATE,
        "allocations": {"type": "array", "items": _ref("Allocation")},
        "balance": _MONEY, "reversed_by": {"type": ["integer", "null"]},
        "replayed": {"type": "boolean"}}},
    "PaymentList": {"type": "object", "properties": {
        "site": {"type": "string"}, "payments": {"type": "array", "items": _ref("Payment")},
        "next": {"type": ["string", "null"],
                 "description": "作为 after 取下一页；null 表示没有了 / pass as after for the "
                                "next page; null: no more"}}},
    "ReverseRequest": {"type": "object", "required": ["reason"], "additionalProperties": False,
                       "properties": {"reason": {"type": "string", "minLength": 1,
                                                 "maxLength": 500}}},
    "Balance": {"type": "object", "properties": {
        "site": {"type": "string"}, "unit": {"type": "string"},
        "building": {"type": ["string", "null"]}, "balance": _MONEY,
        "entries": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["deposit", "applied", "refund", "reversal"]},
            "amount": _MONEY, "payment_id": {"type": ["integer", "null"]},
            "bill_id": {"type": ["integer", "null"]}, "note": {"type": ["string", "null"]},
            "at": _TIME}}},
        "open_bills": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"},
            "period": {"type": "string"}, "state": {"type": "string"}, "total": _MONEY,
            "paid": _MONEY, "due": {**_MONEY, "description":
                                    "今天付款时的欠款（含今天的滞纳金，尚未入账）/ what a "
                                    "payment today meets, today's late fee included"},
            "due_date": _DATE}}}}},
    "Receipt": {"type": "object", "properties": {
        "number": {"type": "string"}, "payment_id": {"type": "integer"}, "amount": _MONEY,
        "amount_capital": {"type": "string", "examples": ["壹佰贰拾叁元肆角伍分"]},
        "red": {"type": "boolean", "description": "红字（冲销）收据 / reversal receipt"},
        "reverses": {"type": ["string", "null"]}, "unit": {"type": "string"},
        "payer": {"type": ["string", "null"]}, "method": {"type": "string"},
        "date": _DATE, "lines": {"type": "array", "items": {"type": "object", "properties": {
            "bill": {"type": "string"}, "period": {"type": "string"},
            "fee_code": {"type": "string"}, "fee_name": {"type": "string"},
            "amount": _MONEY}}},
        "issued_by": {"type": "string"}, "issued_at": _TIME}},
    "SiteAsOf": {"type": "object", "required": ["site"], "additionalProperties": False,
                 "properties": {"site": {"type": "string", "maxLength": 63},
                                "as_of": {**_DATE, "description":
                                          "小区当地日期，缺省为今天 / site-local date, "
                                          "default today"}}},
    "LateFeeResult": {"type": "object", "properties": {
        "site": {"type": "string"}, "as_of": _DATE, "bills_changed": {"type": "integer"}}},
    "ReminderResult": {"type": "object", "properties": {
        "site": {"type": "string"}, "as_of": _DATE, "scheduled": {"type": "integer"},
        "sent": {"type": "integer"}, "retried": {"type": "integer"},
        "failed": {"type": "integer"}, "skipped": {"type": "integer"}}},
    "Arrears": {"type": "object", "properties": {
        "site": {"type": "string"}, "units": {"type": "integer"}, "total": _MONEY,
        "arrears": {"type": "array", "items": {"type": "object", "properties": {
            "unit": {"type": "string"}, "building": {"type": "string"},
            "owner": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"], "description": "无 people.read 时打码 / "
                                                                  "masked without people.read"},
            "bills": {"type": "integer"}, "unpaid": _MONEY, "oldest_due": _DATE,
            "days_overdue": {"type": "integer"},
            "periods": {"type": "array", "items": {"type": "string"}}}}}}},
    "CollectionStats": {"type": "object", "properties": {
        "site": {"type": "string"}, "period": {"type": ["string", "null"]},
        "by": {"enum": ["building", "fee", "period"]},
        "groups": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "label": {"type": "string"}, "billed": _MONEY,
            "collected": _MONEY, "outstanding": _MONEY, "rate": _RATE}}},
        "total": {"type": "object", "properties": {
            "billed": _MONEY, "collected": _MONEY, "outstanding": _MONEY, "rate": _RATE}}}},
})

_ARREARS_Q = [_SITE_Q, _q("building", {"type": "string", "maxLength": 32}, "楼栋编号 / building"),
              _q("period", {"type": "string", "maxLength": 16}, "账期 / period, e.g. 2026-11"),
              _q("fee", {"type": "string", "maxLength": 32},
                 "含此收费项目的账单 / bills carrying this fee item code")]

PATHS.update({
    "/api/payments": {
        "post": {"summary": "收款 / take a payment", "x-permission": "billing.write",
                 "description": "一个事务内分配到账单（最早到期先付，先本金后滞纳金）、"
                                "超额存预存款、开收据。" + _WRITE +
                                " One transaction: allocates to bills "
                                "(oldest due first, principal before late fees), keeps a surplus "
                                "as prepaid balance when prepay is true, numbers a receipt.",
                 "requestBody": _body("PaymentRequest"),
                 "responses": {"201": _ok("Payment", "已收款 / taken"),
                               "200": _ok("Payment", "同一 idempotency_key 的第一次收款 / the "
                                                     "first payment with this key"),
                               "400": _BAD, "403": _DENY, "404": _NF,
                               "409": _err("账单不可收款 / a bill cannot be paid"),
                               "422": _err("金额超过欠款（error.debt）或账单不属于该房屋 / amount "
                                           "over the debt (error.debt) or a bill not of the "
                                           "unit")}},
        "get": {"summary": "收款记录 / payments, newest first", "description": _READ,
                "x-permission": "billing.read",
                "parameters": [_SITE_Q, _UNIT_Q, _FROM_Q, _TO_Q,
                               _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                            "default": 100}, "最多条数 / at most"),
                               _q("after", {"type": "string"}, "翻页游标（上一页的 next）/ "
                                                               "cursor: the previous page's next")],
                "responses": {"200": _ok("PaymentList", "收款 / payments"), "400": _BAD,
                              "403": _DENY, "404": _NF}}},
    "/api/payments/export": _file("导出收款记录 / export payments",
                                  [_SITE_Q, _UNIT_Q, _FROM_Q, _TO_Q, _FMT_Q]),
    "/api/payments/{id}": {"get": {
        "summary": "一笔收款及其分配 / one payment and its allocations", "description": _READ,
        "x-permission": "billing.read", "parameters": [_p("id", "收款 id / payment id")],
        "responses": {"200": _ok("Payment", "收款 / payment"), "403": _DENY, "404": _NF}}},
    "/api/payments/{id}/reverse": {"post": {
        "summary": "红冲 / reverse a payment", "x-permission": "billing.write",
        "description": "生成负数收款与红字收据，恢复账单状态；不删除任何记录。" + _WRITE +
                       " Adds a negative payment and a red receipt and restores the bills; "
                       "nothing is deleted.",
        "parameters": [_p("id", "收款 id / payment id")], "requestBody": _body("ReverseRequest"),
        "responses": {"201": _ok("Payment", "冲销记录 / the reversal"), "400": _BAD,
                      "403": _DENY, "404": _NF,
                      "409": _err("已冲销、冲销记录或预存款已被使用 / already reversed, a "
                                  "reversal, or its prepaid surplus was used")}}},
    "/api/balances": {"get": {
        "summary": "预存款余额与未缴账单 / prepaid balance, ledger and open bills of a unit",
        "description": _READ, "x-permission": "billing.read",
        "parameters": [_SITE_Q, {**_UNIT_Q, "required": True}],
        "responses": {"200": _ok("Balance", "余额 / balance"), "400": _BAD, "403": _DENY,
                      "404": _NF}}},
    "/api/receipts/{number}": {"get": {
        "summary": "收据 / a receipt (JSON; printable page at /finance/receipts/{number})",
        "description": _READ, "x-permission": "billing.read",
        "parameters": [_p("number", "收据号 / receipt number, e.g. DEMO-2026-000123")],
        "responses": {"200": _ok("Receipt", "收据 / receipt"), "403": _DENY, "404": _NF}}},
    "/api/late-fees/assess": {"post": {
        "summary": "计算滞纳金 / bring late fees up to date", "x-permission": "billing.write",
        "description": "按日利率、宽限天数与上限更新逾期账单的滞纳金行；"
                       "同一日期重复执行结果不变。" +
                       _WRITE + " Idempotent for the same as_of.",
        "requestBody": _body("SiteAsOf"),
        "responses": {"200": _ok("LateFeeResult", "已更新 / done"), "400": _BAD, "403": _DENY,
                      "404": _NF}}},
    "/api/reminders/run": {"post": {
        "summary": "生成并发送缴费提醒 / schedule reminders and send what is due",
        "x-permission": "billing.write",
        "description": "到期前 7 天、1 天提醒与逾期通知，各一次；默认发送器写日志。" + _WRITE +
                       " Reminders 7 and 1 days before the due date and an overdue notice, "
                       "once each; the default sender writes a log line.",
        "requestBody": _body("SiteAsOf"),
        "responses": {"200": _ok("ReminderResult", "结果 / counts"), "400": _BAD,
                      "403": _DENY, "404": _NF}}},
    "/api/arrears": {"get": {
        "summary": "欠费清单 / arrears by unit", "x-permission": "billing.read",
        "description": "已逾期未缴清的账单按房屋汇总。" + _READ + " Overdue unpaid bills per "
                       "unit; phones masked unless the caller has people.read.",
        "parameters": _ARREARS_Q,
        "responses": {"200": _ok("Arrears", "欠费 / arrears"), "400": _BAD, "403": _DENY,
                      "404": _NF}}},
    "/api/arrears/export": _file("导出欠费清单 / export arrears", [*_ARREARS_Q, _FMT_Q]),
    "/api/stats/collection": {"get": {
        "summary": "收缴率 / collection rate", "x-permission": "billing.read",
        "description": "实收本金 ÷ 应收本金（账期内账单；作废与待审不计；不含滞纳金）。" + _READ +
                       " Collected ÷ billed principal of the period's bills; void and held "
                       "bills excluded; late fees excluded.",
        "parameters": [_SITE_Q, _q("period", {"type": "string", "maxLength": 16},
                                   "账期，缺省为全部 / period, default all"),
                       _q("by", {"enum": ["building", "fee", "period"], "default": "building"},
                          "分组 / grouping")],
        "responses": {"200": _ok("CollectionStats", "统计 / figures"), "400": _BAD,
                      "403": _DENY, "404": _NF}}},
    "/finance": _page("收费台 / the finance desk page (HTML)"),
    "/finance/receipts/{number}": {"get": {
        "summary": "可打印收据 / printable receipt (HTML)",
        "parameters": [_p("number", "收据号 / receipt number")],
        "responses": {**_HTML_OK, "404": {"description": "不存在 / no such receipt"}}}},
    "/finance/static/{name}": _assets("收费台的脚本与样式 / the finance pages' scripts and styles",
                                      _p("name", "文件名 / file name")),
})
