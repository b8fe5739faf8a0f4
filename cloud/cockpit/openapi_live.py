"""OpenAPI: the cockpit's live feed (WebSocket) and the wall screen's kiosk cookie
(docs/cockpit.md, "Live" and "Kiosk")."""

from __future__ import annotations

from cloud.web.openapi import PATHS

_TAG = ["cockpit"]

PATHS.update({
    "/api/cockpit/ws": {"get": {
        "tags": _TAG,
        "summary": "驾驶舱实时推送（WebSocket）/ the cockpit's live feed (WebSocket)",
        "description": (
            "先发送 {\"type\":\"snapshot\",\"view\":\"site\"|\"company\",\"data\":…}（与 GET 的"
            "内容相同），之后：{\"type\":\"panels\",\"site\",\"panels\"}（变化的面板，"
            "提交后 250 ms 内；每 30 秒全部面板）、{\"type\":\"tick\",\"site\",\"item\":"
            "{kind,severity,title_zh,title_en,place,ts}}（新告警、道闸抬杆、门被强行打开，立即）、{\"type\":\"company\","
            "\"data\"}（公司视图）、每 20 秒 {\"type\":\"ping\"}。服务重启时以 1012 关闭，过慢的"
            "连接以 1013 关闭，令牌吊销后以 1008 关闭：重新连接即可。/ First a snapshot (the GET "
            "body), then changed panels within 250 ms of the commit (all panels every 30 s), "
            "ticker items at once, the company view on change, and a ping every 20 s. Closed "
            "with 1012 on a service restart, 1013 when too slow, 1008 when the token is "
            "revoked: reconnect."),
        "parameters": [{"name": "site", "in": "query", "required": False,
                        "schema": {"type": "string"},
                        "description": "小区标识；不填为公司视图 / site slug; none for the "
                                       "company view"}],
        "responses": {"101": {"description": "WebSocket"},
                      "401": {"description": "未登录 / not signed in"},
                      "403": {"description": "无 cockpit.read 权限，或跨站连接 / no "
                                             "cockpit.read, or a cross-origin upgrade"},
                      "404": {"description": "小区不存在或不可见 / no such site (or not "
                                             "yours)"}}}},
    "/api/cockpit/kiosk": {
        "post": {
            "tags": _TAG,
            "summary": "大屏：把“大屏”角色的令牌换成只读 Cookie / a wall screen: turn a "
                       "cockpit token into its read-only cookie",
            "description": (
                "以 Authorization: Bearer 发送角色为 cockpit 的令牌；应答设置 cy_kiosk Cookie"
                "（HttpOnly、SameSite=Strict、Path=/、https 下 Secure、一年）。其他角色的令牌"
                "（管理员、主管）一律拒绝。/ Send a token of role cockpit as Authorization: "
                "Bearer; the answer sets the cy_kiosk cookie (HttpOnly, SameSite=Strict, "
                "Path=/, Secure on https, one year). Any other role's token is refused."),
            "responses": {"200": {"description": "{kiosk: true, token, sites, next}"},
                          "401": {"description": "令牌无效或已吊销 / invalid or revoked token"},
                          "403": {"description": "不是大屏令牌（authorization）/ not a "
                                                 "cockpit token (authorization)"}}},
        "delete": {
            "tags": _TAG,
            "summary": "清除大屏 Cookie（令牌仍有效，需吊销）/ clear the kiosk cookie (the "
                       "token stays valid: revoke it)",
            "responses": {"200": {"description": "{kiosk: false}"}}},
    },
})
