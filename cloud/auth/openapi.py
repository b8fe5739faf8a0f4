"""OpenAPI: logging in, the current actor, staff accounts, API tokens and the audit log."""

from __future__ import annotations

from typing import Any

from cloud.auth.passwords import MAX_LENGTH, MIN_LENGTH
from cloud.auth.roles import PERMISSIONS, ROLES
from cloud.web.openapi import (
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

_ROLE = {"enum": list(ROLES), "description": "角色 / role (cloud.auth.roles)"}
_SITES = {"type": ["array", "null"], "maxItems": 1000,
          "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"},
          "description": "服务的小区标识；null 为全部小区 / site slugs served; null for every "
                         "site"}
_PASSWORD = {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SCHEMAS.update({
    "Me": {"type": "object", "properties": {
        "kind": {"enum": ["user", "token"]},
        "ref": {"type": "string", "examples": ["user:1", "token:3"]},
        "name": {"type": "string"}, "username": {"type": ["string", "null"]},
        "role": {"type": "string"}, "role_label": {"type": "string"},
        "home": {"type": "string", "description": "该角色的首页 / the role's home page"},
        "sites": {"type": ["array", "null"], "items": {"type": "string"}},
        "site_names": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "可服务的小区：标识 → 名称 / the sites served, "
                                      "slug → name (every site for an all-sites login)"},
        "permissions": {"type": "array", "items": {"enum": list(PERMISSIONS)}},
        "csrf_token": {"type": ["string", "null"],
                       "description": "以 Cookie 登录时，非 GET 请求须在 X-CSRF-Token 头中带上 / "
                                      "with a session cookie, send it as X-CSRF-Token on "
                                      "POST/PUT/PATCH/DELETE"}}},
    "StaffUser": {"type": "object", "properties": {
        "id": {"type": "integer"}, "username": {"type": "string"},
        "display_name": {"type": "string"}, "role": {"type": "string"},
        "role_label": {"type": "string"},
        "sites": {"type": ["array", "null"], "items": {"type": "string"}},
        "active": {"type": "boolean"}, "locked": {"type": "boolean"},
        "locked_until": _TIME, "failed_logins": {"type": "integer"},
        "last_login_at": _TIME, "password_changed_at": _TIME,
        "created_at": _TIME, "updated_at": _TIME}},
    "StaffList": {"type": "object", "properties": {
        "staff": {"type": "array", "items": _ref("StaffUser")},
        "next_after_id": {"type": ["integer", "null"]}}},
    "ApiToken": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "prefix": {"type": "string", "description": "令牌开头几位 / the token's first characters"},
        "role": {"type": "string"},
        "sites": {"type": ["array", "null"], "items": {"type": "string"}},
        "created_by": {"type": "string"}, "created_at": _TIME, "expires_at": _TIME,
        "last_used_at": _TIME, "revoked_at": _TIME, "active": {"type": "boolean"},
        "token": {"type": "string", "description": "仅创建时返回一次 / returned once, on "
                                                   "creation only"}}},
    "ApiTokenList": {"type": "object", "properties": {
        "tokens": {"type": "array", "items": _ref("ApiToken")}}},
    "AuditEntry": {"type": "object", "properties": {
        "id": {"type": "integer"}, "at": _TIME, "actor": {"type": "string"},
        "actor_name": {"type": "string"}, "action": {"type": "string"},
        "entity": {"type": "string"}, "entity_id": {"type": ["string", "null"]},
        "site": {"type": ["string", "null"]}, "before": {"type": ["object", "null"]},
        "after": {"type": ["object", "null"]}, "detail": {"type": ["object", "null"]}}},
    "AuditPage": {"type": "object", "properties": {
        "entries": {"type": "array", "items": _ref("AuditEntry")},
        "next_before_id": {"type": ["integer", "null"],
                           "description": "作为 before_id 取下一页 / pass as before_id for the "
                                          "next page"}}},
})

_BAD = _err("字段无效（error.field 指明）/ invalid field, named in error.field")
_401 = _err("未登录或令牌无效 / not logged in, or a bad token")
_403 = _err("角色无此权限，或 CSRF 校验失败 / the role lacks the permission, or CSRF failed")
_ID = _p("id", "id")

