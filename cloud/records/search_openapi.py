"""OpenAPI: the one search box of the register (``GET /api/search``)."""

from __future__ import annotations

from cloud.web.openapi import PATHS, SCHEMAS, _assets, _err, _ok, _p, _page, _q

SCHEMAS["UnitSearch"] = {"type": "object", "properties": {
    "site": {"type": "string"}, "q": {"type": "string"},
    "results": {"type": "array", "maxItems": 20, "items": {"type": "object", "properties": {
        "unit_id": {"type": "integer"},
        "unit": {"type": "string", "description": "房号 / unit code"},
        "building": {"type": ["string", "null"], "description": "楼栋名称 / building name"},
        "residents": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "role": {"type": "string", "enum": ["owner", "tenant"]},
            "phone": {"type": ["string", "null"]}}}},
        "plates": {"type": "array", "items": {"type": "string"}},
        "matched": {"type": "string", "enum": ["unit", "name", "phone", "plate"],
                    "description": "找到此房屋的方式 / how the unit was found"}}}}}}

PATHS["/api/search"] = {"get": {
    "summary": "按房号、姓名、电话或车牌查找房屋 / find units by unit code, name, phone or "
               "plate",
    "description": "房号与姓名为包含匹配（不区分大小写）；电话为后四位或完整号码（忽略空格、"
                   "-、+）；车牌按存储写法规范化后匹配（不区分大小写与空格）。最多 20 条。"
                   "只含在住的业主与租户。没有 people.read 的角色：姓名与电话打码，且不按姓名、"
                   "电话查找；有此权限时每次响应写一条 view 审计记录。权限 records.read。/ "
                   "Unit codes and names match as substrings (case-insensitive); phones by "
                   "their last four digits or the whole number (spaces, dashes and + ignored); "
                   "plates after normalising (case and spaces do not matter). At most 20. "
                   "Current owners and tenants only. Roles without people.read get names and "
                   "phones masked and no name or phone matching; with it each response writes "
                   "one view audit row. Permission records.read.",
    "parameters": [
        {**_q("site", {"type": "string", "maxLength": 63}, "小区标识 / site slug"),
         "required": True},
        {**_q("q", {"type": "string", "maxLength": 100},
              "房号、姓名、电话或车牌 / unit code, name, phone or plate"), "required": True}],
    "responses": {"200": _ok("UnitSearch", "matching units"),
                  "400": _err("缺少或无效的 q / site（error.field 指明）/ q or site missing or "
                              "invalid, named in error.field"),
                  "404": _err("小区不存在或不可见 / unknown or hidden site")}}}

PATHS["/desk"] = _page("客服台（查找房屋、房屋卡片、报事报修）/ the customer-service desk (HTML)")
PATHS["/desk/static/{name}"] = _assets("客服台的脚本与样式 / the desk page's scripts and styles",
                                       _p("name", "文件名 / file name"))
