"""OpenAPI: patrol reports, QR stickers and phone scans (``cloud.patrol.report_routes``,
``sticker``, ``scan_routes``) and the phone scan page."""

from __future__ import annotations

from cloud.web.openapi import PATHS, _assets, _page

_TAG = ["patrol"]
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}
_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "巡更点编号 / checkpoint code"}


def _q(name: str, text: str) -> dict[str, object]:
    return {"name": name, "in": "query", "required": False, "description": text,
            "schema": {"type": "string"}}


_REPORT_Q = (_q("from", "开始日期（小区时间，含）YYYY-MM-DD；缺省为 6 天前 / first "
                        "site-local date"),
             _q("to", "结束日期（含，至多 92 天）；缺省为今天 / last date, inclusive, 92 days "
                      "at most"),
             _q("by", "guard | route | day（缺省 day）"))


def _op(summary: str, ok: str = "200", params: tuple[dict[str, object], ...] = (),
        body: dict[str, object] | None = None) -> dict[str, object]:
    op: dict[str, object] = {
        "tags": _TAG, "summary": summary, "parameters": [_SITE, *params],
        "responses": {ok: {"description": "OK"},
                      "400": {"description": "字段错误 / the field and why"},
                      "404": {"description": "不存在 / not found"},
                      "409": {"description": "小区未配置站点密钥等 / the site has no secret, "
                                             "…"}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": body}}}
    return op


_SCAN: dict[str, object] = {
    "type": "object", "required": ["token", "phone_time"],
    "properties": {
        "token": {"type": "string", "description": "二维码中的 cyq1 令牌 / the sticker token"},
        "phone_time": {"type": "string", "description": "手机时间，ISO 8601 带时区 / the "
                                                        "phone's time with offset"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "accuracy_m": {"type": "number", "minimum": 0}},
    "description": "打卡人为登录身份，不接受 guard 字段 / the guard is the login (no guard "
                   "field)"}

PATHS.update({
    "/api/sites/{site}/patrol/report": {
        "get": _op("巡更报表：按保安、路线或日期的完成率、准时、迟到、漏检 / patrol report per "
                   "guard, route or day, with a totals row", params=_REPORT_Q)},
    "/api/sites/{site}/patrol/report.xlsx": {
        "get": _op("巡更报表 Excel（中文表头）/ the report as .xlsx", params=_REPORT_Q)},
    "/api/sites/{site}/patrol/checkpoints/{code}/sticker.svg": {
        "get": _op("巡更点二维码贴纸（SVG，可打印）/ the checkpoint's printable QR sticker",
                   params=(_CODE,))},
    "/api/sites/{site}/patrol/checkpoints/{code}/sticker": {
        "post": _op("重新生成贴纸（旧贴纸扫码将标记 old_sticker）/ reissue the sticker (the old "
                    "one is flagged old_sticker)", params=(_CODE,))},
    "/api/sites/{site}/patrol/scans": {
        "post": _op("手机扫码打卡（返回 flags）/ a phone's scan of a sticker (with its flags)",
                    "201", body=_SCAN),
        "get": _op("某日的扫码打卡（新的在前）/ the scans of a site-local day, newest first",
                   params=(_q("date", "YYYY-MM-DD，缺省今天 / default today"),))},
    "/m/patrol": _page("巡更打卡手机页（?t=<贴纸令牌>）/ the phone scan page a sticker opens"),
    "/m/patrol/static/{name}": _assets("巡更打卡页脚本与样式 / the scan page's scripts and "
                                       "styles"),
    "/patrol": _page("巡更管理页（巡更点、路线、计划、标签）/ patrol set-up: checkpoints, routes, "
                     "plans, tags"),
    "/patrol/today": _page("今日巡更（主管视图）/ today's rounds, the supervisor's view"),
    "/patrol/report": _page("巡更报表（图表与 Excel 导出）/ the patrol report: chart and xlsx"),
    "/patrol/static/{name}": _assets("巡更页脚本与样式 / the patrol pages' scripts and styles"),
})