PATHS.update({
    "/login": _page("登录页 / the login page (HTML; ?next=)", security=[]),
    "/login/static/{name}": _assets(
        "登录页与会话脚本 / the login page's and session scripts and styles", security=[]),
    "/ui/{name}": _assets(
        "控制台外壳的脚本与样式 / the console shell's script and style sheet", security=[]),
    "/ui/labels.js": {"get": {
        "summary": "代码标签表 / the label table of every stored code (zh-CN, English), "
                   "as a script for the pages", "security": [],
        "responses": {"200": {"description": "JavaScript"}}}},
    "/api/login": {"post": {
        "summary": "登录 / log in: sets the HttpOnly session cookie", "security": [],
        "requestBody": _json_body({
            "type": "object", "required": ["username", "password"],
            "additionalProperties": False, "properties": {
                "username": {"type": "string", "minLength": 1, "maxLength": 64},
                "password": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH},
                "next": {"type": "string", "description":
                         "登录后去往的本站路径；响应的 next 为核对后的结果（非本站路径为 /）/ "
                         "where to go after logging in; the response's next is the checked "
                         "value (/ unless a path on this console)"}}}),
        "responses": {"200": _ok("Me", "已登录（Set-Cookie），另含 next / logged in "
                                 "(Set-Cookie), plus next"),
                      "400": _BAD,
                      "401": _err("用户名或密码错误，或账号已暂时锁定（同一答复）/ wrong "
                                  "username or password, or the account is locked (one "
                                  "answer for all)"),
                      "403": _err("账号停用或跨站请求 / account disabled, or cross-origin"),
                      "429": _err("尝试过于频繁（Retry-After）/ too many attempts "
                                  "(Retry-After)")}}},
    "/api/logout": {"post": {
        "summary": "退出登录 / log out (ends this session)",
        "responses": {"200": {"description": "已退出 / logged out"}, "401": _401,
                      "403": _403}}},
    "/api/me": {"get": {
        "summary": "当前身份与权限 / who is asking, their permissions and CSRF token",
        "responses": {"200": _ok("Me", "当前身份 / the actor"), "401": _401}}},
    "/api/me/password": {"post": {
        "summary": "修改自己的密码 / change one's own password (other sessions end)",
        "requestBody": _json_body({
            "type": "object", "required": ["current_password", "new_password"],
            "additionalProperties": False, "properties": {
                "current_password": {"type": "string", "maxLength": MAX_LENGTH},
                "new_password": _PASSWORD}}),
        "responses": {"200": {"description": "已修改 / changed"}, "400": _BAD, "401": _401,
                      "403": _403}}},
    "/api/staff": {
        "get": {"summary": "员工账号 / staff accounts (staff.admin)",
                "parameters": [
                    _q("after_id", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                       "翻页游标 / paging cursor"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                 "default": 100}, "每页条数 / page size")],
                "responses": {"200": _ok("StaffList", "账号 / accounts"), "400": _BAD,
                              "401": _401, "403": _403}},
        "post": {"summary": "新建员工账号 / create a staff account (staff.admin)",
                 "requestBody": _json_body({
                     "type": "object", "required": ["username", "password", "role"],
                     "additionalProperties": False, "properties": {
                         "username": {"type": "string",
                                      "pattern": r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$"},
                         "password": _PASSWORD, "role": _ROLE,
                         "display_name": {"type": "string", "minLength": 1, "maxLength": 64},
                         "sites": _SITES, "active": {"type": "boolean"}}}),
                 "responses": {"201": _ok("StaffUser", "已创建 / created"), "400": _BAD,
                               "401": _401, "403": _403}}},
    "/api/staff/{id}": {
        "get": {"summary": "一个员工账号 / one staff account (staff.admin)",
                "parameters": [_ID],
                "responses": {"200": _ok("StaffUser", "账号 / the account"), "401": _401,
                              "403": _403, "404": _err("不存在 / no such account")}},
        "patch": {"summary": "修改账号：角色、小区、停用、重置密码、解锁 / update role, sites, "
                             "active, reset password, unlock (staff.admin)",
                  "parameters": [_ID],
                  "requestBody": _json_body({
                      "type": "object", "additionalProperties": False, "properties": {
                          "display_name": {"type": "string", "minLength": 1, "maxLength": 64},
                          "role": _ROLE, "sites": _SITES, "active": {"type": "boolean"},
                          "password": _PASSWORD, "unlock": {"type": "boolean"}}}),
                  "responses": {"200": _ok("StaffUser", "已修改 / updated"), "400": _BAD,
                                "401": _401, "403": _403,
                                "404": _err("不存在 / no such account")}}},
    "/api/tokens": {
        "get": {"summary": "API 令牌 / API tokens (staff.admin; the secret is never shown)",
                "parameters": [_q("revoked", {"type": "integer", "enum": [0, 1]},
                                  "1 = 包含已吊销的 / include revoked tokens")],
                "responses": {"200": _ok("ApiTokenList", "令牌 / tokens"), "400": _BAD,
                              "401": _401, "403": _403}},
        "post": {"summary": "新建 API 令牌（只显示一次）/ create an API token, shown once "
                            "(staff.admin)",
                 "requestBody": _json_body({
                     "type": "object", "required": ["name", "role"],
                     "additionalProperties": False, "properties": {
                         "name": {"type": "string", "minLength": 1, "maxLength": 100},
                         "role": _ROLE, "sites": _SITES,
                         "expires_days": {"type": "integer", "minimum": 1, "maximum": 3650}}}),
                 "responses": {"201": _ok("ApiToken", "已创建，token 字段为密钥 / created; "
                                                      "the token field is the secret"),
                               "400": _BAD, "401": _401, "403": _403}}},
    "/api/tokens/{id}": {"delete": {
        "summary": "吊销令牌 / revoke a token (staff.admin; the row stays for the audit)",
        "parameters": [_ID],
        "responses": {"200": _ok("ApiToken", "已吊销 / revoked"), "401": _401, "403": _403,
                      "404": _err("不存在 / no such token")}}},
    "/api/audit": {"get": {
        "summary": "审计日志（新的在前）/ the audit log, newest first (audit.read)",
        "parameters": [
            _q("entity", {"type": "string", "maxLength": 64},
               "对象类型，如 staff_user、work_order / entity, e.g. staff_user, work_order"),
            _q("entity_id", {"type": "string", "maxLength": 64}, "对象 id / entity id"),
            _q("actor", {"type": "string", "maxLength": 64},
               "操作者，如 user:1、token:2 / actor ref, e.g. user:1, token:2"),
            _q("action", {"type": "string", "maxLength": 32},
               "动作，如 create、update、login、login_failed / action"),
            _q("since", {"type": "string", "format": "date-time"},
               "起始（含），带时区偏移 / inclusive start with UTC offset"),
            _q("until", {"type": "string", "format": "date-time"},
               "结束（不含），带时区偏移 / exclusive end with UTC offset"),
            _q("site", {"type": "string", "maxLength": 63}, "小区标识 / site slug"),
            _q("before_id", {"type": "integer", "minimum": 0},
               "翻页游标（上一页的 next_before_id）/ cursor: the previous page's "
               "next_before_id"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
               "每页条数 / page size")],
        "responses": {"200": _ok("AuditPage", "审计记录 / entries"), "400": _BAD,
                      "401": _401, "403": _403, "404": _err("小区不存在 / unknown site")}}},
    "/api/sites/{site}/edge-token": {"post": {
        "summary": "签发边缘操作令牌（岗亭、人工抬杆、联动复位；离线可验，默认 12 小时，"
                   "已审计）/ issue an edge operator token for this staff member (booth, "
                   "manual open, linkage reset; checked offline by the edge; 12 h by default; "
                   "audited)",
        "parameters": [_p("site", "小区标识 / site slug")],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {
                "hours": {"type": "integer", "minimum": 1, "maximum": 24}}}}}},
        "responses": {"201": {"description": "令牌（Bearer，发往边缘操作端口）/ the token (send as "
                                             "Bearer to the edge's operator port)",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "properties": {
                                      "token": {"type": "string"}, "site": {"type": "string"},
                                      "sub": {"type": "string"}, "name": {"type": "string"},
                                      "role": {"type": "string"},
                                      "actions": {"type": "array",
                                                  "items": {"type": "string"}},
                                      "expires_at": _TIME}}}}},
                      "400": _BAD, "401": _401,
                      "403": _err("角色在边缘无可执行操作 / the role may do nothing at the edge"),
                      "404": _err("小区不存在、不在服务范围或无凭据 / unknown site, not served, "
                                  "or no credential")}}},
})
